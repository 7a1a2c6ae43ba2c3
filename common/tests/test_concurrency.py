"""The race helpers themselves: what the concurrency tests lean on must do what it says."""

import threading

import pytest

from common import money
from common.testing.concurrency import RunAfter, RunBefore, race


def test_race_releases_every_thread_together_and_keeps_the_order():
    arrived = threading.Barrier(4)  # would time out unless all four run at once

    def call(item):
        arrived.wait(5)
        return item * 2

    assert race(call, args=[1, 2, 3, 4]) == [2, 4, 6, 8]
    assert race(lambda: "ok", 3) == ["ok", "ok", "ok"]


def test_race_collects_exceptions_or_raises_the_first():
    def call(item):
        if item % 2:
            raise ValueError(item)
        return item

    outcomes = race(call, args=range(4), return_exceptions=True)
    assert outcomes[0::2] == [0, 2]
    assert [type(o) for o in outcomes[1::2]] == [ValueError, ValueError]
    with pytest.raises(ValueError):
        race(call, args=range(4))


def test_run_before_and_after_call_the_callback_around_the_real_function():
    seen = []
    target = "common.money.format_money"

    with (
        RunBefore(target, lambda cents, *a, **k: seen.append(("before", cents))),
        RunAfter(target, lambda cents, *a, **k: seen.append(("after", cents))),
    ):
        result = money.format_money(1250, "usd")

    assert result == money.format_money(1250, "usd")  # the real call, unchanged
    assert seen == [("before", 1250), ("after", 1250)]


def test_run_before_with_when_and_once():
    seen = []
    with RunBefore(
        "common.money.format_money",
        lambda cents, *a, **k: seen.append(cents),
        when=lambda cents, *a, **k: cents > 100,
        once=True,
    ) as hook:
        for cents in (50, 200, 300):
            money.format_money(cents, "usd")

    assert seen == [200] and hook.calls == 1
    money.format_money(400, "usd")  # unpatched again
    assert seen == [200]


class Counter:
    def bump(self, by):
        return by + 1


def test_run_before_patches_a_method_on_a_class():
    seen = []
    with RunBefore(f"{__name__}.Counter.bump", lambda counter, by: seen.append(by)):
        assert Counter().bump(2) == 3
    assert seen == [2]
    assert Counter.bump.__name__ == "bump"  # restored
