"""Serialize workflows without their specs, and restore them onto the cached specs.

SpiffWorkflow's serializer writes the whole process spec into every instance by default;
carecenter stores the spec once (as the deployed BPMN) and keeps only task state and data
in the instance row, which keeps rows small and restores fast.
"""

from __future__ import annotations

import json
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.camunda.specs.event_definitions import (
    MessageEventDefinition as CamundaMessageEventDefinition,
)
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.message_specs import CamundaVariablesMessageEventDefinition
from engine.timer_specs import register_converters as register_timer_converters


class SpecFreeWorkflowConverter(BpmnWorkflowConverter):
    """Like the library's converter, minus the specs, which the caller supplies on restore."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct: dict, spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, script_engine=script_engine, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = {cls: conv for cls, conv in SPIFF_CONFIG.items() if cls is not BpmnWorkflow}
_registry = BpmnWorkflowSerializer.configure(_config)
_converter = SpecFreeWorkflowConverter(BpmnWorkflow, _registry)
# Camunda-dialect processes use the library's base classes (and Camunda's message definition) where the
# Spiff dialect uses subclasses of the same name: register those under names of their own.
for _cls, _conv in DEFAULT_CONFIG.items():
    _clashes = [other for other, name in _registry.typenames.items() if name == _cls.__name__ and other is not _cls]
    if _cls in _registry.typenames and _clashes:
        _conv(_cls, _registry, typename=f"Bpmn{_cls.__name__}")
MessageEventDefinitionConverter(CamundaMessageEventDefinition, _registry, typename="CamundaMessageEventDefinition")
MessageEventDefinitionConverter(
    CamundaVariablesMessageEventDefinition, _registry, typename="CamundaVariablesMessageEventDefinition"
)
register_timer_converters(_registry)  # clock-aware timers (engine.timer_specs) appear in event-gateway task data


def dump(workflow: BpmnWorkflow) -> str:
    """The instance state as a JSON string."""
    return json.dumps({"serializer_version": VERSION, "workflow": _registry.convert(workflow)}, separators=(",", ":"))


def load(state: str, spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:
    """Rebuild a workflow from :func:`dump` output on the given (cached) specs."""
    dct = json.loads(state)
    if dct.get("serializer_version") != VERSION:
        raise ValueError(f"instance state has serializer version {dct.get('serializer_version')}, expected {VERSION}")
    return _converter.restore(dct["workflow"], spec, subprocess_specs, script_engine)
