/**
 * Keeping a file as it was: what bpmn-moddle would otherwise change when a file is only loaded and saved.
 *
 * - References the file names but does not define drop out of the model on reading (moddle warns
 *   "unresolved reference"). Spiff files use them on purpose: `loopDataInputRef` names a process
 *   variable, not an element. keepUnresolvedReferences puts a stand-in with the same id back, so
 *   the saved file names it again.
 * - Typed children are written under their type's name, so `<bpmn:messagePath>` would come back as
 *   `<bpmn:formalExpression>` (which SpiffWorkflow cannot read). writeUnderPropertyName makes
 *   moddle write them under their property's name, as the BPMN schema has it.
 */

const PROPERTY_NAMED = [
  ['bpmn:CorrelationPropertyRetrievalExpression', 'messagePath'],
  ['bpmn:CorrelationPropertyBinding', 'dataPath'],
];

export function writeUnderPropertyName(moddle) {
  for (const [type, name] of PROPERTY_NAMED) {
    const property = moddle.getElementDescriptor(moddle.getType(type)).propertiesByName[name];
    if (property) {
      property.xml = { ...(property.xml || {}), serialize: 'property' };
    }
  }
}

const UNRESOLVED = /^unresolved reference <(.*)>$/;

/** Put a stand-in for every reference moddle could not resolve; returns how many were kept. */
export function keepUnresolvedReferences(moddle, warnings) {
  let kept = 0;
  for (const warning of warnings || []) {
    const match = UNRESOLVED.exec(warning.message || '');
    if (!match || !warning.element || !warning.property) {
      continue;
    }
    const element = warning.element;
    const property = element.$descriptor.propertiesByName[warning.property];
    if (!property) {
      continue;
    }
    const standIn = moddle.create(property.type, { id: match[1] });
    if (property.isMany) {
      element.get(property.name).push(standIn);
    } else {
      element.set(property.name, standIn);
    }
    kept += 1;
  }
  return kept;
}

const LOST = /^(unparsable content|unknown type|unrecognized element)/;

/** The import warnings that mean part of the file was not read (and would be missing when saved). */
export function lostContent(warnings) {
  return (warnings || []).filter((warning) => LOST.test(warning.message || '')).map((w) => w.message.split('\n')[0]);
}
