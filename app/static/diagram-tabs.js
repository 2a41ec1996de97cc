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
