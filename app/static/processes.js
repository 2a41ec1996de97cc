/* The process owner's diagrams: one tab per BPMN file, drawn with the bpmn-js NavigatedViewer (served from
 * node_modules by the app). On a version page ("counts") each element where running instances wait gets a badge
 * with their number; on the upload page ("flagged") elements with findings are outlined (red: error, amber:
 * warning) and clicking a row of the findings table shows its element. The data sits in #rf-diagrams-data; the
 * tabs, panels and zoom buttons come from diagram-tabs.js. Everything on these pages also works without JavaScript. */
(function () {
  "use strict";

  var root = document.querySelector(".rf-diagrams");
  var dataEl = document.getElementById("rf-diagrams-data");
  if (!root || !dataEl || !window.RfDiagramTabs) { return; }
  var mode = root.getAttribute("data-mode");

  function marks(d) { return (mode === "flagged" ? d.flagged : d.counts) || {}; }

  function hours(value) {
    if (value === null || value === undefined) { return "—"; }
    return value < 48 ? value.toFixed(1) + " h" : (value / 24).toFixed(1) + " d";
  }

  // How the version has run: times passed per element, loops, flows taken and waiting times (insights page).
  function decorateInsights(d, canvas, registry, overlays) {
    Object.keys(d.counts || {}).forEach(function (id) {
      if (!registry.get(id)) { return; }
      var wait = (d.waits || {})[id];
      var title = d.counts[id] + " passed" + (wait ? "; waited " + hours(wait.mean_hours) + " on average, " +
                                              hours(wait.p90_hours) + " at p90" : "");
      canvas.addMarker(id, "rf-passed");
      var badge = document.createElement("span");
      badge.className = "rf-wait";
      badge.title = title;
      badge.textContent = String(d.counts[id]);
      overlays.add(id, "rf-wait", { position: { top: -12, right: 12 }, html: badge });
      if (wait) {
        var gfx = registry.getGraphics(id);
        var tip = document.createElementNS("http://www.w3.org/2000/svg", "title");
        tip.textContent = (d.names[id] || id) + ": " + title;
        if (gfx) { gfx.appendChild(tip); }
      }
    });
    Object.keys(d.loops || {}).forEach(function (id) {
      if (!registry.get(id)) { return; }
      var loop = document.createElement("span");
      loop.className = "rf-loop";
      loop.title = d.loops[id] + " time(s) work came back here";
      loop.textContent = "↻ " + d.loops[id];
      overlays.add(id, "rf-loop", { position: { bottom: 6, left: -10 }, html: loop });
    });
    Object.keys(d.flows || {}).forEach(function (id) {
      var flow = registry.get(id);
      if (!flow || !flow.waypoints) { return; }
      canvas.addMarker(id, "rf-taken");
      var count = document.createElement("span");
      count.className = "rf-flow-count";
      count.title = d.flows[id] + " time(s) taken";
      count.textContent = String(d.flows[id]);
      var a = flow.waypoints[0], b = flow.waypoints[1];
      var mid = { x: (a.x + b.x) / 2 - flow.x, y: (a.y + b.y) / 2 - flow.y };
      overlays.add(id, "rf-flow-count", { position: { left: mid.x - 8, top: mid.y - 18 }, html: count });
    });
  }

  function decorate(entry) {
    var d = entry.diagram;
    var viewer = entry.viewer;
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    if (mode === "insights") {
      decorateInsights(d, canvas, registry, overlays);
    } else if (mode === "counts") {
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

  function fit(entry, whole) {
    window.RfFitDiagram(entry.viewer.get("canvas"), entry.canvasEl, { whole: whole, grow: true });
  }

  function tab(d) {
    var flagged = mode === "flagged" ? d.flagged || {} : {};
    var bad = Object.keys(flagged).some(function (k) { return flagged[k] === "error"; });
    return {
      text: d.file, hint: d.main ? "top level" : "", attrs: { "data-file": d.file },
      dot: Object.keys(marks(d)).length ? (bad ? "incident" : "active") : ""
    };
  }

  var tabs = window.RfDiagramTabs(root, {
    prefix: "rf", tab: tab, decorate: decorate, fit: fit,
    first: function (entries) {
      return entries.filter(function (e) { return Object.keys(marks(e.diagram)).length; })[0];
    },
    error: function (message) { return "This diagram could not be drawn: " + message; }
  });

  function show(file, elementId) {
    var entry = tabs.entries.filter(function (e) { return e.diagram.file === file; })[0];
    if (!entry) { return; }
    tabs.select(entry, false).then(function () {
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

  document.querySelectorAll("tr.finding[data-element]").forEach(function (row) {
    if (!row.getAttribute("data-element")) { return; }
    row.classList.add("clickable");
    row.tabIndex = 0;
    var go = function () { show(row.getAttribute("data-file"), row.getAttribute("data-element")); };
    row.addEventListener("click", go);
    row.addEventListener("keydown", function (event) { if (event.key === "Enter") { go(); } });
  });

  // A version page stays live: every POLL_MS (while the page is visible) the counts are fetched again and the
  // badges, the running count and the table follow.
  var POLL_MS = 15000;
  var live = document.getElementById("live-status");

  function undecorate(entry) {
    var canvas = entry.viewer.get("canvas");
    entry.viewer.get("overlays").remove({ type: "rf-wait" });
    entry.viewer.get("elementRegistry").getAll().forEach(function (element) {
      canvas.removeMarker(element.id, "rf-waiting");
      canvas.removeMarker(element.id, "rf-waiting-incident");
    });
  }

  function cell(text, code) {
    var td = document.createElement("td");
    if (code) {
      var c = document.createElement("code");
      c.textContent = text;
      td.appendChild(c);
    } else {
      td.textContent = text;
    }
    return td;
  }

  function refreshTable(rows) {
    var table = document.querySelector("table.waiting");
    var empty = document.getElementById("nothing-waiting");
    if (!table) { return; }
    var body = table.querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (w) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-element", w.element_id);
      tr.appendChild(cell(w.file));
      tr.appendChild(cell(w.element_id, true));
      tr.appendChild(cell(w.name));
      var n = cell(String(w.waiting));
      n.className = "num";
      if (w.incidents) {
        var pill = document.createElement("span");
        pill.className = "pill incident";
        pill.textContent = w.incidents + (w.incidents === 1 ? " incident" : " incidents");
        n.appendChild(document.createTextNode(" "));
        n.appendChild(pill);
      }
      tr.appendChild(n);
      body.appendChild(tr);
    });
    table.hidden = !rows.length;
    if (empty) { empty.hidden = !!rows.length; }
  }

  function refresh(data) {
    data.diagrams.forEach(function (fresh) {
      tabs.entries.forEach(function (entry) {
        if (entry.diagram.file !== fresh.file) { return; }
        entry.diagram.counts = fresh.counts;
        entry.diagram.incidents = fresh.incidents;
        var dot = entry.tab.querySelector(".dot");
        if (dot) { dot.hidden = !Object.keys(fresh.counts).length; }
        if (entry.ready) { undecorate(entry); decorate(entry); }
      });
    });
    var running = document.getElementById("running-count");
    if (running) { running.textContent = String(data.running); }
    refreshTable(data.waiting);
    live.textContent = "Live: counted again at " + new Date().toLocaleTimeString() + "; refreshed every " +
                       POLL_MS / 1000 + " s.";
  }

  function poll() {
    if (document.visibilityState !== "visible") { return; }
    fetch(live.getAttribute("data-poll"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(refresh)
      .catch(function (err) { live.textContent = "The counts could not be refreshed (" + err.message + ")."; });
  }

  /* A file without diagram interchange (no shapes, only the process) is laid out here with bpmn-auto-layout, an ES
   * module loaded only when needed; when that fails the viewer says the diagram could not be drawn. */
  function laidOut(list) {
    var bare = list.filter(function (d) { return d.layout; });
    if (!bare.length) { return Promise.resolve(); }
    return import(root.getAttribute("data-auto-layout")).then(function (module) {
      return Promise.all(bare.map(function (d) {
        return module.layoutProcess(d.xml).then(function (xml) { d.xml = xml; d.laidOut = true; })
          .catch(function () { return null; });
      }));
    }).catch(function () { return null; });
  }

  var diagrams = [];
  try { diagrams = JSON.parse(dataEl.textContent || "[]"); } catch (err) { diagrams = []; }
  if (!diagrams.length) { return; }
  if (!tabs.open("The diagram viewer did not load.")) { return; }
  laidOut(diagrams).then(function () { tabs.build(diagrams); });
  if (mode === "counts" && live && live.getAttribute("data-poll")) {
    live.textContent = "Live: refreshed every " + POLL_MS / 1000 + " s.";
    window.setInterval(poll, POLL_MS);
    window.RfRefreshCounts = poll;  // lets a person (or a test) ask for fresh counts at once
  }
}());
