"""JUEL and FEEL translated to sandbox Python: results over sample variables, failures, and refusals.

Every expression here is translated by engine.expressions and evaluated by the real script
sandbox (the environment the engine runs), never by calling the runtime helpers directly.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.expression_runtime import ExpressionFailure, UnknownVariable
from engine.expressions import (
    CONDITION,
    EVENT_CONDITION,
    INTEGER,
    TEXT,
    VALUE,
    ExpressionError,
    split_list,
    translate,
    variable_name,
)
from engine.sandbox import restriction_problems
from engine.scripting import create_script_engine

SAMPLE = {
    "amount": 150,
    "small": 40,
    "price": 2.5,
    "text_five": "5",
    "text_half": "1.5",
    "word": "gold",
    "blank": "",
    "nothing": None,
    "yes": True,
    "no": False,
    "negative": -7,
    "items": ["a", "b"],
    "none_left": [],
    "customer": {"tier": "gold", "email": "ann@example.org", "tags": ["vip"]},
    "order": {"lines": [{"sku": "x1"}, {"sku": "y2"}]},
    "hours": 4,
    "flag_text": "TRUE",
    "big": 2**62,
    "rate": Decimal("0.10"),
}

JUEL = [
    # literals
    ("${42}", VALUE, 42),
    ("${2.5e1}", VALUE, 25.0),
    ("${'it\\'s'}", VALUE, "it's"),
    ('${"double"}', VALUE, "double"),
    ("${true}", VALUE, True),
    ("${null}", VALUE, None),
    # identifiers and properties
    ("${amount}", VALUE, 150),
    ("${customer.tier}", VALUE, "gold"),
    ("${customer['email']}", VALUE, "ann@example.org"),
    ("${customer.missing}", VALUE, None),
    ("${nothing.anything}", VALUE, None),
    ("${items[1]}", VALUE, "b"),
    ("${items['0']}", VALUE, "a"),
    ("${items[5]}", VALUE, None),
    ("${items[-1]}", VALUE, None),
    ("${order.lines[1].sku}", VALUE, "y2"),
    ("${execution.getVariable('amount')}", VALUE, 150),
    ("${execution.getVariable('not_there')}", VALUE, None),
    # arithmetic with JUEL's coercions
    ("${amount + 1}", VALUE, 151),
    ("${text_five + 1}", VALUE, 6),
    ("${text_half + 1}", VALUE, 2.5),
    ("${nothing + nothing}", VALUE, 0),
    ("${nothing + 3}", VALUE, 3),
    ("${7 / 2}", VALUE, 3.5),
    ("${7 div 2}", VALUE, 3.5),
    ("${8 / 2}", VALUE, 4.0),
    ("${negative % 3}", VALUE, -1),
    ("${negative mod 3}", VALUE, -1),
    ("${7.5 % 2}", VALUE, 1.5),
    ("${price * 2}", VALUE, 5.0),
    ("${-text_five}", VALUE, -5),
    ("${-nothing}", VALUE, 0),
    ("${amount - small * 2}", VALUE, 70),
    ("${(amount - small) * 2}", VALUE, 220),
    ("${rate * 3}", VALUE, Decimal("0.30")),
    # comparisons
    ("${amount > 100}", CONDITION, True),
    ("${amount <= 100}", CONDITION, False),
    ("${small lt 100}", CONDITION, True),
    ("${amount ge 150}", CONDITION, True),
    ("${amount == '150'}", CONDITION, True),
    ("${text_five eq 5}", CONDITION, True),
    ("${word == 'gold'}", CONDITION, True),
    ("${word ne 'silver'}", CONDITION, True),
    ("${yes == 'true'}", CONDITION, True),
    ("${flag_text == true}", CONDITION, True),
    ("${nothing == null}", CONDITION, True),
    ("${nothing != 0}", CONDITION, True),
    ("${nothing < 1}", CONDITION, False),
    ("${nothing > 1}", CONDITION, False),
    ("${nothing <= nothing}", CONDITION, True),
    ("${'apple' < 'banana'}", CONDITION, True),
    ("${price > 2}", CONDITION, True),
    ("${rate == 0.1}", CONDITION, True),
    # logic, empty, the conditional operator
    ("${yes && amount > 100}", CONDITION, True),
    ("${yes and no}", CONDITION, False),
    ("${no || small < 50}", CONDITION, True),
    ("${no or nothing}", CONDITION, False),
    ("${!no}", CONDITION, True),
    ("${not yes}", CONDITION, False),
    ("${!nothing}", CONDITION, True),
    ("${blank || flag_text}", CONDITION, True),
    ("${empty nothing}", CONDITION, True),
    ("${empty blank}", CONDITION, True),
    ("${empty none_left}", CONDITION, True),
    ("${empty items}", CONDITION, False),
    ("${not empty customer.email}", CONDITION, True),
    ("${empty customer.missing}", CONDITION, True),
    ("${no || (yes && !empty items)}", CONDITION, True),
    ("${amount > 100 ? 'big' : 'small'}", VALUE, "big"),
    ("${nothing ? 1 : 2}", VALUE, 2),
    ("#{amount > 100}", CONDITION, True),
    # text: composites and EL 3.0's +=
    ("PT${hours}H", TEXT, "PT4H"),
    ("${'PT' += hours += 'H'}", TEXT, "PT4H"),
    ("Case ${word}-${nothing}!", TEXT, "Case gold-!"),
    ("${price += ''}", TEXT, "2.5"),
    ("${1.5e10 += ''}", TEXT, "1.5E10"),
    ("${items += ''}", TEXT, "[a, b]"),
    ("${customer.tags}", TEXT, ["vip"]),
    ("#{word}", TEXT, "gold"),
    ("costs \\${amount}: ${amount}", TEXT, "costs ${amount}: 150"),
    ("costs \\${amount}", TEXT, "costs ${amount}"),
    # where the result must have a type
    ("${text_five}", INTEGER, 5),
    ("${price}", INTEGER, 2),
    ("${not_yet_set > 1}", EVENT_CONDITION, False),
    ("${amount > 100}", EVENT_CONDITION, True),
]

FEEL = [
    ("=amount > 100", CONDITION, True),
    ("=amount <= 100", CONDITION, False),
    ('=word = "gold"', CONDITION, True),
    ('=word != "gold"', CONDITION, False),
    ("=yes and amount > 100", CONDITION, True),
    ("=no or small < 50", CONDITION, True),
    ("=not(no)", CONDITION, True),
    ("=nothing = null", CONDITION, True),
    ("=not_there = null", CONDITION, True),
    ('=customer.tier = "gold"', CONDITION, True),
    ("=0.1 + 0.2 = 0.3", CONDITION, True),
    ("=amount = 150.0", CONDITION, True),
    ("=price >= 2.5", CONDITION, True),
    ('="apple" < "banana"', CONDITION, True),
    ('=if amount > 100 then "big" else "small"', VALUE, "big"),
    ("=if nothing then 1 else 2", VALUE, 2),
    ("=amount", VALUE, 150),
    ("=7 / 2", VALUE, 3.5),
    ("=6 / 2", VALUE, 3),
    ("=1 / 0", VALUE, None),
    ("=amount - small * 2", VALUE, 70),
    ("=-small", VALUE, -40),
    ('="PT" + "4H"', VALUE, "PT4H"),
    ('="PT" + hours', VALUE, None),
    ("=order.lines.sku", VALUE, ["x1", "y2"]),
    ('=[word, "sales"]', VALUE, ["gold", "sales"]),
    ("=customer.missing", VALUE, None),
    ("=nothing.anything", VALUE, None),
    ('=amount > "100"', VALUE, None),
    ("=yes and nothing", VALUE, None),
    ("=no and nothing", VALUE, False),
    ("=yes or nothing", VALUE, True),
    ("=not(amount)", VALUE, None),
    ("=1.50", VALUE, 1.5),
    ("=hours", INTEGER, 4),
    ('="PT1H"', TEXT, "PT1H"),
]

RUN_FAILURES = [
    ("${not_there}", VALUE, UnknownVariable, "Cannot resolve identifier 'not_there'"),
    ("${not_there > 1}", CONDITION, UnknownVariable, "Cannot resolve identifier 'not_there'"),
    ("${word}", CONDITION, ExpressionFailure, "the condition gave str 'gold', not true or false"),
    ("${nothing}", CONDITION, ExpressionFailure, "the condition gave null, not true or false"),
    ("${word + 1}", VALUE, ExpressionFailure, "cannot coerce str 'gold' to a number"),
    ("${yes + 1}", VALUE, ExpressionFailure, "cannot coerce the boolean true to a number"),
    ("${amount && yes}", CONDITION, ExpressionFailure, "cannot coerce int 150 to a boolean"),
    ("${amount / 0}", VALUE, ExpressionFailure, "division by zero"),
    ("${amount % 0}", VALUE, ExpressionFailure, "division by zero"),
    ("${big * 4}", VALUE, ExpressionFailure, "beyond the range of a Java long"),
    ("${word.length}", VALUE, ExpressionFailure, "property 'length' not found on str 'gold'"),
    ("${word == 5}", CONDITION, ExpressionFailure, "cannot coerce str 'gold' to a number"),
    ("${items < 3}", CONDITION, ExpressionFailure, "cannot coerce list"),
    ("${word}", INTEGER, ExpressionFailure, "cannot coerce str 'gold' to a number"),
    ("${nothing}", INTEGER, ExpressionFailure, "the cardinality gave null, not a number"),
    ("=not_there > 1", CONDITION, ExpressionFailure, "the condition gave null, not true or false"),
    ('=amount = "150"', CONDITION, ExpressionFailure, "the condition gave null, not true or false"),
    ("=amount", CONDITION, ExpressionFailure, "the condition gave int 150, not true or false"),
]

REFUSALS = [
    ("${bean.method()}", CONDITION, "JUEL: the method call bean.method() is not supported"),
    ("${items.size() > 0}", CONDITION, "the method call items.size() is not supported"),
    ("${execution.setVariable('x', 1)}", VALUE, "execution.setVariable() is not supported"),
    ("${execution.getProcessBusinessKey()}", VALUE, "execution.getProcessBusinessKey() is not supported"),
    ("${execution.getVariable('a', 'b')}", VALUE, "execution.getVariable() is not supported"),
    ("${execution}", VALUE, "execution may only be used as execution.getVariable('name')"),
    ("${upper(word)}", VALUE, "the function upper() is not supported"),
    ("${fn:upper(word)}", VALUE, "unexpected ':' at character 5: functions with a prefix"),
    ("${x -> x + 1}", VALUE, "lambda expressions are not supported"),
    ("${amount = 5}", CONDITION, "unexpected '=' at character 10: assignment (=) is not supported"),
    ("${a; b}", VALUE, "several expressions separated by ; are not supported"),
    ("${[1, 2]}", VALUE, "list literals are not supported"),
    ("${{'a': 1}}", VALUE, "set and map literals are not supported"),
    ("${a instanceof b}", CONDITION, "instanceof is not supported"),
    ("${nrOfCompletedInstances >= 2}", CONDITION, "nrOfCompletedInstances is a variable of Camunda's multi-instance"),
    ("=loopCounter", VALUE, "loopCounter is a variable of Camunda's multi-instance activities that carecenter lacks"),
    ("${'tab\\t'}", VALUE, "the escape \\t in a string is not supported"),
    ("${99999999999999999999}", VALUE, "too large for a Java long"),
    ("${amount > }", CONDITION, "unexpected end of the expression"),
    ("${amount > 100", CONDITION, "has no closing }"),
    ("${}", VALUE, "JUEL: empty expression"),
    ("${a} ${b}", CONDITION, "a condition must be one ${...} expression"),
    ("big: ${amount > 100}", TEXT, None),  # composite text is fine where text is expected ...
    ("${amount > 100} ", CONDITION, None),  # ... and surrounding blanks do not count
    ("${a}#{b}", TEXT, "may not mix ${...} and #{...}"),
    ("=amount == 100", CONDITION, "FEEL compares with a single ="),
    ("=a && b", CONDITION, "FEEL writes and"),
    ("=!a", CONDITION, "FEEL writes not(x)"),
    ("='gold'", VALUE, 'FEEL strings take double quotes: "text"'),
    ("=x in [1, 2]", CONDITION, "the FEEL in operator (unary tests) is not supported"),
    ("=x between 1 and 2", CONDITION, "the FEEL between operator is not supported"),
    ("=some x in xs satisfies x > 1", CONDITION, "quantified expressions"),
    ("={a: 1}", VALUE, "FEEL contexts {...} are not supported"),
    ('=@"2024-01-01"', VALUE, "temporal literals"),
    ("=items[1]", VALUE, "filters and indexes such as items[1] are not supported"),
    ("=2 ** 8", VALUE, "exponentiation (**) is not supported"),
    ("=upper case(word)", VALUE, "unexpected"),
    ("=string(hours)", VALUE, "the function string() is not supported (only not(x) is)"),
    ("=a.b(1)", VALUE, "calling a.b is not supported"),
    ("=", VALUE, "FEEL: empty expression"),
]

NOT_TRANSLATED = [
    ("amount > 100", CONDITION),
    ("choice == 'Yes'", CONDITION),
    ('"P" + str(days) + "D"', TEXT),
    ("PT1H", TEXT),
    ("R3/PT1H", TEXT),
    ("support", TEXT),
    ("team ${x}", CONDITION),  # in an expression place only a leading ${ makes JUEL
    ("", VALUE),
]


@pytest.fixture(scope="module")
def environment():
    return create_script_engine().environment


def run(environment, text: str, use: str):
    python = translate(text, use)
    assert python is not None
    assert restriction_problems(python, "eval") == [], python
    return environment.evaluate(python, dict(SAMPLE))


@pytest.mark.parametrize(("text", "use", "expected"), JUEL + FEEL, ids=[f"{t} [{u}]" for t, u, _ in JUEL + FEEL])
def test_expressions_give_what_camunda_gives(environment, text, use, expected):
    result = run(environment, text, use)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("text", "use", "error", "message"), RUN_FAILURES, ids=[r[0] for r in RUN_FAILURES])
def test_expressions_fail_where_camunda_fails(environment, text, use, error, message):
    with pytest.raises(error) as caught:
        run(environment, text, use)
    assert message in str(caught.value)


@pytest.mark.parametrize(("text", "use", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_constructs_outside_the_subset_are_refused_by_name(text, use, message):
    if message is None:
        assert translate(text, use) is not None
        return
    with pytest.raises(ExpressionError) as caught:
        translate(text, use)
    assert message in str(caught.value)


@pytest.mark.parametrize(("text", "use"), NOT_TRANSLATED)
def test_python_and_literal_text_are_left_alone(text, use):
    assert translate(text, use) is None


def test_refusals_say_where_in_the_text_as_written():
    text = "\n   ${amount > 100 &&\n bean.call()}"
    with pytest.raises(ExpressionError) as caught:
        translate(text, CONDITION)
    assert text[caught.value.offset :].startswith("bean.call()")
    assert "(at character 20)" in str(caught.value)  # counted in the stripped text a designer sees


def test_task_data_named_like_the_helper_wins_in_plain_python(environment):
    assert environment.evaluate("camunda_el", {"camunda_el": 5}) == 5
    with pytest.raises(AttributeError):  # and a translated expression then fails loudly
        environment.evaluate(translate("${a}", VALUE), {"camunda_el": 5, "a": 1})


def test_event_conditions_fail_for_other_errors_than_a_missing_variable(environment):
    with pytest.raises(ExpressionFailure, match="cannot coerce"):
        run(environment, "${word + 1 > 2}", EVENT_CONDITION)


def test_candidate_lists_split_outside_expressions():
    assert split_list(" ${team}, sales ,,${a ? 'x,y' : 'z'}") == ["${team}", "sales", "${a ? 'x,y' : 'z'}"]
    assert split_list('=["a", "b"]') == ['=["a", "b"]']
    assert split_list(None) == []


def test_collections_name_a_variable():
    assert variable_name("${items}") == "items"
    assert variable_name("#{items}") == "items"
    assert variable_name("=items") == "items"
    assert variable_name("${execution.getVariable('line items')}") == "line items"
    assert variable_name("items") is None
    with pytest.raises(ExpressionError, match="only a variable may stand here"):
        variable_name("${order.items}")
    with pytest.raises(ExpressionError, match="the method call"):
        variable_name("${order.getItems()}")
