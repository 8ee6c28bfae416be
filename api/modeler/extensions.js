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

// -- the rest of the panel: service operations, conditions, scripts, timers ---------------------

/** The first extension element of `type` (such as 'spiffworkflow:ServiceTaskOperator'), or undefined. */
export function extensionOf(bo, type) {
  const values = (bo.extensionElements && bo.extensionElements.get('values')) || [];
  return values.find((value) => value.$instanceOf(type));
}

/** The element's bpmn:ExtensionElements, created (as an undoable command) when it has none. */
function ensureExtensions(injector, element, bo) {
  if (bo.extensionElements) {
    return bo.extensionElements;
  }
  const extensions = injector.get('moddle').create('bpmn:ExtensionElements', { values: [] });
  extensions.$parent = bo;
  injector.get('modeling').updateModdleProperties(element, bo, { extensionElements: extensions });
  return extensions;
}

function addExtension(injector, element, bo, child) {
  const extensions = ensureExtensions(injector, element, bo);
  child.$parent = extensions;
  injector.get('modeling').updateModdleProperties(element, extensions, { values: [...extensions.get('values'), child] });
}

function removeExtension(injector, element, bo, child) {
  const extensions = bo.extensionElements;
  injector.get('modeling').updateModdleProperties(element, extensions, {
    values: extensions.get('values').filter((value) => value !== child),
  });
}

/** The operation a service task calls: `camunda:topic` of an external task, else the serviceTaskOperator's id. */
export function getOperation(bo) {
  if (prefixOf(bo) === 'camunda') {
    return bo.get('camunda:topic') || '';
  }
  const operator = extensionOf(bo, 'spiffworkflow:ServiceTaskOperator');
  return (operator && operator.get('id')) || '';
}

export function setOperation(injector, element, name) {
  const bo = element.businessObject;
  const modeling = injector.get('modeling');
  if (prefixOf(bo) === 'camunda') {
    modeling.updateProperties(element, { 'camunda:type': name ? 'external' : undefined, 'camunda:topic': name || undefined });
    return;
  }
  const operator = extensionOf(bo, 'spiffworkflow:ServiceTaskOperator');
  if (!name) {
    if (operator) {
      removeExtension(injector, element, bo, operator);
    }
  } else if (operator) {
    modeling.updateModdleProperties(element, operator, { id: name });
  } else {
    const moddle = injector.get('moddle');
    const parameters = moddle.create('spiffworkflow:Parameters', { values: [] });
    const created = moddle.create('spiffworkflow:ServiceTaskOperator', { id: name, parameters });
    parameters.$parent = created;
    addExtension(injector, element, bo, created);
  }
}

function parameterList(bo) {
  if (prefixOf(bo) === 'camunda') {
    const io = extensionOf(bo, 'camunda:InputOutput');
    return { container: io, values: (io && io.get('inputParameters')) || [], key: 'name' };
  }
  const operator = extensionOf(bo, 'spiffworkflow:ServiceTaskOperator');
  const parameters = operator && operator.get('parameters');
  return { operator, container: parameters, values: (parameters && parameters.get('values')) || [], key: 'id' };
}

/** The names of the parameters a service task passes now. */
export function parameterNames(bo) {
  const { values, key } = parameterList(bo);
  return values.map((p) => p.get(key)).filter(Boolean);
}

/** The expression passed as parameter `name` ('' when it is not passed). */
export function getParameter(bo, name) {
  const { values, key } = parameterList(bo);
  const found = values.find((p) => p.get(key) === name);
  return (found && found.get('value')) || '';
}

/** Pass `value` as parameter `name` (removed when empty); the operator or inputOutput is created when missing. */
export function setParameter(injector, element, name, value) {
  const bo = element.businessObject;
  const modeling = injector.get('modeling');
  const moddle = injector.get('moddle');
  const camunda = prefixOf(bo) === 'camunda';
  let { operator, container, values, key } = parameterList(bo);
  const found = values.find((p) => p.get(key) === name);
  if (!value) {
    if (found) {
      const property = camunda ? 'inputParameters' : 'values';
      modeling.updateModdleProperties(element, container, { [property]: values.filter((p) => p !== found) });
    }
    return;
  }
  if (found) {
    modeling.updateModdleProperties(element, found, { value });
    return;
  }
  if (camunda) {
    if (!container) {
      container = moddle.create('camunda:InputOutput', { inputParameters: [] });
      addExtension(injector, element, bo, container);
    }
    const parameter = moddle.create('camunda:InputParameter', { name, value });
    parameter.$parent = container;
    modeling.updateModdleProperties(element, container, { inputParameters: [...container.get('inputParameters'), parameter] });
    return;
  }
  if (!operator) {
    return; // pick the operation first
  }
  if (!container) {
    container = moddle.create('spiffworkflow:Parameters', { values: [] });
    container.$parent = operator;
    modeling.updateModdleProperties(element, operator, { parameters: container });
  }
  const parameter = moddle.create('spiffworkflow:Parameter', { id: name, type: 'any', value });
  parameter.$parent = container;
  modeling.updateModdleProperties(element, container, { values: [...container.get('values'), parameter] });
}

/** Where a service task puts its operation's result: `camunda:resultVariable` / the operator's resultVariable. */
export function getResultVariable(bo) {
  if (prefixOf(bo) === 'camunda') {
    return bo.get('camunda:resultVariable') || '';
  }
  const operator = extensionOf(bo, 'spiffworkflow:ServiceTaskOperator');
  return (operator && operator.get('resultVariable')) || '';
}

export function setResultVariable(injector, element, value) {
  const bo = element.businessObject;
  if (prefixOf(bo) === 'camunda') {
    injector.get('modeling').updateProperties(element, { 'camunda:resultVariable': value || undefined });
    return;
  }
  const operator = extensionOf(bo, 'spiffworkflow:ServiceTaskOperator');
  if (operator) {
    injector.get('modeling').updateModdleProperties(element, operator, { resultVariable: value || undefined });
  }
}

/** A sequence flow's condition, as written. */
export function getCondition(bo) {
  return (bo.conditionExpression && bo.conditionExpression.get('body')) || '';
}

export function setCondition(injector, element, value) {
  const bo = element.businessObject;
  const modeling = injector.get('modeling');
  if (!value) {
    modeling.updateProperties(element, { conditionExpression: undefined });
  } else if (bo.conditionExpression) {
    modeling.updateModdleProperties(element, bo.conditionExpression, { body: value });
  } else {
    const expression = injector.get('moddle').create('bpmn:FormalExpression', { body: value });
    expression.$parent = bo;
    modeling.updateProperties(element, { conditionExpression: expression });
  }
}

/** A timer event's definition and which of timeDuration, timeDate, timeCycle it sets. */
export function timerOf(bo) {
  const definition = (bo.eventDefinitions || []).find((d) => d.$instanceOf('bpmn:TimerEventDefinition'));
  if (!definition) {
    return null;
  }
  const kind = ['timeDuration', 'timeDate', 'timeCycle'].find((k) => definition.get(k));
  return { definition, kind: kind || 'timeDuration', value: kind ? definition.get(kind).get('body') || '' : '' };
}

/** Whether an element waits for a message (receive task, catching message event): it may correlate. */
export function catchesMessage(bo) {
  if (bo.$instanceOf('bpmn:ReceiveTask')) {
    return true;
  }
  const catching = ['bpmn:StartEvent', 'bpmn:IntermediateCatchEvent', 'bpmn:BoundaryEvent'].some((t) => bo.$instanceOf(t));
  return catching && (bo.eventDefinitions || []).some((d) => d.$instanceOf('bpmn:MessageEventDefinition'));
}
