/**
 * The bundle's entry: bpmn-js's Modeler with the properties panel, the carecenter group of the
 * panel, and the moddle descriptors for the spiffworkflow and camunda namespaces, so files of
 * both dialects load and save with their extensions. The page's own script
 * (api/static/modeler/editor.js) calls window.CarecenterBpmn.createModeler, the compare page's
 * (api/static/modeler/compare.js) window.CarecenterBpmn.createViewer.
 */

import Modeler from 'bpmn-js/lib/Modeler';
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';

import CarecenterPropertiesProvider from './provider.js';
import { keepUnresolvedReferences, lostContent, writeUnderPropertyName } from './fidelity.js';
import { dialect } from './extensions.js';
import spiffworkflowModdle from './spiffworkflow.json';

const CarecenterPanelModule = {
  __init__: ['carecenterPropertiesProvider'],
  carecenterPropertiesProvider: ['type', CarecenterPropertiesProvider],
};

/**
 * A Modeler drawing into `canvas`, its panel in `panel`; `carecenter` is { groups, forms, texts }.
 * The returned modeler's importXML keeps what moddle would drop (see fidelity.js) and reports in
 * `lost` the warnings that mean part of the file could not be read.
 */
function createModeler(canvas, panel, carecenter) {
  const modeler = new Modeler({
    container: canvas,
    propertiesPanel: { parent: panel },
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CarecenterPanelModule],
    moddleExtensions: { spiffworkflow: spiffworkflowModdle, camunda: camundaModdle },
    carecenter,
  });
  const moddle = modeler.get('moddle');
  writeUnderPropertyName(moddle);
  const importXML = modeler.importXML.bind(modeler);
  modeler.importXML = async (xml) => {
    const result = await importXML(xml);
    keepUnresolvedReferences(moddle, result.warnings);
    return { ...result, lost: lostContent(result.warnings) };
  };
  return modeler;
}

/**
 * A read-only viewer (pan and zoom) drawing into `canvas`: the compare page's two diagrams. It knows
 * the same extensions, so a file of either dialect loads without warnings.
 */
function createViewer(canvas) {
  return new NavigatedViewer({
    container: canvas,
    moddleExtensions: { spiffworkflow: spiffworkflowModdle, camunda: camundaModdle },
  });
}

window.CarecenterBpmn = { createModeler, createViewer, dialect };
