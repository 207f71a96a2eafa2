// shebao-workflow: a click on a state of a live process diagram lists that state's instances.
document.querySelectorAll(".diagram.clickable[data-state-url]").forEach(function (box) {
  var template = box.getAttribute("data-state-url");
  box.querySelectorAll('g.node[id^="state_"]').forEach(function (node) {
    if (node.closest("a")) return; // the live diagram links its states itself
    var state = node.id.slice("state_".length);
    node.addEventListener("click", function () {
      window.location.href = template.replace("__STATE__", encodeURIComponent(state));
    });
  });
});

// Zoom and pan of a diagram (its SVG's viewBox): the +/-/fit buttons, the wheel, a drag.
document.querySelectorAll(".diagram.zoomable").forEach(function (box) {
  var svg = box.querySelector("svg");
  if (!svg || !svg.viewBox || !svg.viewBox.baseVal) return;
  var base = svg.viewBox.baseVal, whole = [base.x, base.y, base.width, base.height];
  // The first view is the whole picture, as wide as the page (every state in sight and
  // clickable); the buttons, the wheel and a drag move the viewBox from there.
  var width = box.clientWidth || whole[2];
  var home = whole.slice();
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.style.height = Math.round(whole[3] * width / whole[2]) + "px";
  var view = home.slice();
  function show() {
    svg.setAttribute("viewBox", view.map(function (n) { return n.toFixed(2); }).join(" "));
    box.setAttribute("data-zoom", (whole[2] / view[2]).toFixed(2));
  }
  function unitsPerPixel() {
    var r = svg.getBoundingClientRect();
    return Math.max(view[2] / (r.width || 1), view[3] / (r.height || 1));
  }
  function zoom(factor, cx, cy) { // cx, cy: the point that stays put, in viewBox units
    var w = Math.min(Math.max(view[2] / factor, whole[2] / 40), whole[2] * 2);
    var f = view[2] / w;
    if (cx === undefined) { cx = view[0] + view[2] / 2; cy = view[1] + view[3] / 2; }
    view = [cx - (cx - view[0]) / f, cy - (cy - view[1]) / f, w, view[3] / f];
    show();
  }
  function pointAt(event) {
    var r = svg.getBoundingClientRect(), u = unitsPerPixel();
    var x0 = view[0] + view[2] / 2 - (r.width / 2) * u, y0 = view[1] + view[3] / 2 - (r.height / 2) * u;
    return [x0 + (event.clientX - r.left) * u, y0 + (event.clientY - r.top) * u];
  }
  var controls = document.querySelector('[data-zoom-for="' + box.id + '"]');
  if (controls) {
    controls.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-zoom]");
      if (!button) return;
      var how = button.getAttribute("data-zoom");
      if (how === "in") zoom(1.25);
      else if (how === "out") zoom(0.8);
      else { view = home.slice(); show(); }
    });
  }
  svg.addEventListener("wheel", function (event) {
    event.preventDefault();
    var p = pointAt(event);
    zoom(event.deltaY < 0 ? 1.15 : 1 / 1.15, p[0], p[1]);
  }, { passive: false });
  var drag = null;
  svg.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    drag = { x: event.clientX, y: event.clientY, view: view.slice(), moved: false, id: event.pointerId };
  });
  svg.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 5) return;
    if (!drag.moved) { drag.moved = true; svg.setPointerCapture(drag.id); box.classList.add("dragging"); }
    var u = unitsPerPixel();
    view = [drag.view[0] - dx * u, drag.view[1] - dy * u, view[2], view[3]];
    show();
  });
  function end() {
    if (drag && drag.moved) {
      box.classList.remove("dragging");
      box.setAttribute("data-dragged", "1"); // the click that ends a drag opens nothing
      setTimeout(function () { box.removeAttribute("data-dragged"); }, 0);
    }
    drag = null;
  }
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", end);
  box.addEventListener("click", function (event) {
    if (box.getAttribute("data-dragged")) { event.preventDefault(); event.stopPropagation(); }
  }, true);
  show();
});

// The inbox's "select all" box ticks every task of the page for the bulk form.
document.querySelectorAll("#select-all").forEach(function (all) {
  all.addEventListener("change", function () {
    document.querySelectorAll('#task-list input[name="task_id"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });
});

// A language link leaves the page: a form with typed values not yet sent (or given back by the
// server after a refusal or for a confirmation, ``data-unsent``) would be lost, so ask first.
(function () {
  var langs = document.querySelector(".langs[data-leave-text]");
  if (!langs) return;
  // The option a drop-down shows untouched (what a form reset gives back): the last one marked
  // ``selected``, else its first enabled option (-1 for a list box, which then shows none).
  function defaultIndex(select) {
    var options = Array.prototype.slice.call(select.options), marked = -1;
    options.forEach(function (o, i) { if (o.defaultSelected) marked = i; });
    if (marked !== -1 || select.size > 1) return marked;
    return options.findIndex(function (o) {
      return !o.disabled && !(o.parentNode.tagName === "OPTGROUP" && o.parentNode.disabled);
    });
  }
  function changed(field) {
    if (field.disabled || field.type === "hidden" || field.type === "submit" || field.type === "button") return false;
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT" && !field.multiple) return field.selectedIndex !== defaultIndex(field);
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return "defaultValue" in field && field.value !== field.defaultValue;
  }
  function typed() {
    return Array.prototype.some.call(document.querySelectorAll("main form"), function (form) {
      if (form.method !== "post") return false; // a filter bar's values are in its URL
      return form.hasAttribute("data-unsent") || Array.prototype.some.call(form.elements, changed);
    });
  }
  langs.addEventListener("click", function (event) {
    var link = event.target.closest("a");
    if (!link || link.getAttribute("aria-current") || !typed()) return;
    if (!window.confirm(langs.getAttribute("data-leave-text"))) event.preventDefault();
  });
})();
