"""Test support for concurrency claims: real threads against PostgreSQL or MongoDB, and
interleavings.

- ``race``: N threads released at the same instant by a barrier; their results (or exceptions)
  in order. For "twenty simultaneous X end as one X".
- ``RunBefore`` / ``RunAfter`` (Saleor's idea): run a callable just before or just after a given
  function is called, by patching the module attribute the code under test looks up. For "Y
  happens between this read and that write": deterministic, no threads needed.
- ``concurrent_database``: a fixture that skips on SQLite, where threads prove nothing; the
  threads run on PostgreSQL and on MongoDB. (``postgresql_only``: the older, narrower skip.)
"""

import pkgutil
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from unittest import mock

import pytest
from django.db import connection


@pytest.fixture
def postgresql_only():
    """Skip on SQLite, which serialises every writer: threads there prove nothing. (The name is
    historical: the concurrency tests run on PostgreSQL and on MongoDB.)"""
    if connection.vendor == "sqlite":
        pytest.skip("real concurrency needs PostgreSQL or MongoDB (SQLite serialises writers)")


@pytest.fixture
def concurrent_database():
    """Skip on SQLite only, which serialises every writer. PostgreSQL and MongoDB take
    simultaneous writers, so the guards under test (conditional updates of one row or document,
    unique indexes) are really raced there."""
    if connection.vendor == "sqlite":
        pytest.skip("real concurrency needs PostgreSQL or MongoDB (SQLite serialises every writer)")


def race(
    call: Callable,
    threads: int | None = None,
    *,
    args: Iterable | None = None,
    return_exceptions: bool = False,
    timeout: float = 60,
) -> list:
    """Run ``call`` in ``threads`` threads released at the same instant; their results, in order.

    With ``args``, one thread per item, each running ``call(item)``; without, ``call()``. An
    exception in a thread is re-raised here once every thread has finished, or, with
    ``return_exceptions=True``, returned in that thread's place (the refusals a test counts).
    Each thread closes its own database connection.
    """
    if args is None:
        if threads is None:
            raise TypeError("race() needs threads or args")
        calls = [call] * threads
    else:
        calls = [lambda item=item: call(item) for item in args]
        assert threads in (None, len(calls)), "threads and args disagree"
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)
    failed: list[bool] = [False] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout)
            outcomes[index] = calls[index]()
        except BaseException as error:  # collected: the caller decides
            outcomes[index], failed[index] = error, True
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout)
    stuck = sum(worker.is_alive() for worker in workers)
    assert not stuck, f"{stuck} of {len(workers)} racing threads still running after {timeout}s"
    if not return_exceptions:
        for outcome, raised in zip(outcomes, failed, strict=True):
            if raised:
                raise outcome
    return outcomes


class _RunAround(AbstractContextManager):
    """Patch ``target`` ("package.module.name", or "package.module.Class.method") with a wrapper
    that calls ``callback`` with the same arguments before or after the real call."""

    after = False

    def __init__(
        self, target: str, callback: Callable, *, when: Callable | None = None, once=False
    ):
        self.target, self.callback, self.when, self.once = target, callback, when, once
        self.calls = 0  # how many times the callback ran

    def __enter__(self):
        original = pkgutil.resolve_name(self.target)

        def wrapper(*args, **kwargs):
            wanted = (self.when is None or self.when(*args, **kwargs)) and not (
                self.once and self.calls
            )
            if wanted and not self.after:
                self.calls += 1
                self.callback(*args, **kwargs)
            result = original(*args, **kwargs)
            if wanted and self.after:
                self.calls += 1
                self.callback(*args, **kwargs)
            return result

        self._patch = mock.patch(self.target, wrapper)
        self._patch.start()
        return self

    def __exit__(self, *exc_info):
        self._patch.stop()
        return False


class RunBefore(_RunAround):
    """``with RunBefore("enrollments.services.refunds.transition", callback): ...`` runs
    ``callback(*args, **kwargs)`` just before each call of the target (only when
    ``when(*args, **kwargs)`` is true, and only the first time with ``once=True``). Patch the
    name where the code under test looks it up."""

    after = False


class RunAfter(_RunAround):
    """As ``RunBefore``, but the callback runs just after the target returned."""

    after = True
