// A table (or preformatted text) that is wider than a small screen scrolls inside itself (style.css, reports.css); one
// that holds no link or button could then not be scrolled from the keyboard. Each such box becomes a tab stop
// (tabindex 0) while it scrolls, so the arrow keys move it; it is no tab stop again once the screen is wide enough.
(function () {
  "use strict";
  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";
  function update() {
    document.querySelectorAll("main table, main .table-scroll, main pre").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      var own = box.getAttribute("data-scroll-stop") === "1";
      if (scrolls && !own && !box.hasAttribute("tabindex") && !box.querySelector(FOCUSABLE)) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("data-scroll-stop", "1");
      } else if (!scrolls && own) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-stop");
      }
    });
  }
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(update, 150);
  });
  update();
})();
