"""Messages caught by Camunda-modeled events take the message's variables into the process.

SpiffWorkflow's Camunda dialect expects every incoming message to carry its own
``{"payload": ..., "result_var": ...}`` envelope (what its throw events send), so a message from
the API or from another system, which carries plain variables, failed with ``KeyError: 'payload'``
at message start events, intermediate catches and boundary events.  Camunda 7 itself merges the
variables of a correlated message into the process (``correlateWithResult`` with variables); so do
these events now.  A message thrown by a Camunda-dialect throw event keeps its envelope and lands
where its ``camunda:resultVariable`` says, as before.  Spiff and plain BPMN events are not touched.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.camunda.specs.event_definitions import (
    MessageEventDefinition as CamundaMessageEventDefinition,
)

ENVELOPE_KEYS = frozenset({"payload", "result_var"})
VARIABLES = "variables"


class CamundaVariablesMessageEventDefinition(CamundaMessageEventDefinition):
    """A Camunda message definition whose catch merges plain message variables into the task data."""

    def update_internal_data(self, my_task, event) -> None:
        payload = event.payload
        if isinstance(payload, dict) and set(payload) == ENVELOPE_KEYS:  # sent by a Camunda throw event
            super().update_internal_data(my_task, event)
            return
        variables = payload if isinstance(payload, dict) else {} if payload is None else {"value": payload}
        my_task.internal_data[self.name] = {VARIABLES: dict(variables)}

    def update_task_data(self, my_task) -> None:
        caught = my_task.internal_data.get(self.name) or {}
        if VARIABLES in caught:
            my_task.data.update(caught[VARIABLES])
        else:
            super().update_task_data(my_task)


class VariablesMessageParserMixin:
    """Builds :class:`CamundaVariablesMessageEventDefinition` where the Camunda parser builds its own."""

    def parse_message_event(self, message_event):
        parsed = super().parse_message_event(message_event)
        return CamundaVariablesMessageEventDefinition(
            parsed.name, parsed.correlation_properties, parsed.expression, parsed.result_var
        )


EVENT_TAGS = ("startEvent", "intermediateCatchEvent", "boundaryEvent", "intermediateThrowEvent", "endEvent")


def with_variable_messages(overrides: dict) -> dict:
    """A copy of the Camunda parser's ``OVERRIDE_PARSER_CLASSES`` whose events parse variable-merging messages."""
    result = dict(overrides)
    for tag in EVENT_TAGS:
        parser, spec_class = overrides[full_tag(tag)]
        variant = type(f"Variables{parser.__name__}", (VariablesMessageParserMixin, parser), {})
        result[full_tag(tag)] = (variant, spec_class)
    return result
