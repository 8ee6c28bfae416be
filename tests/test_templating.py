"""The template sandbox: escapes and bombs end in a TemplateError; ordinary templates render and escape HTML."""

from __future__ import annotations

import copy

import pytest

from engine.templating import MAX_TEMPLATE_LENGTH, TemplateError, render_html, render_text, template_problems

# (id, template, a fragment of the error, whether template_problems finds it before rendering)
ESCAPES = [
    ("mro walk", "{{ ''.__class__.__mro__ }}", "'__class__' of 'str' object is unsafe", True),
    ("cycler globals", "{{ cycler.__init__.__globals__ }}", "'__init__'", True),
    ("template context", "{{ self._TemplateReference__context }}", "_TemplateReference__context", True),
    ("dunder by item", "{{ ''['__class__'] }}", "'__class__' of 'str' object is unsafe", True),
    ("attr filter", "{{ ''|attr('__class__') }}", "'__class__' of 'str' object is unsafe", False),
    ("str.format attribute", "{{ '{0.__class__}'.format(1) }}", "str.format() is not allowed", False),
    ("changing the data", "{{ items.append(99) }}", "'append' of 'list' object is unsafe", False),
    ("huge range", "{{ range(10**9)|list }}", "MAX_RANGE", False),
    (
        "nested loops",
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
        "time limit",
        False,
    ),
    ("huge string", "{{ 'a' * 10**10 }}", "would exceed", False),
    ("huge padding filter", "{{ 'a'|center(10**9) }}", "center() width is limited", False),
    ("huge padding method", "{{ 'a'.center(10**9) }}", "center() width", False),
    ("huge join", "{{ range(99999)|join('x' * 99999) }}", "join() would exceed", False),
    ("huge batch", "{{ [1]|batch(10**9, 'x')|list }}", "batch() size is limited", False),
    ("huge format width", "{{ '%999999999s'|format(1) }}", "format width", True),
    ("huge output", "{% for i in range(99999) %}{{ 'x' * 100 }}{% endfor %}", "output is longer", False),
    (
        "doubling macro",
        "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s|length }}{% endmacro %}{{ d('a' * 999, 40) }}",
        "MiB of memory|time limit|out of memory",
        False,
    ),
    ("lipsum", "{{ lipsum(10**6) }}", "'lipsum' is undefined", False),
]


@pytest.mark.parametrize(("template", "error", "found_early"), [e[1:] for e in ESCAPES], ids=[e[0] for e in ESCAPES])
def test_escapes_and_bombs_end_in_a_template_error(template, error, found_early):
    variables = {"items": [1, 2], "name": "Ann"}
    before = copy.deepcopy(variables)

    for render in (render_text, render_html):
        with pytest.raises(TemplateError) as caught:
            render(template, variables)
        assert any(fragment in str(caught.value) for fragment in error.split("|")), str(caught.value)
        assert "Traceback" not in str(caught.value)

    assert variables == before
    assert bool(template_problems(template)) == found_early


def test_text_renders_process_data():
    text = render_text(
        "Hello {{ name }}, your visit is on {{ day }}."
        "{% for v in visits %} [{{ loop.index }}: {{ v|upper }}]{% endfor %}"
        " {{ '%05.1f'|format(total) }} {{ data|tojson }}",
        {"name": "Ann <ann@x>", "day": "Monday", "visits": ["a", "b"], "total": 3.14159, "data": {"k": 1}},
    )
    assert text == 'Hello Ann <ann@x>, your visit is on Monday. [1: A] [2: B] 003.1 {"k": 1}'


def test_html_escapes_values_unless_marked_safe():
    html = render_html("<p>{{ name }}</p>{{ note|safe }}", {"name": "<script>alert(1)</script>", "note": "<b>ok</b>"})
    assert html == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p><b>ok</b>"


def test_a_missing_variable_is_an_error_with_its_line_unless_defaulted():
    with pytest.raises(TemplateError) as caught:
        render_text("Hello\n{{ nmae }}", {"name": "Ann"})
    assert str(caught.value) == "template error: 'nmae' is undefined (line 2)"
    assert caught.value.line == 2
    assert render_text("Hello {{ nmae|default('there') }}", {}) == "Hello there"


def test_ordinary_errors_are_designer_readable():
    with pytest.raises(TemplateError, match=r"template error: ZeroDivisionError: division by zero \(line 1\)"):
        render_text("{{ 1 / zero }}", {"zero": 0})


def test_syntax_errors_and_length_are_found_before_rendering():
    [problem] = template_problems("Hello {{ name ")
    assert problem.startswith("template syntax error: unexpected end of template")
    assert problem.endswith("(line 1)")
    with pytest.raises(TemplateError, match="syntax error"):
        render_text("{% for x in items %}", {"items": []})

    too_long = "x" * (MAX_TEMPLATE_LENGTH + 1)
    assert template_problems(too_long) == [f"the template is longer than {MAX_TEMPLATE_LENGTH} characters"]
    with pytest.raises(TemplateError, match="longer than"):
        render_text(too_long, {})
    assert template_problems("Dear {{ name }}, {{ items|join(', ') }}") == []
