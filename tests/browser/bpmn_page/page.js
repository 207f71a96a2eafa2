// Loads one BPMN document into bpmn-js and reports what a test needs: the import warnings and,
// for every external label (events, gateways, flows), three boxes in diagram coordinates, measured
// at zoom 1: the file's BPMNLabel bounds, the label element bpmn-js made of them (it keeps their
// centre and top and sizes the box to the text) and the rendered text. window.fit() then fits the
// diagram to the window for a screenshot.
/* global BpmnJS */
window.showBpmn = async function (xml, extensions) {
  if (window.viewer) {
    window.viewer.destroy();
  }
  const viewer = new BpmnJS({ container: '#canvas', moddleExtensions: extensions || {} });
  window.viewer = viewer;
  let warnings = [];
  try {
    const result = await viewer.importXML(xml);
    warnings = result.warnings.map((w) => String(w.message || w));
  } catch (error) {
    return { error: String(error.message || error), warnings: (error.warnings || []).map(String) };
  }
  viewer.get('canvas').zoom(1);
  const registry = viewer.get('elementRegistry');
  const labels = registry.filter((e) => e.type === 'label').map((e) => {
    const text = registry.getGraphics(e).querySelector('text');
    const box = text && text.textContent.trim() ? text.getBBox() : null;
    const file = e.labelTarget.di.label && e.labelTarget.di.label.bounds;
    return {
      id: e.businessObject.id,
      name: e.businessObject.name || '',
      bounds: file && { x: file.x, y: file.y, width: file.width, height: file.height },
      element: { x: e.x, y: e.y, width: e.width, height: e.height },
      text: box && { x: e.x + box.x, y: e.y + box.y, width: box.width, height: box.height },
    };
  });
  const elements = registry.filter((e) => e.type !== 'label').length;
  return { warnings, labels, elements };
};

window.fit = function () {
  window.viewer.get('canvas').zoom('fit-viewport', 'auto');
};
