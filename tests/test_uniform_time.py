"""Public lookups by tracking code are padded to one duration, for hits, misses and errors alike."""

import time

import pytest

from api.uniform_time import uniform_duration


def test_a_fast_block_is_padded_to_the_floor():
    started = time.monotonic()
    with uniform_duration(0.05):
        pass
    assert time.monotonic() - started >= 0.05


def test_a_block_that_raises_is_padded_too_and_the_error_passes():
    started = time.monotonic()
    with pytest.raises(LookupError), uniform_duration(0.05):
        raise LookupError("unknown code")
    assert time.monotonic() - started >= 0.05
