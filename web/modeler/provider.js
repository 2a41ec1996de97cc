/* Our properties provider: one "Request Fulfillment" group with the extension elements this engine reads, for the
 * selected element: a user task's form (with a preview rendered by the server), assignee variable and SLA pause
 * flag; a lane's role; a service task's operator, result variable and parameters; a sequence flow's condition and a
 * timer's value, each checked by the server (the deploy check's own code) as it is typed. */
import { h } from "@bpmn-io/properties-panel/preact";
import { useEffect, useState } from "@bpmn-io/properties-panel/preact/hooks";
import { DescriptionEntry, SelectEntry, TextFieldEntry } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import {
  businessObject, operatorOf, parametersOf, propertyValue, setOperator, setParameter, setProperty
} from "./extensions.js";

var TIMER_KINDS = [["timeDuration", "Duration (e.g. PT1H)"], ["timeCycle", "Cycle (e.g. R3/PT10M)"],
                   ["timeDate", "Date (e.g. 2026-12-24T08:00:00Z)"]];

function is(element, type) {
  var bo = businessObject(element);
  return !!(bo && bo.$instanceOf && bo.$instanceOf(type));
}

function options(pairs, blank) {
  var list = pairs.map(function (p) { return { value: p[0], label: p[1] }; });
  return blank === undefined ? list : [{ value: "", label: blank }].concat(list);
}

/* The finding the server gives for a value, fetched again whenever the value changes. */
function useFinding(data, kind, value) {
  var state = useState("");
  useEffect(function () {
    if (!value || !value.trim()) { state[1](""); return undefined; }
    var live = true;
    var timer = setTimeout(function () {
      fetch(data.checkUrl + "?kind=" + encodeURIComponent(kind) + "&value=" + encodeURIComponent(value),
            { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (live) { state[1](body.ok ? "✓ " + (body.findings.length ? body.findings.join("; ") : "passes the deploy check")
                                       : "✗ " + (body.findings || [body.message]).join("; ")); }
        })
        .catch(function () { if (live) { state[1](""); } });
    }, 250);
    return function () { live = false; clearTimeout(timer); };
  }, [kind, value]);
  return state[0];
}

function FormSelect(props) {
  var element = props.element;
  var data = props.data;
  var injector = useService("injector");
  var translate = useService("translate");
  var value = propertyValue(element, "formJsonSchemaFilename");
  return h(SelectEntry, {
    element: element, id: "rf-form", label: translate("Form"),
    description: "Its preview is at the end of this group",
    getValue: function () { return value; },
    setValue: function (next) {
      setProperty(element, injector, "formJsonSchemaFilename", next);
      var ui = next.replace(/\.schema\.json$/, ".uischema.json");
      setProperty(element, injector, "formUiSchemaFilename", next && data.uiSchemas.indexOf(ui) >= 0 ? ui : "");
    },
    getOptions: function () {
      var names = data.forms.slice();
      if (value && names.indexOf(value) < 0) { names.unshift(value); }
      return options(names.map(function (n) { return [n, n]; }), "(no form)");
    }
  });
}

/* The chosen form as the inbox renders it. It is the group's last entry: it arrives from the server after the
 * selection, and nothing below it may move while someone is about to click it. */
function FormPreview(props) {
  var data = props.data;
  var value = propertyValue(props.element, "formJsonSchemaFilename");
  var preview = useState("");
  useEffect(function () {
    if (!value || data.forms.indexOf(value) < 0) { preview[1](""); return undefined; }
    var live = true;
    // the page's own renderer when it has one (the form as edited in the page's form editor), else the stored form
    var rendered = data.renderForm ? data.renderForm(value) : fetch(data.previewUrl + "?schema=" +
      encodeURIComponent(value), { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : ""; });
    rendered.then(function (html) { if (live) { preview[1](html); } }, function () { if (live) { preview[1](""); } });
    return function () { live = false; };
  }, [value]);
  return preview[0] ? h("div", { "class": "rf-form-entry" }, [
    h("div", { "class": "rf-form-preview", "aria-label": "Form preview", dangerouslySetInnerHTML: { __html: preview[0] } })
  ]) : null;
}

function TextProperty(props) {
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  return h(TextFieldEntry, {
    element: props.element, id: props.id, label: props.label, description: props.description, debounce: debounce,
    getValue: function () { return propertyValue(props.element, props.name); },
    setValue: function (next) { setProperty(props.element, injector, props.name, (next || "").trim()); }
  });
}

/* A checkbox entry whose box shows exactly what the element holds. The library's CheckboxEntry keeps a copy of the
 * value and, on a change, sets that copy to the input's `value` attribute ("on"), so an unticked box is drawn ticked
 * again until an effect catches up: a flicker, and a click that can look as if it did nothing. */
