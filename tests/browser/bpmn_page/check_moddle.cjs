// Parses BPMN files with bpmn-moddle and the Camunda 7 (camunda-bpmn-moddle), Camunda Modeler
// (modeler-moddle) and shebao-workflow descriptors, and fails on anything they do not describe:
// import warnings, attributes no descriptor declares, elements of an unknown namespace.
// Usage: node check_moddle.cjs SHEBAO_DESCRIPTOR.json FILE.bpmn...
// Prints one JSON object {file: [problems]} and exits 1 when a file has a problem.
'use strict';
const fs = require('fs');
const { BpmnModdle } = require('bpmn-moddle');
const camunda = require('camunda-bpmn-moddle/resources/camunda.json');
const modeler = require('modeler-moddle/resources/modeler.json');

function walk(element, seen, problems) {
  if (!element || typeof element !== 'object' || seen.has(element)) {
    return;
  }
  seen.add(element);
  if (element.$type) {
    const descriptor = element.$descriptor || {};
    if (descriptor.isGeneric) {
      problems.push(`unknown element <${element.$type}>`);
    }
    for (const name of Object.keys(element.$attrs || {})) {
      // namespace declarations and xsi:type (which picks the type, e.g. bpmn:tFormalExpression)
      // are XML's own; anything else no descriptor declares is unknown
      if (!name.startsWith('xmlns') && name !== 'xsi:type') {
        problems.push(`unknown attribute ${name} on <${element.$type} id="${element.id || ''}">`);
      }
    }
  }
  for (const [key, value] of Object.entries(element)) {
    if (key.startsWith('$') || key === 'di') {
      continue;
    }
    const children = Array.isArray(value) ? value : [value];
    for (const child of children) {
      if (child && typeof child === 'object' && child.$type && child.$parent === element) {
        walk(child, seen, problems);
      }
    }
  }
}

async function main() {
  const [descriptorPath, ...files] = process.argv.slice(2);
  const shebao = JSON.parse(fs.readFileSync(descriptorPath, 'utf8'));
  const report = {};
  let failed = false;
  for (const file of files) {
    const moddle = new BpmnModdle({ camunda, modeler, shebao });
    const problems = [];
    try {
      const { rootElement, warnings } = await moddle.fromXML(fs.readFileSync(file, 'utf8'));
      for (const warning of warnings) {
        problems.push(`warning: ${warning.message}`);
      }
      walk(rootElement, new Set(), problems);
    } catch (error) {
      problems.push(`error: ${error.message}`);
    }
    report[file] = problems;
    failed = failed || problems.length > 0;
  }
  console.log(JSON.stringify(report, null, 2));
  process.exit(failed ? 1 : 0);
}

main();
