/* The request page's process diagram: one tab per BPMN diagram of the request's definition version, rendered
 * with the bpmn-js NavigatedViewer (served from node_modules by the app), completed elements in green, the
 * elements the request waits at in orange, and a count badge on elements completed more than once. The tabs,
 * panels and zoom buttons come from diagram-tabs.js. Everything else on the page works without JavaScript. */
(function () {
  "use strict";

  var root = document.getElementById("process-diagram");
  if (!root || !window.RfDiagramTabs) { return; }
  var SVG_NS = "http://www.w3.org/2000/svg";
  var KIND_WORDS = {
    user_task: "waiting for a person", service_task: "waiting for the worker", incident: "incident",
    timer: "timer waiting", call_activity: "in progress"
  };

  function addTitle(gfx, text) {
    if (!gfx) { return; }
    var old = gfx.querySelector(":scope > title");
    if (old) { old.remove(); }
    var title = document.createElementNS(SVG_NS, "title");
    title.textContent = text;
    gfx.insertBefore(title, gfx.firstChild);
  }

  function decorate(entry) {
    var d = entry.diagram;
    var viewer = entry.viewer;
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    var eventBus = viewer.get("eventBus");

    Object.keys(d.completed).forEach(function (id) {
      if (!registry.get(id)) { return; }
      canvas.addMarker(id, "rf-done");
      var times = d.completed[id];
      if (times > 1) {
        overlays.add(id, "rf-count", {
          position: { top: -11, right: 11 },
          html: '<span class="rf-count" title="completed ' + times + ' times">×' + times + "</span>"
        });
      }
    });
    d.active.forEach(function (id) {
      if (!registry.get(id)) { return; }
      var kind = d.active_kinds[id];
      canvas.addMarker(id, "rf-active");
      canvas.addMarker(id, "rf-kind-" + kind);
    });
    registry.getAll().forEach(function (element) {
      var id = element.id;
      if (element.labelTarget || !d.names[id]) { return; }
      var parts = [d.names[id]];
      if (d.completed[id]) { parts.push(d.completed[id] > 1 ? "completed " + d.completed[id] + " times" : "completed"); }
      if (d.notes[id]) { parts.push(d.notes[id]); }
      else if (d.active_kinds[id]) { parts.push(KIND_WORDS[d.active_kinds[id]] || "active"); }
      if (!d.completed[id] && !d.active_kinds[id]) { parts.push("not reached"); }
      addTitle(registry.getGraphics(element), parts.join(" · "));
      if (d.calls[id] && byProcess(d.calls[id])) { canvas.addMarker(id, "rf-link"); }
    });
    eventBus.on("element.click", function (event) {
      var called = d.calls[event.element.id];
      var target = called && byProcess(called);
      if (target) { tabs.select(target, true); }
    });
  }

  function byProcess(processId) {
    for (var i = 0; i < tabs.entries.length; i++) {
      if (tabs.entries[i].diagram.process_id === processId) { return tabs.entries[i]; }
    }
    return null;
  }

  var MIN_SCALE = 0.85;  // below this the labels (12 px at full size) get hard to read: show where the request is

  function focusBox(entry, registry) {
    var d = entry.diagram;
    var ids = d.active.length ? d.active : Object.keys(d.completed);
    var box = null;
    ids.forEach(function (id) {
      var element = registry.get(id);
      if (!element || element.waypoints) { return; }
      var x2 = element.x + element.width, y2 = element.y + element.height;
      box = box ? { x: Math.min(box.x, element.x), y: Math.min(box.y, element.y),
                    x2: Math.max(box.x2, x2), y2: Math.max(box.y2, y2) }
                : { x: element.x, y: element.y, x2: x2, y2: y2 };
    });
    return box;
  }

  function fit(entry, whole) {
    window.RfFitDiagram(entry.viewer.get("canvas"), entry.canvasEl, {
      whole: whole, grow: true, minScale: MIN_SCALE,
      focus: focusBox(entry, entry.viewer.get("elementRegistry"))
    });
  }

  function tab(d) {
    var incident = d.active.some(function (id) { return d.active_kinds[id] === "incident"; });
    var hint = d.active.length ? "active" : (d.touched ? "" : "not reached");
    if (d.main) { hint = hint ? "top level, " + hint : "top level"; }
    return {
      text: d.name, hint: hint,
      dot: d.active.length ? (incident ? "incident" : "active") : (d.touched ? "done" : ""),
      className: [d.active.length ? "has-active" : "", d.touched ? "" : "untouched"].filter(Boolean).join(" ")
    };
  }

  var tabs = window.RfDiagramTabs(root, {
    prefix: "diagram", tab: tab, decorate: decorate, fit: fit,
    error: function (message) { return "This diagram could not be drawn (" + message + "). The path is listed below."; }
  });

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { tabs.fit(tabs.current()); }, 150);
  });

  if (!tabs.open("The diagram viewer did not load; the path taken is listed below.")) { return; }
  fetch(root.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(function (diagrams) {
      if (!diagrams.length) { tabs.status("This request's process version has no diagrams."); return; }
      tabs.build(diagrams);
    })
    .catch(function (err) {
      tabs.status("The diagram could not be loaded (" + err.message + "); the path taken is listed below.");
    });
}());