function FlagEntry(props) {
  var inputId = "bio-properties-panel-" + props.id;
  return h("div", { "class": "bio-properties-panel-entry bio-properties-panel-checkbox-entry", "data-entry-id": props.id },
    [h("div", { "class": "bio-properties-panel-checkbox" }, [
      h("input", { id: inputId, name: props.id, type: "checkbox", "class": "bio-properties-panel-input",
                   checked: props.getValue(),
                   onChange: function (event) { props.setValue(event.target.checked); } }),
      h("label", { "for": inputId, "class": "bio-properties-panel-label" }, props.label)
    ]),
    h(DescriptionEntry, { forId: props.id, element: props.element, value: props.description })]);
}

function SlaPause(props) {
  var injector = useService("injector");
  return h(FlagEntry, {
    element: props.element, id: "rf-sla-pause", label: "Pauses the SLA clock (waits on the customer)",
    getValue: function () { return propertyValue(props.element, "slaClock").toLowerCase() === "paused"; },
    setValue: function (on) { setProperty(props.element, injector, "slaClock", on ? "paused" : ""); }
  });
}

function ScheduleWait(props) {
  var injector = useService("injector");
  return h(FlagEntry, {
    element: props.element, id: "rf-schedule-wait", label: "Waits on the 60 day schedule (completed by a pull)",
    description: "Not inbox work: the request waits on its group's schedule until pulled (property waitsOn)",
    getValue: function () { return propertyValue(props.element, "waitsOn").toLowerCase() === "schedule"; },
    setValue: function (on) { setProperty(props.element, injector, "waitsOn", on ? "schedule" : ""); }
  });
}

function LaneRole(props) {
  var modeling = useService("modeling");
  var element = props.element;
  return h(SelectEntry, {
    element: element, id: "rf-lane-role", label: "Role",
    description: "Who acts in this lane: the lane's name is the role's lane.",
    getValue: function () { return businessObject(element).name || ""; },
    setValue: function (next) { modeling.updateProperties(element, { name: next }); },
    getOptions: function () {
      var known = props.data.roles.map(function (r) { return [r.lane, r.name + " (" + r.code + ")"]; });
      var name = businessObject(element).name || "";
      var listed = props.data.roles.some(function (r) { return r.lane === name; });
      return options(listed || !name ? known : [[name, name + " (no such role)"]].concat(known), "(no role)");
    }
  });
}

function OperatorSelect(props) {
  var injector = useService("injector");
  var element = props.element;
  var specs = props.data.operators;
  return h(SelectEntry, {
    element: element, id: "rf-operator", label: "Operator",
    getValue: function () { var op = operatorOf(element); return op ? op.id || "" : ""; },
    setValue: function (next) { if (next) { setOperator(element, injector, next, specs); } },
    getOptions: function () {
      var current = operatorOf(element);
      var names = Object.keys(specs);
      if (current && current.id && names.indexOf(current.id) < 0) { names.unshift(current.id); }
      return options(names.map(function (n) { return [n, specs[n] ? n : n + " (unknown operator)"]; }), "(choose)");
    }
  });
}

function ResultVariable(props) {
  var modeling = useService("modeling");
  var debounce = useService("debounceInput");
  var element = props.element;
  return h(TextFieldEntry, {
    element: element, id: "rf-result-variable", label: "Result variable", debounce: debounce,
    getValue: function () { var op = operatorOf(element); return op ? op.resultVariable || "" : ""; },
    setValue: function (next) {
      var op = operatorOf(element);
      if (op) { modeling.updateModdleProperties(element, op, { resultVariable: (next || "").trim() || undefined }); }
    }
  });
}

function ParameterField(props) {
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var element = props.element;
  var spec = props.spec;
  var value = (parametersOf(operatorOf(element)).filter(function (p) { return p.id === spec.name; })[0] || {}).value;
  var finding = useFinding(props.data, "condition", value || "");
  return h(TextFieldEntry, {
    element: element, id: "rf-parameter-" + spec.name,
    label: spec.name + " (" + spec.type + (spec.required ? ", required" : "") + ")",
    description: finding || "An expression over the request's data", debounce: debounce,
    getValue: function () { return value || ""; },
    setValue: function (next) { setParameter(element, injector, spec.name, spec.type, (next || "").trim()); }
  });
}

