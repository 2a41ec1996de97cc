/* The embedded modeler: every BPMN file of the version opens in its own tab in the bpmn-js Modeler (the page's
 * bundle, built from web/modeler), with a properties panel on the right for what this engine reads (forms, roles,
 * operators, conditions, timers; a form added in the page's form editor is offered at once) and live lint with our
 * deploy rules. On "Check" or "Deploy" each modeler's saveXML() goes back into the file's textarea and
 * the form posts as usual (CSRF token included), so the server runs the same checks as an upload. Without
 * JavaScript the textareas themselves are the editor. Elements with findings from the last check are outlined. A file
 * without diagram interchange is laid out automatically (bpmn-auto-layout, in the bundle) before it opens. */
(function () {
  "use strict";

  var form = document.getElementById("modeler-form");
  if (!form || !window.RfModeler) { return; }
  var frame = form.querySelector(".rf-modeler");
  var tabList = frame.querySelector(".diagram-tabs");
  var flagged = {};
  try { flagged = JSON.parse(document.getElementById("rf-flagged-data").textContent || "{}"); } catch (err) { flagged = {}; }
  var panelData = { forms: [], uiSchemas: [], roles: [], operators: {} };
  try { panelData = JSON.parse(document.getElementById("rf-modeler-data").textContent || "{}"); } catch (err) { /* keep */ }
  var entries = [];

  // forms of the page's form editor that the version does not have yet (new ones) are offered in the panel at once
  function offerForm(name) {
    var list = /\.uischema\.json$/.test(name) ? panelData.uiSchemas : /\.schema\.json$/.test(name) ? panelData.forms : null;
    if (list && list.indexOf(name) < 0) { list.push(name); list.sort(); }
  }
  document.querySelectorAll(".form-file[data-file]").forEach(function (box) { offerForm(box.getAttribute("data-file")); });
  document.addEventListener("rf:form-added", function (event) { offerForm(event.detail.name); });
  // the panel's preview of a task's form shows the form as edited in the page's form editor (saved or not)
  var editor = document.querySelector(".form-editor[data-preview-url]");
  function formText(name) {
    var found = null;
    document.querySelectorAll(".form-file[data-file]").forEach(function (box) {
      if (box.getAttribute("data-file") === name) { found = box.querySelector("textarea").value; }
    });
    return found;
  }
  panelData.renderForm = function (name) {
    var schema = formText(name);
    if (!editor || schema === null) {
      return fetch(panelData.previewUrl + "?schema=" + encodeURIComponent(name), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : ""; });
    }
    var body = new FormData();
    body.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
    body.append("name", name);
    body.append("schema", schema);
    body.append("ui", formText(name.replace(/\.schema\.json$/, ".uischema.json")) || "");
    return fetch(editor.getAttribute("data-preview-url"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; });
  };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  // the whole diagram at a readable scale, right of the palette so lane labels are never under it
  function fit(entry) {
    var palette = entry.box.querySelector(".djs-palette");
    var inset = palette ? palette.offsetLeft + palette.offsetWidth + 8 : 0;
    window.RfFitDiagram(entry.modeler.get("canvas"), entry.box.querySelector(".modeler-canvas"),
                        { inset: inset, minScale: 0.7 });
    entry.fitted = true;
  }

  function select(entry) {
    entries.forEach(function (other) {
      var on = other === entry;
      other.tab.setAttribute("aria-selected", on ? "true" : "false");
      other.tab.tabIndex = on ? 0 : -1;
      other.box.hidden = !on;
    });
    if (entry.ready) {
      var canvas = entry.modeler.get("canvas");
      canvas.resized();
      if (!entry.fitted) { fit(entry); }
    }
  }

  frame.classList.add("enhanced");
  form.querySelectorAll(".modeler-file").forEach(function (box, i) {
    var file = box.getAttribute("data-file");
    var source = box.querySelector("textarea");
    var work = el("div", { "class": "modeler-work" });
    var canvasEl = el("div", { "class": "modeler-canvas", "data-file": file });
    var panelEl = el("div", { "class": "modeler-properties", role: "region", "aria-label": "Properties of " + file });
    work.appendChild(canvasEl);
    work.appendChild(panelEl);
    // Enter in a panel field confirms the field, it does not submit the page's form (Check)
    panelEl.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.tagName === "INPUT") { event.preventDefault(); }
    });
    box.appendChild(work);
    var tab = el("button", { type: "button", role: "tab", "class": "diagram-tab", "data-file": file }, file);
    var problems = flagged[file] || {};
    if (Object.keys(problems).length) {
      tab.insertBefore(el("span", { "class": "dot incident", "aria-hidden": "true" }), tab.firstChild);
    }
    tabList.appendChild(tab);
    var entry = { file: file, box: box, source: source, tab: tab, ready: false, fitted: false,
                  modeler: window.RfModeler.create(canvasEl, panelEl, panelData) };
    entries.push(entry);
    tab.addEventListener("click", function () { select(entry); });
    var xml = source.value.replace(/^\n/, "");
    // a file without diagram interchange is laid out first (bpmn-auto-layout); Check or Deploy saves that layout
    var opened = window.RfModeler.undrawn(xml)
      ? window.RfModeler.layout(xml).then(function (laid) {
        entry.laidOut = true;
        canvasEl.setAttribute("data-laid-out", "true");
        box.insertBefore(el("p", { "class": "diagram-status note", role: "status" },
          file + " had no diagram layout, so it was laid out automatically; Check or Deploy saves this layout with " +
          "the file. Lanes are not drawn: their tasks stay in them."), work);
        return laid;
      })
      : Promise.resolve(xml);
    opened.then(function (ready) { return entry.modeler.importXML(ready); }).then(function () {
      entry.ready = true;
      var canvas = entry.modeler.get("canvas");
      var registry = entry.modeler.get("elementRegistry");
      Object.keys(problems).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, "rf-flag-" + problems[id]); }
      });
      if (!entry.box.hidden) { fit(entry); }
      canvasEl.setAttribute("data-ready", "true");
    }).catch(function (err) {
      entry.failed = true;
      canvasEl.textContent = "";
      canvasEl.appendChild(el("p", { "class": "diagram-status error" },
        "The modeler could not open this file (" + (err && err.message ? err.message : err) +
        "); edit its XML below instead."));
      panelEl.hidden = true;
      box.classList.add("raw");
    });
    if (i > 0) { box.hidden = true; }
  });
  if (entries.length) { select(entries[0]); }

  var submitting = false;
  form.addEventListener("submit", function (event) {
    if (submitting) { return; }
    event.preventDefault();
    var action = event.submitter ? event.submitter.value : "check";
    Promise.all(entries.map(function (entry) {
      if (!entry.ready) { return Promise.resolve(); }
      return entry.modeler.saveXML({ format: true }).then(function (result) { entry.source.value = result.xml; });
    })).then(function () {
      var hidden = form.querySelector("input[name=action][type=hidden]") ||
        form.appendChild(el("input", { type: "hidden", name: "action" }));
      hidden.value = action;
      form.querySelectorAll("button[name=action]").forEach(function (b) { b.disabled = true; });
      submitting = true;
      form.submit();
    });
  });
}());
