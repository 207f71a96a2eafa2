// shebao-workflow: a click on a state of a live process diagram lists that state's instances.
document.querySelectorAll(".diagram.clickable[data-state-url]").forEach(function (box) {
  var template = box.getAttribute("data-state-url");
  box.querySelectorAll('g.node[id^="state_"]').forEach(function (node) {
    var state = node.id.slice("state_".length);
    node.addEventListener("click", function () {
      window.location.href = template.replace("__STATE__", encodeURIComponent(state));
    });
  });
});
