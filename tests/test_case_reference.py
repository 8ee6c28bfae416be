"""Case references: the check character catches every single substitution and adjacent swap; parsing forgives."""

from __future__ import annotations

import pytest

from engine import case_reference
from engine.case_reference import ALPHABET, BODY_LENGTH, CHECK_MODULUS, InvalidReference, parse


def body(reference: str) -> str:
    return reference.removeprefix("CC-").replace("-", "")


def test_the_check_detects_every_substitution_and_adjacent_swap_at_every_position():
    """The algebra behind it, for all references at once: no change of one character or swap leaves 37 | the sum.

    The check compares N mod 37 with the check character c, where N is the number of the seven data
    characters. Changing data character k from a to b adds (b - a) * 32**(6 - k) to N; swapping data
    characters k and k + 1 adds (a - b) * (32**(7 - k) - 32**(6 - k)). Neither is ever a multiple of 37.
    A changed check character differs from N mod 37 by construction. Swapping the last data character d
    with c gives N' = N - d + c and the check d: N' = d (mod 37) would mean 2c = 2d, so c = d (37 is prime).
    """
    data = BODY_LENGTH - 1
    differences = [a - b for a in range(32) for b in range(32) if a != b]
    for k in range(data):
        weight = 32 ** (data - 1 - k)
        for difference in differences:
            assert difference * weight % CHECK_MODULUS != 0
            if k + 1 < data:
                assert difference * (32 * weight - weight) % CHECK_MODULUS != 0
    for difference in differences:  # c - d, the check character and the last data character
        assert 2 * difference % CHECK_MODULUS != 0


def test_ten_thousand_references_reject_every_substitution_and_every_adjacent_swap():
    references = [case_reference.new() for _ in range(10_000)]
    consistent = case_reference.is_consistent
    checked = 0
    for reference in references:
        assert len(reference) <= 12 and reference.startswith("CC-")
        text = body(reference)
        assert consistent(text) and set(text) <= set(ALPHABET)
        for k in range(BODY_LENGTH):
            before, after = text[:k], text[k + 1 :]
            for char in ALPHABET:
                if char != text[k]:
                    assert not consistent(before + char + after), (reference, k, char)
                    checked += 1
            if k + 1 < BODY_LENGTH and text[k] != text[k + 1]:
                assert not consistent(text[:k] + text[k + 1] + text[k] + text[k + 2 :]), (reference, k)
                checked += 1
    assert checked > 10_000 * BODY_LENGTH * 31


def test_parse_refuses_a_typo_and_a_swap_with_a_clear_message():
    reference = case_reference.new()
    text = body(reference)
    typo = text[:3] + next(c for c in ALPHABET if c != text[3]) + text[4:]
    swap = next(
        text[:k] + text[k + 1] + text[k] + text[k + 2 :] for k in range(BODY_LENGTH - 1) if text[k] != text[k + 1]
    )
    for wrong in (typo, swap):
        with pytest.raises(InvalidReference, match="mistyped or two were swapped"):
            parse(wrong)


@pytest.mark.parametrize(
    "typed",
    [
        "CC-7K4M-2QXE",
        "cc-7k4m-2qxe",
        "CC7K4M2QXE",
        "7K4M2QXE",
        "7k4m-2qxe",
        " CC - 7K4M - 2QXE ",
        "CC–7K4M–2QXE",  # en dashes, as word processors write them
        "C-C-7-K-4-M-2-Q-X-E",
    ],
)
def test_parse_forgives_case_separators_and_the_missing_prefix(typed):
    assert parse(typed) == "CC-7K4M-2QXE"


def test_o_reads_as_zero_and_i_and_l_as_one():
    assert case_reference.check_value("0101011") == 2
    assert parse("o1o1-oil2") == parse("OlOI0112") == "CC-0101-0112"


@pytest.mark.parametrize(
    "typed, reason",
    [
        ("", "has 8 characters"),
        ("CC-7K4M-2QX", "has 8 characters"),
        ("CC-7K4M-2QXEE", "has 8 characters"),
        ("CC-7K4M-2QUE", "not U"),
        ("CC-7K4M-2Q*E", r"not \*"),
        ("CC-7K4M-2QX9", "mistyped or two were swapped"),
        ("x" * 500, "looks like"),
    ],
)
def test_what_is_no_reference_is_refused(typed, reason):
    with pytest.raises(InvalidReference, match=reason):
        parse(typed)


def test_unused_draws_again_while_a_reference_is_taken():
    taken: set[str] = set()
    answers = iter([True, True, False])

    def is_taken(reference: str) -> bool:
        taken.add(reference)
        return next(answers)

    reference = case_reference.unused(is_taken)
    assert reference in taken and len(taken) == 3
    with pytest.raises(RuntimeError, match="no unused case reference"):
        case_reference.unused(lambda _reference: True, tries=3)
