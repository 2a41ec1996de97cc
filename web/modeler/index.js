/* The modeler page's bundle (built by esbuild at `make install` into one script the page loads: no inline script,
 * no eval, so it runs under the site's Content-Security-Policy): bpmn-js's Modeler with the properties panel, our
 * properties provider for the spiffworkflow extension elements, and live lint with our deploy rules. */
import Modeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
import lintModule from "bpmn-js-bpmnlint";
import spiffworkflow from "./spiffworkflow.json";
import RfPropertiesProvider from "./provider.js";
import { lintConfig } from "./lint.js";

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

window.RfModeler = { create: create };
