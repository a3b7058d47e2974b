"""pipeline.prefetch: order kept, errors raised in the consumer, producers stopped early."""
from __future__ import annotations

import threading
import time

import pytest

from leadscore_fast.pipeline import prefetch


def test_items_in_order_and_bounded_ahead():
    produced = []

    def items():
        for i in range(20):
            produced.append(i)
            yield i
    got = []
    for x in prefetch(items(), depth=2):
        time.sleep(0.001)
        assert len(produced) - len(got) <= 4  # depth queued + one in hand + one being made
        got.append(x)
    assert got == list(range(20))


def test_a_producer_error_is_raised_in_the_consumer():
    def items():
        yield 1
        raise ValueError("bad batch")
    it = prefetch(items())
    assert next(it) == 1
    with pytest.raises(ValueError, match="bad batch"):
        next(it)


def test_closing_early_stops_the_producer():
    def items():
        i = 0
        while True:  # endless: only the consumer's close can stop it
            yield i
            i += 1
    it = prefetch(items(), depth=1, name="endless-producer")
    assert next(it) == 0
    it.close()  # joins the producer thread
    assert not [t for t in threading.enumerate() if t.name == "endless-producer"]
