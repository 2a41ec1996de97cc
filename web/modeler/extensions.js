/* Reading and writing the spiffworkflow extension elements the engine reads, through bpmn-js's modeling commands
 * (so every change can be undone and is in what saveXML() returns). */

export function businessObject(element) {
  return (element && element.businessObject) || element;
}

export function extensionOf(bo, type) {
  var ext = bo.get("extensionElements");
  var values = ext ? ext.get("values") : [];
  for (var i = 0; i < values.length; i++) {
    if (values[i].$instanceOf(type)) { return values[i]; }
  }
  return null;
}

export function propertyValue(element, name) {
  var props = extensionOf(businessObject(element), "spiffworkflow:Properties");
  if (!props) { return ""; }
  var found = props.get("properties").filter(function (p) { return p.name === name; })[0];
  return found ? found.value || "" : "";
}

function ensureExtension(element, injector, type, attrs) {
  var modeling = injector.get("modeling");
  var moddle = injector.get("moddle");
  var bo = businessObject(element);
  var ext = bo.get("extensionElements");
  if (!ext) {
    ext = moddle.create("bpmn:ExtensionElements", { values: [] });
    ext.$parent = bo;
    modeling.updateModdleProperties(element, bo, { extensionElements: ext });
  }
  var found = extensionOf(bo, type);
  if (!found) {
    found = moddle.create(type, attrs || {});
    found.$parent = ext;
    modeling.updateModdleProperties(element, ext, { values: ext.get("values").concat([found]) });
  }
  return found;
}

/* Set (or, for an empty value, remove) one `spiffworkflow:property` of the element. */
export function setProperty(element, injector, name, value) {
  var modeling = injector.get("modeling");
  var moddle = injector.get("moddle");
  var bo = businessObject(element);
  var props = extensionOf(bo, "spiffworkflow:Properties");
  if (!value && !props) { return; }
  props = props || ensureExtension(element, injector, "spiffworkflow:Properties", { properties: [] });
  var list = props.get("properties");
  var found = list.filter(function (p) { return p.name === name; })[0];
  if (!value) {
    if (found) {
      modeling.updateModdleProperties(element, props, { properties: list.filter(function (p) { return p !== found; }) });
    }
    return;
  }
  if (found) {
    modeling.updateModdleProperties(element, found, { value: value });
    return;
  }
  var created = moddle.create("spiffworkflow:Property", { name: name, value: value });
  created.$parent = props;
  modeling.updateModdleProperties(element, props, { properties: list.concat([created]) });
}

export function operatorOf(element) {
  return extensionOf(businessObject(element), "spiffworkflow:ServiceTaskOperator");
}

export function parametersOf(operator) {
  var holder = operator && operator.get("parameterList");
  return holder ? holder.get("parameters") : [];
}

/* Choose the element's operator; its parameters become those the operator declares (values kept by name). */
export function setOperator(element, injector, name, specs) {
  var modeling = injector.get("modeling");
  var moddle = injector.get("moddle");
  var operator = operatorOf(element) || ensureExtension(element, injector, "spiffworkflow:ServiceTaskOperator", {});
  var old = {};
  parametersOf(operator).forEach(function (p) { old[p.id] = p; });
  var holder = moddle.create("spiffworkflow:Parameters", { parameters: [] });
  holder.$parent = operator;
  var declared = specs[name] || [];
  var parameters = declared.map(function (spec) {
    var kept = old[spec.name];
    var p = moddle.create("spiffworkflow:Parameter", {
      id: spec.name, type: spec.type, value: kept ? kept.value : ""
    });
    p.$parent = holder;
    return p;
  });
  if (!declared.length) {  // an operator we have no spec for keeps what it had
    parametersOf(operator).forEach(function (p) { parameters.push(p); p.$parent = holder; });
  }
  holder.set("parameters", parameters);
  modeling.updateModdleProperties(element, operator, { id: name, parameterList: holder });
}

export function setParameter(element, injector, name, type, value) {
  var modeling = injector.get("modeling");
  var moddle = injector.get("moddle");
  var operator = operatorOf(element);
  if (!operator) { return; }
  var holder = operator.get("parameterList");
  if (!holder) {
    holder = moddle.create("spiffworkflow:Parameters", { parameters: [] });
    holder.$parent = operator;
    modeling.updateModdleProperties(element, operator, { parameterList: holder });
  }
  var list = holder.get("parameters");
  var found = list.filter(function (p) { return p.id === name; })[0];
  if (found) {
    modeling.updateModdleProperties(element, found, { value: value });
    return;
  }
  var created = moddle.create("spiffworkflow:Parameter", { id: name, type: type, value: value });
  created.$parent = holder;
  modeling.updateModdleProperties(element, holder, { parameters: list.concat([created]) });
}