function ConditionField(props) {
  var modeling = useService("modeling");
  var moddle = useService("moddle");
  var debounce = useService("debounceInput");
  var element = props.element;
  var expression = businessObject(element).conditionExpression;
  var value = expression ? expression.body || "" : "";
  var finding = useFinding(props.data, "condition", value);
  return h(TextFieldEntry, {
    element: element, id: "rf-condition", label: "Condition (a Python expression)", debounce: debounce,
    description: finding,
    getValue: function () { return value; },
    setValue: function (next) {
      next = (next || "").trim();
      var created = next ? moddle.create("bpmn:FormalExpression", { body: next }) : undefined;
      if (created) { created.$parent = businessObject(element); }
      modeling.updateProperties(element, { conditionExpression: created });
    }
  });
}

function timerOf(element) {
  var defs = businessObject(element).eventDefinitions || [];
  return defs.filter(function (d) { return d.$instanceOf("bpmn:TimerEventDefinition"); })[0] || null;
}

function timerKind(timer) {
  for (var i = 0; i < TIMER_KINDS.length; i++) { if (timer.get(TIMER_KINDS[i][0])) { return TIMER_KINDS[i][0]; } }
  return "timeDuration";
}

function TimerKind(props) {
  var modeling = useService("modeling");
  var element = props.element;
  return h(SelectEntry, {
    element: element, id: "rf-timer-kind", label: "Timer",
    getValue: function () { return timerKind(timerOf(element)); },
    setValue: function (next) {
      var timer = timerOf(element);
      var old = timerKind(timer);
      var expression = timer.get(old);
      if (next === old || !expression) { return; }
      var change = {};
      change[old] = undefined;
      change[next] = expression;
      modeling.updateModdleProperties(element, timer, change);
    },
    getOptions: function () { return options(TIMER_KINDS); }
  });
}

function TimerValue(props) {
  var modeling = useService("modeling");
  var moddle = useService("moddle");
  var debounce = useService("debounceInput");
  var element = props.element;
  var timer = timerOf(element);
  var kind = timerKind(timer);
  var expression = timer.get(kind);
  var value = expression ? expression.body || "" : "";
  var finding = useFinding(props.data, kind, value);
  return h(TextFieldEntry, {
    element: element, id: "rf-timer-value", label: "Value (ISO 8601, or an expression)", debounce: debounce,
    description: finding,
    getValue: function () { return value; },
    setValue: function (next) {
      var created = moddle.create("bpmn:FormalExpression", { body: (next || "").trim() });
      created.$parent = timer;
      var change = {};
      change[kind] = created;
      modeling.updateModdleProperties(element, timer, change);
    }
  });
}

function entries(element, data) {
  function entry(id, component, extra) {
    return Object.assign({ id: id, element: element, data: data, component: component }, extra || {});
  }
  var list = [];
  if (is(element, "bpmn:UserTask")) {
    list.push(entry("rf-form", FormSelect));
    list.push(entry("rf-assignee", TextProperty, {
      name: "assigneeVariable", label: "Assignee variable",
      description: "The data field naming the user this task goes to (empty: the lane's role)"
    }));
    list.push(entry("rf-sla-pause", SlaPause));
    list.push(entry("rf-schedule-wait", ScheduleWait));
    list.push(entry("rf-form-preview", FormPreview));
  } else if (is(element, "bpmn:Lane")) {
    list.push(entry("rf-lane-role", LaneRole));
  } else if (is(element, "bpmn:ServiceTask")) {
    list.push(entry("rf-operator", OperatorSelect));
    var operator = operatorOf(element);
    if (operator) {
      list.push(entry("rf-result-variable", ResultVariable));
      var specs = data.operators[operator.id] || parametersOf(operator).map(function (p) {
        return { name: p.id, type: p.type || "str", required: false };
      });
      specs.forEach(function (spec) { list.push(entry("rf-parameter-" + spec.name, ParameterField, { spec: spec })); });
    }
  } else if (is(element, "bpmn:SequenceFlow")) {
    var source = businessObject(element).sourceRef;
    if (source && (source.$instanceOf("bpmn:ExclusiveGateway") || source.$instanceOf("bpmn:InclusiveGateway"))) {
      list.push(entry("rf-condition", ConditionField));
    }
  } else if (is(element, "bpmn:Event") && timerOf(element)) {
    list.push(entry("rf-timer-kind", TimerKind));
    list.push(entry("rf-timer-value", TimerValue));
  }
  return list;
}

export default function RfPropertiesProvider(propertiesPanel, config) {
  var data = config || { forms: [], uiSchemas: [], roles: [], operators: {} };
  this.getGroups = function (element) {
    return function (groups) {
      var list = entries(element, data);
      if (list.length) {
        groups.splice(1, 0, { id: "rf-engine", label: "Request Fulfillment", entries: list, shouldOpen: true });
      }
      return groups;
    };
  };
  propertiesPanel.registerProvider(400, this);
}

RfPropertiesProvider.$inject = ["propertiesPanel", "config.rfModeler"];
