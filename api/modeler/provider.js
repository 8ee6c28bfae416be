/**
 * The "carecenter" group of the properties panel: the extensions carecenter reads, picked from
 * what exists (the groups of the user list, the forms of forms/, the process's customer stages)
 * instead of typed as XML properties. Reads and writes go through extensions.js.
 *
 * Beside pickers for the candidate group, form and customer stage: the lane's team, the due date,
 * the stages' German and Czech labels and customer message, the process's whitelisted fields and
 * the variable naming its customer, the service operation (from the registry, with a field for each
 * of its parameters and the result variable), sequence-flow conditions, script text and message
 * correlation keys. Timers, due dates, conditions, scripts and messages are checked by the server as
 * they are typed (checks.js); timer values and message names are edited in bpmn-js's own Timer and
 * Message groups.
 *
 * The page passes the choices and the panel's texts (translated on the server) as the Modeler's
 * `carecenter` option: { groups, forms, operations, texts: { key: text }, urls: { check_value }, csrf }.
 */

import { h } from '@bpmn-io/properties-panel/preact';
import {
  SelectEntry,
  TextAreaEntry,
  TextFieldEntry,
  isSelectEntryEdited,
  isTextAreaEntryEdited,
  isTextFieldEntryEdited,
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is } from 'bpmn-js/lib/util/ModelUtil';

