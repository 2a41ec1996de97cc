/* The modeler page's bundle (built by esbuild at `make install` into one script the page loads: no inline script,
 * no eval, so it runs under the site's Content-Security-Policy): bpmn-js's Modeler with the properties panel, our
 * properties provider for the spiffworkflow extension elements, live lint with our deploy rules, and bpmn-auto-layout
 * for files without diagram interchange. */
import Modeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
import lintModule from "bpmn-js-bpmnlint";
import spiffworkflow from "./spiffworkflow.json";
import RfPropertiesProvider from "./provider.js";
import { lintConfig } from "./lint.js";
import { layoutProcess } from "bpmn-auto-layout";

var BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL";
var DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI";

var rfModule = { __init__: ["rfPropertiesProvider"], rfPropertiesProvider: ["type", RfPropertiesProvider] };

/* A modeler drawing into `container`, its properties panel in `panel`; `data` is the page's modeler data. */
function create(container, panel, data) {
  return new Modeler({
    container: container,
    propertiesPanel: { parent: panel },
    linting: { active: true, bpmnlint: lintConfig(data) },
    rfModeler: data,
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, rfModule, lintModule],
    moddleExtensions: { spiffworkflow: spiffworkflow }
  });
}

/* Whether a file has processes but no diagram interchange (no shapes): files written by hand or by generators
 * often have none, and bpmn-js would open an empty canvas. Such a file is laid out with bpmn-auto-layout first. */
function undrawn(xml) {
  var doc = new DOMParser().parseFromString(xml, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) { return false; }
  return doc.getElementsByTagNameNS(BPMN_NS, "process").length > 0 &&
    doc.getElementsByTagNameNS(DI_NS, "BPMNShape").length === 0;
}

window.RfModeler = { create: create, undrawn: undrawn, layout: layoutProcess };
