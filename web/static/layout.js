// shebao-workflow: the layout on phones and tablets (style.css does the rest; pages work without it).
// - the header's menu button: on narrow screens the navigation and account links fold away;
// - every data table (table.grid) gets its column names on its cells (data-label), so that on a
//   phone each row shows as a card of "name: value" lines, and sits in a box that scrolls
//   sideways on its own when the table is wider than the screen (keyboard-reachable then).
(function () {
  var root = document.documentElement;
  root.classList.add("js");

  var toggle = document.getElementById("menu-toggle");
  if (toggle) {
    var header = toggle.closest("header");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = header.classList.toggle("menu-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && header.classList.contains("menu-open")) {
        header.classList.remove("menu-open");
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
  }

  function nameOf(table) {
    if (table.getAttribute("aria-label")) return table.getAttribute("aria-label");
    if (table.caption) return table.caption.textContent.trim();
    var node = table.closest("section, details, main") || document.body;
    var heading = node.querySelector("h1, h2, h3, summary");
    return heading ? heading.textContent.trim() : document.title;
  }

  var boxes = [];
  document.querySelectorAll("table.grid").forEach(function (table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, i) {
        if (heads[i] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", heads[i]);
      });
    });
    table.classList.add("stackable");
    var box = table.parentElement;
    if (!box.classList.contains("scroll") && !box.classList.contains("table-wrap")) {
      box = document.createElement("div");
      box.className = "table-wrap";
      table.parentNode.insertBefore(box, table);
      box.appendChild(table);
    }
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", nameOf(table));
    boxes.push(box);
  });

  function focusable() { // a box that scrolls must be reachable by the keyboard
    boxes.forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) box.setAttribute("tabindex", "0");
      else box.removeAttribute("tabindex");
    });
  }
  focusable();
  window.addEventListener("resize", focusable);
})();