import { Verdict } from './checks.js';
import {
  carrier,
  catchesMessage,
  getCandidateGroups,
  getCondition,
  getForm,
  getOperation,
  getParameter,
  getProperty,
  getResultVariable,
  parameterNames,
  processOf,
  setCandidateGroups,
  setCondition,
  setForm,
  setOperation,
  setParameter,
  setProperty,
  setResultVariable,
  splitList,
  timerOf,
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

/** A text field editing extension property `name` (either dialect); `area` for several lines. */
function PropertyField(props) {
  const { element, id, name, label, help, area } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const config = useConfig();
  return h(area ? TextAreaEntry : TextFieldEntry, {
    element,
    id,
    debounce,
    label: text(config, label, label),
    description: help ? text(config, help, '') : undefined,
    getValue: () => getProperty(carrier(element), name),
    setValue: (value) => setProperty(injector, element, name, area ? value || '' : (value || '').trim()),
    ...(area ? { rows: 3, autoResize: true } : {}),
  });
}

function LaneGroup(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const config = useConfig();
  const current = element.businessObject.name || '';
  return h(SelectEntry, {
    element,
    id,
    label: text(config, 'lane_group', 'Team of the lane'),
    description: text(config, 'lane_group_help', ''),
    getValue: () => element.businessObject.name || '',
    setValue: (value) => modeling.updateProperties(element, { name: value || undefined }),
    getOptions: () => choices(config, config.groups || [], current),
  });
}

function Condition(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const config = useConfig();
  return h(TextAreaEntry, {
    element,
    id,
    debounce,
    rows: 2,
    autoResize: true,
    label: text(config, 'condition', 'Condition'),
    description: text(config, 'condition_help', ''),
    getValue: () => getCondition(element.businessObject),
    setValue: (value) => setCondition(injector, element, (value || '').trim()),
  });
}

function Script(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  const config = useConfig();
  return h(TextAreaEntry, {
    element,
    id,
    debounce,
    rows: 5,
    autoResize: true,
    monospace: true,
    label: text(config, 'script', 'Script'),
    description: text(config, 'script_help', ''),
    getValue: () => element.businessObject.get('script') || '',
    setValue: (value) => modeling.updateProperties(element, { script: value || undefined }),
  });
}

function operationNamed(config, name) {
  return (config.operations || []).find((operation) => operation.name === name);
}

function Operation(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const config = useConfig();
  const current = getOperation(element.businessObject);
  const known = operationNamed(config, current);
  return h(SelectEntry, {
    element,
    id,
    label: text(config, 'operation', 'Operation'),
    description: known ? known.description : current ? text(config, 'operation_unknown', '') : text(config, 'operation_help', ''),
    getValue: () => getOperation(element.businessObject),
    setValue: (value) => setOperation(injector, element, value),
    getOptions: () => choices(config, (config.operations || []).map((operation) => operation.name), current),
  });
}

function Parameter(props) {
  const { element, id, parameter } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const config = useConfig();
  const required = parameter.required ? ` (${text(config, 'required', 'required')})` : '';
  const about = [parameter.type, parameter.description].filter(Boolean).join(': ');
  return h(TextFieldEntry, {
    element,
    id,
    debounce,
    label: `${parameter.name}${required}`,
    description: about,
    getValue: () => getParameter(element.businessObject, parameter.name),
    setValue: (value) => setParameter(injector, element, parameter.name, (value || '').trim()),
  });
}

function ResultVariable(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  const config = useConfig();
  return h(TextFieldEntry, {
    element,
    id,
    debounce,
    label: text(config, 'result_variable', 'Result variable'),
    description: text(config, 'result_variable_help', ''),
    getValue: () => getResultVariable(element.businessObject),
    setValue: (value) => setResultVariable(injector, element, (value || '').trim()),
  });
}

/** The parameters a service task's operation takes, then those it passes that the operation does not know. */
function parameterEntries(element, config) {
  const bo = element.businessObject;
  const operation = operationNamed(config, getOperation(bo));
  const listed = operation ? operation.parameters : [];
  const names = new Set(listed.map((parameter) => parameter.name));
  const extra = parameterNames(bo)
    .filter((name) => !names.has(name))
    .map((name) => ({ name, type: '', required: false, description: text(config, 'parameter_unknown', '') }));
  return [...listed, ...extra].map((parameter) => ({
    id: `cc-parameter-${parameter.name}`,
    component: Parameter,
    parameter,
    isEdited: isTextFieldEntryEdited,
  }));
}

function verdict(id, getKind, getValue) {
  return { id, component: Verdict, getKind, getValue };
}

const FLOW_NODES = ['bpmn:Activity', 'bpmn:Event', 'bpmn:Gateway'];
const CONDITIONAL_SOURCES = ['bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway', 'bpmn:ComplexGateway', 'bpmn:Activity'];

export default class CarecenterPropertiesProvider {
  constructor(propertiesPanel, config) {
    this.config = config || {};
    propertiesPanel.registerProvider(400, this);
  }

  entries(element) {
    const config = this.config;
    const bo = element.businessObject;
    const entries = [];
    const text = { isEdited: isTextFieldEntryEdited };
    const area = { isEdited: isTextAreaEntryEdited };
    if (is(element, 'bpmn:Process') || (is(element, 'bpmn:Participant') && bo.processRef)) {
      entries.push({ id: 'cc-customer-stages', component: CustomerStages, ...text });
      entries.push({
        id: 'cc-customer-fields',
        component: PropertyField,
        name: 'customer_fields',
        label: 'customer_fields',
        help: 'customer_fields_help',
        ...text,
      });
      entries.push({
        id: 'cc-customer-variable',
        component: PropertyField,
        name: 'customer_variable',
        label: 'customer_variable',
        help: 'customer_variable_help',
        ...text,
      });
    }
    if (is(element, 'bpmn:Lane')) {
      entries.push({ id: 'cc-lane-group', component: LaneGroup, isEdited: isSelectEntryEdited });
    }
    if (is(element, 'bpmn:UserTask')) {
      entries.push({ id: 'cc-candidate-groups', component: CandidateGroups, isEdited: isSelectEntryEdited });
      entries.push({ id: 'cc-form', component: Form, isEdited: isSelectEntryEdited });
      entries.push({ id: 'cc-due', component: PropertyField, name: 'due', label: 'due', help: 'due_help', ...text });
      entries.push(verdict('cc-due-check', () => (getProperty(bo, 'due') ? 'due' : null), () => getProperty(bo, 'due')));
    }
    if (is(element, 'bpmn:ServiceTask')) {
      entries.push({ id: 'cc-operation', component: Operation, isEdited: isSelectEntryEdited });
      entries.push(...parameterEntries(element, config));
      if (getOperation(bo)) {
        entries.push({ id: 'cc-result-variable', component: ResultVariable, ...text });
      }
    }
    if (is(element, 'bpmn:ScriptTask')) {
      entries.push({ id: 'cc-script', component: Script, ...area });
      entries.push(verdict('cc-script-check', () => 'script', () => bo.get('script') || ''));
    }
    const timer = (is(element, 'bpmn:Event') && timerOf(bo)) || null;
    if (timer) {
      entries.push(
        verdict('cc-timer-check', () => (timerOf(bo) || {}).kind, () => (timerOf(bo) || {}).value || ''),
      );
    }
    if (catchesMessage(bo)) {
      entries.push({
        id: 'cc-correlation-key',
        component: PropertyField,
        name: 'correlation_key',
        label: 'correlation_key',
        help: 'correlation_key_help',
        ...text,
      });
    }
    if (is(element, 'bpmn:SequenceFlow') && bo.sourceRef && CONDITIONAL_SOURCES.some((t) => is(bo.sourceRef, t))) {
      entries.push({ id: 'cc-condition', component: Condition, ...area });
      entries.push(
        verdict('cc-condition-check', () => (getCondition(bo) ? 'condition' : null), () => getCondition(bo)),
      );
    }
    if (FLOW_NODES.some((type) => is(element, type))) {
      entries.push({ id: 'cc-customer-stage', component: CustomerStage, isEdited: isSelectEntryEdited });
      if (getProperty(bo, 'customer_stage')) {
        for (const language of ['de', 'cs']) {
          entries.push({
            id: `cc-customer-stage-${language}`,
            component: PropertyField,
            name: `customer_stage_${language}`,
            label: `customer_stage_${language}`,
            ...text,
          });
        }
        entries.push({
          id: 'cc-customer-message',
          component: PropertyField,
          name: 'customer_message',
          label: 'customer_message',
          help: 'customer_message_help',
          area: true,
          ...area,
        });
        entries.push(
          verdict(
            'cc-customer-message-check',
            () => (getProperty(bo, 'customer_message') ? 'customer_message' : null),
            () => getProperty(bo, 'customer_message'),
          ),
        );
      }
    }
    return entries;
  }

  getGroups(element) {
    return (groups) => {
      const entries = this.entries(element);
      if (entries.length) {
        const label = (this.config.texts && this.config.texts.group) || 'carecenter';
        groups.splice(1, 0, { id: 'carecenter', label, entries: entries.map((entry) => ({ ...entry, element })) });
      }
      return groups;
    };
  }
}

CarecenterPropertiesProvider.$inject = ['propertiesPanel', 'config.carecenter'];
