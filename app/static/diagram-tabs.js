/* Tabs of BPMN diagrams drawn with the bpmn-js NavigatedViewer, shared by request.js and processes.js: one tab
 * and panel per diagram, each drawn when first shown, arrow/Home/End keys between the tabs and the [data-zoom]
 * buttons. The page passes its hooks: tab(d) -> {text, dot, hint, className, attrs}, decorate(entry),
 * fit(entry, whole), first(entries) and error(message). */
(function () {
  "use strict";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function clamp(value, low, high) { return Math.max(low, Math.min(high, value)); }

  /* Fits a diagram so its labels stay readable: the whole diagram when it fits at `minScale` or more, else the part
   * around `focus` ({x, y, x2, y2} or null: the start) at `minScale`; the canvas takes the diagram's height within
   * limits. `inset` keeps that many pixels free on the left (the modeler's palette). Returns the scale used. */
  window.RfFitDiagram = function (canvas, container, options) {
    var opts = options || {};
    var inset = opts.inset || 0, margin = 24, minScale = opts.minScale || 0.8;
    canvas.resized();
    var inner = canvas.viewbox().inner;
    var width = container.clientWidth;
    if (!inner || !(inner.width > 0) || !(width > inset)) { canvas.zoom("fit-viewport", "auto"); return 1; }
    var room = width - inset;
    var fitScale = room / (inner.width + 2 * margin);
    var scale = opts.whole ? fitScale : clamp(fitScale, minScale, 1);
    var height = container.clientHeight;
    if (opts.grow) {  // the canvas takes the diagram's proportions at that scale, within limits
      height = Math.round(clamp((inner.height + 2 * margin) * scale, 260,
                                Math.max(260, Math.min(window.innerHeight * 0.7, 620))));
      if (Math.abs(container.clientHeight - height) > 2) {
        container.style.height = height + "px";
        canvas.resized();
      }
    }
    var box = { x: inner.x, y: inner.y, x2: inner.x + inner.width, y2: inner.y + inner.height };
    if (scale <= fitScale + 0.001) {  // the whole diagram, centred, with a margin
      scale = Math.min(fitScale, height / (inner.height + 2 * margin));
    } else if (opts.focus) {  // too wide to read whole: a readable scale around what matters
      box = opts.focus;
    } else {
      box = { x: inner.x, y: box.y, x2: inner.x + room / scale - 2 * margin, y2: box.y2 };
    }
    var viewWidth = width / scale, viewHeight = height / scale, left = inset / scale;
    var roomWidth = room / scale;
    var cx = (box.x + box.x2) / 2, cy = (box.y + box.y2) / 2;
    var x = roomWidth >= inner.width + 2 * margin ? inner.x + inner.width / 2 - roomWidth / 2
      : clamp(cx - roomWidth / 2, inner.x - margin, inner.x + inner.width + margin - roomWidth);
    var y = viewHeight >= inner.height + 2 * margin ? inner.y + inner.height / 2 - viewHeight / 2
      : clamp(cy - viewHeight / 2, inner.y - margin, inner.y + inner.height + margin - viewHeight);
    canvas.viewbox({ x: x - left, y: y, width: viewWidth, height: viewHeight });
    return scale;
  };

  window.RfDiagramTabs = function (root, options) {
    var tabList = root.querySelector(".diagram-tabs");
    var panels = root.querySelector(".diagram-panels");
    var prefix = options.prefix;
    var entries = [];   // {diagram, tab, panel, canvasEl, viewer, ready}
    var current = null;

    function status(message) {
      panels.textContent = "";
      panels.appendChild(el("p", { "class": "diagram-status muted" }, message));
    }

    function fit(entry, whole) {
      if (entry && entry.viewer && entry.ready) { options.fit(entry, whole); }
    }

    function render(entry) {
      if (entry.viewer) { return Promise.resolve(); }
      entry.viewer = new window.BpmnJS({ container: entry.canvasEl });
      return entry.viewer.importXML(entry.diagram.xml).then(function () {
        entry.ready = true;
        options.decorate(entry);
        fit(entry);
      }).catch(function (err) {
        entry.canvasEl.textContent = "";
        entry.canvasEl.appendChild(el("p", { "class": "diagram-status error" },
          options.error(err && err.message ? err.message : err)));
      });
    }

    function select(entry, focus) {
      entries.forEach(function (other) {
        var on = other === entry;
        other.tab.setAttribute("aria-selected", on ? "true" : "false");
        other.tab.tabIndex = on ? 0 : -1;
        other.panel.hidden = !on;
      });
      current = entry;
      if (focus) { entry.tab.focus(); }
      return render(entry).then(function () { fit(entry); });
    }

    function build(diagrams) {
      panels.textContent = "";
      diagrams.forEach(function (d, i) {
        var label = options.tab(d);
        var tab = el("button", {
          type: "button", role: "tab", id: prefix + "-tab-" + i, "aria-controls": prefix + "-panel-" + i,
          "class": "diagram-tab" + (label.className ? " " + label.className : "")
        });
        Object.keys(label.attrs || {}).forEach(function (key) { tab.setAttribute(key, label.attrs[key]); });
        if (label.dot) { tab.appendChild(el("span", { "class": "dot " + label.dot, "aria-hidden": "true" })); }
        tab.appendChild(document.createTextNode(label.text));
        if (label.hint) { tab.appendChild(el("span", { "class": "hint" }, label.hint)); }
        var panel = el("div", { role: "tabpanel", id: prefix + "-panel-" + i, "aria-labelledby": prefix + "-tab-" + i,
                                "class": "diagram-panel" });
        var canvasEl = el("div", { "class": "diagram-canvas" });
        panel.appendChild(canvasEl);
        panel.hidden = true;
        tabList.appendChild(tab);
        panels.appendChild(panel);
        var entry = { diagram: d, tab: tab, panel: panel, canvasEl: canvasEl, viewer: null, ready: false };
        tab.addEventListener("click", function () { select(entry, false); });
        entries.push(entry);
      });
      var first = (options.first && options.first(entries)) || entries[0];
      if (first) { select(first, false); }
    }

    tabList.addEventListener("keydown", function (event) {
      if (!entries.length) { return; }
      var at = entries.indexOf(current);
      var next = null;
      if (event.key === "ArrowRight") { next = entries[(at + 1) % entries.length]; }
      else if (event.key === "ArrowLeft") { next = entries[(at - 1 + entries.length) % entries.length]; }
      else if (event.key === "Home") { next = entries[0]; }
      else if (event.key === "End") { next = entries[entries.length - 1]; }
      if (next) { event.preventDefault(); select(next, true); }
    });

    root.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        if (!current || !current.ready) { return; }
        var how = button.getAttribute("data-zoom");
        if (how === "fit") { fit(current, true); return; }
        current.viewer.get("zoomScroll").stepZoom(how === "in" ? 1 : -1);
      });
    });

    return {
      entries: entries,
      current: function () { return current; },
      status: status,
      build: build,
      select: select,
      fit: fit,
      // Shows the frame; false, with `missing` in it, when the bpmn-js viewer did not load.
      open: function (missing) {
        root.hidden = false;
        if (typeof window.BpmnJS === "function") { return true; }
        status(missing);
        return false;
      }
    };
  };
}());
