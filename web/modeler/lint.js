/* Some of the deploy check's rules as a bpmnlint plugin ("rf"), so the modeler flags as you draw what Check would
 * refuse; the server's check stays the authority. The rules read the page's data (forms, roles, operators). */
import { businessObject, extensionOf, operatorOf, parametersOf, propertyValue } from "./extensions.js";

var KINDS = { str: "text", float: "a number", bool: "True or False" };

/* What a parameter's value is when it is a literal (the server's check reads literals the same way); null for an
 * expression, which is only known when the task runs. */
function literalKind(value) {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) { return "a number"; }
  if (value === "True" || value === "False") { return "True or False"; }
  if (/^("[^"\\]*"|'[^'\\]*')$/.test(value)) { return "text"; }
  return null;
}

/* The service task's parameters against its operator's declaration (handlers/parameters.py, as the server's
 * deploy check reads it): each message, empty when all is well. */
function parameterProblems(operatorId, specs, given) {
  var problems = [];
  var byName = {};
  given.forEach(function (p) { byName[p.id] = p; });
  specs.forEach(function (spec) {
    var value = byName[spec.name] ? String(byName[spec.name].value || "").trim() : "";
    if (spec.required && !value) {
      problems.push("parameter " + spec.name + " (" + spec.type + ") is required");
    }
    var kind = value ? literalKind(value) : null;
    if (kind && KINDS[spec.type] && kind !== KINDS[spec.type]) {
      problems.push("parameter " + spec.name + " takes " + KINDS[spec.type] + ", but " + value + " is " + kind);
    }
  });
  var known = specs.map(function (spec) { return spec.name; });
  given.forEach(function (p) {
    if (known.indexOf(p.id) < 0) { problems.push(operatorId + " takes no parameter " + p.id); }
  });
  return problems;
}

function laneOf(node) {
  var process = node.$parent;
  var sets = (process && process.laneSets) || [];
  var found = null;
  sets.forEach(function (set) {
    (set.lanes || []).forEach(function (lane) {
      if ((lane.flowNodeRef || []).indexOf(node) >= 0) { found = lane; }
    });
  });
  return found;
}

function rules(data) {
  var roleLanes = data.roles.map(function (r) { return r.lane; });
  return {
    "user-task-form": function () {
      return { check: function (node, reporter) {
        if (!node.$instanceOf("bpmn:UserTask")) { return; }
        var form = propertyValue(node, "formJsonSchemaFilename");
        if (!form) {
          reporter.report(node.id, "user task names no form");
        } else if (data.forms.indexOf(form) < 0) {
          reporter.report(node.id, "form " + form + " is not a form of this version");
        }
      } };
    },
    "user-task-lane": function () {
      return { check: function (node, reporter) {
        if (!node.$instanceOf("bpmn:UserTask")) { return; }
        var process = node.$parent;
        if (process && (process.laneSets || []).length && !laneOf(node)) {
          reporter.report(node.id, "user task is in no lane, so nobody could act on it");
        }
      } };
    },
    "lane-role": function () {
      return { check: function (node, reporter) {
        if (node.$instanceOf("bpmn:Lane") && !(node.childLaneSet) && roleLanes.indexOf(node.name || "") < 0) {
          reporter.report(node.id, "lane " + JSON.stringify(node.name || "") + " maps to no role");
        }
      } };
    },
    "service-operator": function () {
      return { check: function (node, reporter) {
        if (!node.$instanceOf("bpmn:ServiceTask")) { return; }
        var operator = operatorOf(node);
        if (!operator || !operator.id) {
          reporter.report(node.id, "service task names no operator");
        } else if (!data.operators[operator.id]) {
          reporter.report(node.id, "unknown service operator " + operator.id);
        }
      } };
    },
    "service-parameters": function () {
      return { check: function (node, reporter) {
        if (!node.$instanceOf("bpmn:ServiceTask")) { return; }
        var operator = operatorOf(node);
        var specs = operator && operator.id ? data.operators[operator.id] : null;
        if (!specs || !specs.length) { return; }
        parameterProblems(operator.id, specs, parametersOf(operator)).forEach(function (message) {
          reporter.report(node.id, message);
        });
      } };
    }
  };
}

/* The configuration bpmn-js-bpmnlint takes: bpmnlint's recommended rules are left to `rf check` (its graph checks
 * are ours), only the plugin's rules run here. */
export function lintConfig(data) {
  var plugin = rules(data);
  var config = { rules: {} };
  Object.keys(plugin).forEach(function (name) { config.rules["rf/" + name] = "error"; });
  return {
    config: config,
    resolver: {
      resolveRule: function (pkg, name) {
        if (pkg !== "bpmnlint-plugin-rf" || !plugin[name]) { throw new Error("unknown rule " + pkg + "/" + name); }
        return plugin[name];
      },
      resolveConfig: function (pkg, name) { throw new Error("unknown config " + pkg + "/" + name); }
    }
  };
}

export { businessObject, extensionOf };
