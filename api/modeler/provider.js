/**
 * The "carecenter" group of the properties panel: the extensions carecenter reads, picked from
 * what exists (the groups of the user list, the forms of forms/, the process's customer stages)
 * instead of typed as XML properties. Reads and writes go through extensions.js.
 *
 * The page passes the choices and the panel's texts (translated on the server) as the Modeler's
 * `carecenter` option: { groups: [...], forms: [...], texts: { key: text } }.
 */

import { h } from '@bpmn-io/properties-panel/preact';
import { SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is } from 'bpmn-js/lib/util/ModelUtil';

import {
  carrier,
  getCandidateGroups,
  getForm,
  getProperty,
  processOf,
  setCandidateGroups,
  setForm,
  setProperty,
  splitList,
} from './extensions.js';

function useConfig() {
  const config = useService('config');
  return config.carecenter || {};
}

function text(config, key, fallback) {
  return (config.texts && config.texts[key]) || fallback;
}

/** Options of a picker: none, the known values, and the current value even if unknown (never lost). */
function choices(config, known, current) {
  const options = [{ value: '', label: text(config, 'none', '(none)') }];
  for (const value of known) {
    options.push({ value, label: value });
  }
  if (current && !known.includes(current)) {
    options.push({ value: current, label: current });
  }
  return options;
}

function CandidateGroups(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const config = useConfig();
  return h(SelectEntry, {
    element,
    id,
    label: text(config, 'candidate_groups', 'Candidate group'),
    description: text(config, 'candidate_groups_help', ''),
    getValue: () => getCandidateGroups(carrier(element)) || '',
    setValue: (value) => setCandidateGroups(injector, element, value),
    getOptions: () => choices(config, config.groups || [], getCandidateGroups(carrier(element))),
  });
}

function Form(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const config = useConfig();
  return h(SelectEntry, {
    element,
    id,
    label: text(config, 'form', 'Form'),
    getValue: () => getForm(carrier(element)) || '',
    setValue: (value) => setForm(injector, element, value),
    getOptions: () => choices(config, config.forms || [], getForm(carrier(element))),
  });
}

function CustomerStage(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const config = useConfig();
  const process = processOf(element);
  const stages = process ? splitList(getProperty(process, 'customer_stages')) : [];
  return h(SelectEntry, {
    element,
    id,
    label: text(config, 'customer_stage', 'Customer stage'),
    description: stages.length ? '' : text(config, 'customer_stage_help', ''),
    getValue: () => getProperty(carrier(element), 'customer_stage'),
    setValue: (value) => setProperty(injector, element, 'customer_stage', value),
    getOptions: () => choices(config, stages, getProperty(carrier(element), 'customer_stage')),
  });
}

function CustomerStages(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const config = useConfig();
  return h(TextFieldEntry, {
    element,
    id,
    debounce,
    label: text(config, 'customer_stages', 'Customer stages'),
    description: text(config, 'customer_stages_help', ''),
    getValue: () => getProperty(carrier(element), 'customer_stages'),
    setValue: (value) => setProperty(injector, element, 'customer_stages', (value || '').trim()),
  });
}

const FLOW_NODES = ['bpmn:Activity', 'bpmn:Event', 'bpmn:Gateway'];

export default class CarecenterPropertiesProvider {
  constructor(propertiesPanel, config) {
    this.config = config || {};
    propertiesPanel.registerProvider(400, this);
  }

  getGroups(element) {
    return (groups) => {
      const entries = [];
      if (is(element, 'bpmn:Process') || (is(element, 'bpmn:Participant') && element.businessObject.processRef)) {
        entries.push({ id: 'cc-customer-stages', component: CustomerStages, isEdited: isTextFieldEntryEdited });
      }
      if (is(element, 'bpmn:UserTask')) {
        entries.push({ id: 'cc-candidate-groups', component: CandidateGroups, isEdited: isSelectEntryEdited });
        entries.push({ id: 'cc-form', component: Form, isEdited: isSelectEntryEdited });
      }
      if (FLOW_NODES.some((type) => is(element, type))) {
        entries.push({ id: 'cc-customer-stage', component: CustomerStage, isEdited: isSelectEntryEdited });
      }
      if (entries.length) {
        const label = (this.config.texts && this.config.texts.group) || 'carecenter';
        groups.splice(1, 0, { id: 'carecenter', label, entries: entries.map((entry) => ({ ...entry, element })) });
      }
      return groups;
    };
  }
}

CarecenterPropertiesProvider.$inject = ['propertiesPanel', 'config.carecenter'];
