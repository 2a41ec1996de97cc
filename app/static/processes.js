/* The process owner's diagrams: one tab per BPMN file, drawn with the bpmn-js NavigatedViewer (served from
 * node_modules by the app). On a version page ("counts") each element where running instances wait gets a badge
 * with their number; on the upload page ("flagged") elements with findings are outlined (red: error, amber:
 * warning) and clicking a row of the findings table shows its element. The data sits in #rf-diagrams-data.
 * Everything on these pages also works without JavaScript. */
(function () {
  "use strict";

  var root = document.querySelector(".rf-diagrams");
  var dataEl = document.getElementById("rf-diagrams-data");
  if (!root || !dataEl) { return; }
  var mode = root.getAttribute("data-mode");
  var tabList = root.querySelector(".diagram-tabs");
  var panels = root.querySelector(".diagram-panels");
  var entries = [];
  var current = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function status(message) {
    panels.textContent = "";
    panels.appendChild(el("p", { "class": "diagram-status muted" }, message));
  }

  function decorate(entry) {
    var d = entry.diagram;
    var viewer = entry.viewer;
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    if (mode === "counts") {
      Object.keys(d.counts || {}).forEach(function (id) {
        if (!registry.get(id)) { return; }
        var n = d.counts[id];
        var incidents = (d.incidents || {})[id] || 0;
        canvas.addMarker(id, incidents ? "rf-waiting-incident" : "rf-waiting");
        overlays.add(id, "rf-wait", {
          position: { top: -12, right: 12 },
          html: '<span class="rf-wait' + (incidents ? " incident" : "") + '" title="' + n +
                " running instance(s) waiting here" + (incidents ? ", " + incidents + " with an incident" : "") +
                '">' + n + "</span>"
        });
      });
    } else {
      Object.keys(d.flagged || {}).forEach(function (id) {
        if (!registry.get(id)) { return; }
        canvas.addMarker(id, "rf-flag-" + d.flagged[id]);
      });
    }
  }

  function fit(entry) {
    if (!entry || !entry.ready) { return; }
    var canvas = entry.viewer.get("canvas");
    canvas.resized();
    canvas.zoom("fit-viewport", "auto");
  }

  function render(entry) {
    if (entry.viewer) { return Promise.resolve(); }
    entry.viewer = new window.BpmnJS({ container: entry.canvasEl });
    return entry.viewer.importXML(entry.diagram.xml).then(function () {
      entry.ready = true;
      decorate(entry);
      fit(entry);
    }).catch(function (err) {
      entry.canvasEl.textContent = "";
      entry.canvasEl.appendChild(el("p", { "class": "diagram-status error" },
        "This diagram could not be drawn: " + (err && err.message ? err.message : err)));
    });
  }

  function select(entry) {
    entries.forEach(function (other) {
      var on = other === entry;
      other.tab.setAttribute("aria-selected", on ? "true" : "false");
      other.tab.tabIndex = on ? 0 : -1;
      other.panel.hidden = !on;
    });
    current = entry;
    return render(entry).then(function () { fit(entry); });
  }

  function show(file, elementId) {
    var entry = entries.filter(function (e) { return e.diagram.file === file; })[0];
    if (!entry) { return; }
    select(entry).then(function () {
      if (!entry.ready || !elementId) { return; }
      var registry = entry.viewer.get("elementRegistry");
      var element = registry.get(elementId);
      if (!element) { return; }
      var canvas = entry.viewer.get("canvas");
      canvas.scrollToElement(element);
      canvas.addMarker(elementId, "rf-focus");
      setTimeout(function () { canvas.removeMarker(elementId, "rf-focus"); }, 2000);
      root.scrollIntoView({ behavior: "smooth", block: "nearest" });
    });
  }

  function build(diagrams) {
    panels.textContent = "";
    diagrams.forEach(function (d, i) {
      var tab = el("button", { type: "button", role: "tab", id: "rf-tab-" + i, "aria-controls": "rf-panel-" + i,
                               "class": "diagram-tab", "data-file": d.file });
      var marks = mode === "counts" ? Object.keys(d.counts || {}).length : Object.keys(d.flagged || {}).length;
      if (marks) {
        var bad = mode === "flagged" && Object.keys(d.flagged).some(function (k) { return d.flagged[k] === "error"; });
        tab.appendChild(el("span", { "class": "dot " + (mode === "counts" ? "active" : (bad ? "incident" : "active")),
                                     "aria-hidden": "true" }));
      }
      tab.appendChild(document.createTextNode(d.file));
      if (d.main) { tab.appendChild(el("span", { "class": "hint" }, "top level")); }
      var panel = el("div", { role: "tabpanel", id: "rf-panel-" + i, "aria-labelledby": "rf-tab-" + i,
                              "class": "diagram-panel" });
      var canvasEl = el("div", { "class": "diagram-canvas" });
      panel.appendChild(canvasEl);
      panel.hidden = true;
      tabList.appendChild(tab);
      panels.appendChild(panel);
      var entry = { diagram: d, tab: tab, panel: panel, canvasEl: canvasEl, viewer: null, ready: false };
      tab.addEventListener("click", function () { select(entry); });
      entries.push(entry);
    });
    var first = entries.filter(function (e) {
      return Object.keys((mode === "counts" ? e.diagram.counts : e.diagram.flagged) || {}).length;
    })[0] || entries[0];
    if (first) { select(first); }
  }

  root.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!current || !current.ready) { return; }
      var how = button.getAttribute("data-zoom");
      if (how === "fit") { fit(current); return; }
      current.viewer.get("zoomScroll").stepZoom(how === "in" ? 1 : -1);
    });
  });

  document.querySelectorAll("tr.finding[data-element]").forEach(function (row) {
    if (!row.getAttribute("data-element")) { return; }
    row.classList.add("clickable");
    row.tabIndex = 0;
    var go = function () { show(row.getAttribute("data-file"), row.getAttribute("data-element")); };
    row.addEventListener("click", go);
    row.addEventListener("keydown", function (event) { if (event.key === "Enter") { go(); } });
  });

  var diagrams = [];
  try { diagrams = JSON.parse(dataEl.textContent || "[]"); } catch (err) { diagrams = []; }
  if (!diagrams.length) { return; }
  root.hidden = false;
  if (typeof window.BpmnJS !== "function") { status("The diagram viewer did not load."); return; }
  build(diagrams);
}());
