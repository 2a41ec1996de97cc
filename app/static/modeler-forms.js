/* The modeler page's form editor: the version's form files (JSON Schema, and the UI schemas beside some) in a list;
 * the chosen one opens in its textarea with a live preview beside it, rendered by the server with the inbox's own form
 * renderer ~400 ms after the last keystroke (or the reason it cannot be: invalid JSON with its line and column, not an
 * object schema, a construct the inbox does not support). "New form" adds a form file from a small template. The
 * textareas are fields of the page's form (`form:<file>`), so Check and Deploy post them with the diagrams. Without
 * JavaScript the textareas themselves are the editor (no preview). */
(function () {
  "use strict";

  var section = document.querySelector(".form-editor");
  var form = document.getElementById("modeler-form");
  if (!section || !form || !window.fetch) { return; }
  var previewUrl = section.getAttribute("data-preview-url");
  var holder = section.querySelector(".form-files");
  var token = form.querySelector("input[name=csrf_token]").value;
  var NEW_NAME = /^[a-z0-9_]+\.schema\.json$/;
  var SCHEMA = ".schema.json";
  var UI = ".uischema.json";
  var current = null;
  var timer = null;
  var asked = 0;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function box(name) {
    var found = null;
    holder.querySelectorAll(".form-file").forEach(function (b) { if (b.getAttribute("data-file") === name) { found = b; } });
    return found;
  }
  function source(name) { var b = box(name); return b ? b.querySelector("textarea") : null; }

  // the layout: file list | editor | preview
  section.classList.add("enhanced");
  var work = el("div", { "class": "form-editor-work" });
  var side = el("div", { "class": "form-list" });
  var list = el("ul", { "aria-label": "Form files" });
  side.appendChild(list);
  var adder = el("div", { "class": "form-new" });
  var newLabel = el("label", { "for": "new-form-name" }, "New form file");
  var newName = el("input", { id: "new-form-name", type: "text", placeholder: "name.schema.json", autocomplete: "off",
                              spellcheck: "false", "aria-describedby": "new-form-message" });
  var newButton = el("button", { type: "button" }, "New form");
  var newMessage = el("p", { id: "new-form-message", "class": "form-new-message", role: "status" });
  adder.appendChild(newLabel);
  adder.appendChild(newName);
  adder.appendChild(newButton);
  adder.appendChild(newMessage);
  side.appendChild(adder);
  var previewBox = el("div", { "class": "form-preview-box" });
  var previewTitle = el("h3", { id: "form-preview-title" }, "Preview");
  var status = el("p", { "class": "form-preview-status", role: "status", "aria-live": "polite" });
  // a tab stop, so a long form's preview scrolls from the keyboard too (its fields are disabled: no tab stops)
  var preview = el("div", { "class": "form-preview", role: "region", "aria-labelledby": "form-preview-title",
                            tabindex: "0" });
  previewBox.appendChild(previewTitle);
  previewBox.appendChild(status);
  previewBox.appendChild(preview);
  section.insertBefore(work, holder);
  work.appendChild(side);
  work.appendChild(holder);
  work.appendChild(previewBox);

  function addItem(name) {
    var item = el("li");
    var button = el("button", { type: "button", "class": "form-pick", "data-file": name, "aria-pressed": "false" }, name);
    button.addEventListener("click", function () { choose(name); });
    item.appendChild(button);
    var items = list.querySelectorAll("li");
    var before = null;
    items.forEach(function (other) {
      if (!before && other.firstChild.getAttribute("data-file") > name) { before = other; }
    });
    list.insertBefore(item, before);
  }

  function choose(name) {
    current = name;
    preview.textContent = "";
    holder.querySelectorAll(".form-file").forEach(function (b) { b.hidden = b.getAttribute("data-file") !== name; });
    list.querySelectorAll(".form-pick").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-file") === name ? "true" : "false");
    });
    previewTitle.textContent = "Preview of " + name;
    ask();
  }

  // which schema and UI schema the preview of the chosen file shows
  function pair(name) {
    var base = name.slice(-UI.length) === UI ? name.slice(0, -UI.length) : name.slice(0, -SCHEMA.length);
    return { schemaName: base + SCHEMA, schema: source(base + SCHEMA), ui: source(base + UI) };
  }

  // a failed render keeps the last good one, dimmed, below the reason
  function show(ok, text, html) {
    preview.classList.toggle("failed", !ok);
    status.className = "form-preview-status " + (ok ? "ok" : "error");
    status.textContent = text;
    if (ok) {
      // the server renderer's output, every value in it escaped by the server (the page's Content-Security-Policy
      // runs no inline script either), inserted as the properties panel's preview inserts it
      preview.innerHTML = html;
    }
  }

  function ask() {
    if (!current) { return; }
    var files = pair(current);
    if (!files.schema) {
      show(false, current + " has no form schema " + files.schemaName + " beside it to preview.", "");
      return;
    }
    var body = new FormData();
    body.append("csrf_token", token);
    body.append("name", files.schemaName);
    body.append("schema", files.schema.value);
    body.append("ui", files.ui ? files.ui.value : "");
    var mine = ++asked;
    status.className = "form-preview-status";
    status.textContent = "Rendering…";
    fetch(previewUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (answer) {
        return answer.text().then(function (text) { return { ok: answer.ok, status: answer.status, text: text }; });
      })
      .then(function (answer) {
        if (mine !== asked) { return; }
        if (answer.ok) {
          show(true, "Rendered as the inbox shows it.", answer.text);
        } else {
          show(false, answer.status >= 500 ? "The preview failed (" + answer.status + "); try again." : answer.text, "");
        }
      })
      .catch(function () { if (mine === asked) { show(false, "The preview could not be fetched; try again.", ""); } });
  }

  // the caret's line and column under the textarea, to find what an error message points at
  function wire(textarea) {
    var cursor = el("p", { "class": "form-cursor", "aria-hidden": "true" });
    textarea.parentNode.appendChild(cursor);
    function where() {
      var before = textarea.value.slice(0, textarea.selectionStart).split("\n");
      cursor.textContent = "Line " + before.length + ", column " + (before[before.length - 1].length + 1);
    }
    textarea.addEventListener("input", function () {
      where();
      clearTimeout(timer);
      timer = setTimeout(ask, 400);
    });
    ["keyup", "click", "focus"].forEach(function (name) { textarea.addEventListener(name, where); });
  }

  holder.querySelectorAll(".form-file").forEach(function (b) {
    addItem(b.getAttribute("data-file"));
    wire(b.querySelector("textarea"));
  });

  function starter(name) {
    var words = name.slice(0, -SCHEMA.length).replace(/_/g, " ").trim();
    var title = words ? words.charAt(0).toUpperCase() + words.slice(1) : "New form";
    return JSON.stringify({
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      title: title,
      description: "What the task's assignee records here.",
      type: "object",
      properties: { note: { type: "string", title: "Note", maxLength: 2000 } },
      required: []
    }, null, 2) + "\n";
  }

  function create() {
    var name = newName.value.trim();
    if (name && name.indexOf(".") < 0) { name += SCHEMA; }
    if (!NEW_NAME.test(name)) {
      newMessage.textContent = "A form's file name is lower-case letters, digits and _ followed by .schema.json.";
      newName.focus();
      return;
    }
    if (box(name)) {
      newMessage.textContent = name + " already exists.";
      newName.focus();
      return;
    }
    var b = el("div", { "class": "form-file", "data-file": name });
    var id = "form-source-new-" + name.replace(/\W/g, "-");
    b.appendChild(el("label", { "for": id }, name));
    var textarea = el("textarea", { id: id, "class": "form-source", name: "form:" + name, rows: "16",
                                    spellcheck: "false" });
    textarea.value = starter(name);
    b.appendChild(textarea);
    holder.appendChild(b);
    wire(textarea);
    addItem(name);
    newName.value = "";
    newMessage.textContent = name + " added: choose it as a user task's Form in the panel; it is checked and " +
      "deployed with the diagrams.";
    document.dispatchEvent(new CustomEvent("rf:form-added", { detail: { name: name } }));
    choose(name);
    textarea.focus();
  }

  newButton.addEventListener("click", create);
  newName.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); create(); }
  });

  var first = list.querySelector(".form-pick");
  if (first) { choose(first.getAttribute("data-file")); }
}());
