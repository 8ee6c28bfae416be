/**
 * carecenter's extensions on a BPMN element, read and written the way carecenter reads them
 * (engine/extensions.py, engine/bpmn.py, engine/stages.py):
 *
 * - Spiff files (and plain BPMN): `spiffworkflow:properties/spiffworkflow:property name= value=`
 *   inside `bpmn:extensionElements`, for candidate_groups, formJsonSchemaFilename, customer_stage,
 *   customer_stages, ...
 * - Camunda Modeler files (the camunda namespace declared, the spiffworkflow one not): the
 *   `camunda:candidateGroups` and `camunda:formKey` attributes, and `camunda:properties` for the
 *   rest. Writing a spiffworkflow element into such a file would turn it into a Spiff file for
 *   carecenter, so a file stays in its dialect.
 */

export const SPIFF_NS = 'http://spiffworkflow.org/bpmn/schema/1.0/core';
export const CAMUNDA_NS = 'http://camunda.org/schema/1.0/bpmn';

/** 'camunda' or 'spiff', decided as engine/bpmn.py's _dialect does, from the namespaces the root declares. */
export function dialect(definitions) {
  const declared = Object.entries((definitions && definitions.$attrs) || {})
    .filter(([name]) => name === 'xmlns' || name.startsWith('xmlns:'))
    .map(([, uri]) => uri);
  return declared.includes(CAMUNDA_NS) && !declared.includes(SPIFF_NS) ? 'camunda' : 'spiff';
}

function definitionsOf(businessObject) {
  let node = businessObject;
  while (node && node.$parent) {
    node = node.$parent;
  }
  return node;
}

/** The business object carrying an element's extensions: a pool's process, else the element's own. */
export function carrier(element) {
  const bo = element.businessObject;
  return bo.$instanceOf('bpmn:Participant') && bo.processRef ? bo.processRef : bo;
}

function prefixOf(bo) {
  return dialect(definitionsOf(bo)) === 'camunda' ? 'camunda' : 'spiffworkflow';
}

function propertiesContainer(bo, prefix) {
  const values = (bo.extensionElements && bo.extensionElements.get('values')) || [];
  return values.find((value) => value.$instanceOf(`${prefix}:Properties`));
}

/** The value of extension property `name` (either dialect), or '' when there is none. */
export function getProperty(bo, name) {
  for (const prefix of ['spiffworkflow', 'camunda']) {
    const container = propertiesContainer(bo, prefix);
    const found = container && container.get('values').find((p) => p.get('name') === name);
    if (found) {
      return found.get('value') || '';
    }
  }
  return '';
}

/** Set extension property `name` of `element` (removed when `value` is empty), as undoable modeling commands. */
export function setProperty(injector, element, name, value) {
  const modeling = injector.get('modeling');
  const moddle = injector.get('moddle');
  const bo = carrier(element);
  const prefix = prefixOf(bo);
  let extensions = bo.extensionElements;
  if (!extensions) {
    if (!value) {
      return;
    }
    extensions = moddle.create('bpmn:ExtensionElements', { values: [] });
    extensions.$parent = bo;
    modeling.updateModdleProperties(element, bo, { extensionElements: extensions });
  }
  let container = propertiesContainer(bo, prefix);
  if (!container) {
    if (!value) {
      return;
    }
    container = moddle.create(`${prefix}:Properties`, { values: [] });
    container.$parent = extensions;
    modeling.updateModdleProperties(element, extensions, { values: [...extensions.get('values'), container] });
  }
  const existing = container.get('values').find((p) => p.get('name') === name);
  if (!value) {
    if (existing) {
      modeling.updateModdleProperties(element, container, {
        values: container.get('values').filter((p) => p !== existing),
      });
    }
    return;
  }
  if (existing) {
    modeling.updateModdleProperties(element, existing, { value });
    return;
  }
  const property = moddle.create(`${prefix}:Property`, { name, value });
  property.$parent = container;
  modeling.updateModdleProperties(element, container, { values: [...container.get('values'), property] });
}

/** Candidate groups: `camunda:candidateGroups` in Camunda files, the `candidate_groups` property in others. */
export function getCandidateGroups(bo) {
  return (prefixOf(bo) === 'camunda' ? bo.get('camunda:candidateGroups') : '') || getProperty(bo, 'candidate_groups');
}

export function setCandidateGroups(injector, element, value) {
  const bo = carrier(element);
  if (prefixOf(bo) === 'camunda') {
    injector.get('modeling').updateProperties(element, { 'camunda:candidateGroups': value || undefined });
  } else {
    setProperty(injector, element, 'candidate_groups', value);
  }
}

/** The JSON-Schema form: `camunda:formKey` in Camunda files, `formJsonSchemaFilename` in others. */
export function getForm(bo) {
  return (prefixOf(bo) === 'camunda' ? bo.get('camunda:formKey') : '') || getProperty(bo, 'formJsonSchemaFilename');
}

export function setForm(injector, element, value) {
  const bo = carrier(element);
  if (prefixOf(bo) === 'camunda') {
    injector.get('modeling').updateProperties(element, { 'camunda:formKey': value || undefined });
  } else {
    setProperty(injector, element, 'formJsonSchemaFilename', value);
  }
}

/** The process an element belongs to (for its customer_stages). */
export function processOf(element) {
  let bo = carrier(element);
  while (bo && !bo.$instanceOf('bpmn:Process')) {
    if (bo.$instanceOf('bpmn:Collaboration')) {
      return null;
    }
    bo = bo.$parent;
  }
  return bo || null;
}

export function splitList(value) {
  return (value || '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}
