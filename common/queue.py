"""Publishing Celery tasks after commit, without letting a broker outage fail the request.

Side effects run in tasks enqueued on commit, and the database row, not the queue, is the source
of truth: a periodic sweep re-enqueues whatever a lost message left undone. So when the publish
itself fails (Redis down), the change is already committed: the failure is logged and left to
that sweep. It never becomes a 500, and never skips the other after-commit work of the same
transaction.

Use these rather than ``transaction.on_commit(partial(task.delay, ...), robust=True)``: outside a
transaction Django runs the callback at once and, when it raises, its robust path logs
``func.__qualname__``, which a ``functools.partial`` does not have — so the request failed anyway.
"""

import logging
from collections.abc import Callable

from django.db import transaction
from django.dispatch import Signal
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue(task, *args) -> bool:
    """Publish ``task(*args)`` now; False (logged) when the broker cannot be reached."""
    try:
        # Celery would otherwise describe the arguments with its reprlib-style saferepr, a
        # third of a millisecond of CPU per publish: they are ids and keys, repr() is as clear.
        task.apply_async(args, argsrepr=repr(args), kwargsrepr="{}")
    except OperationalError as error:
        logger.error(
            "event=task.publish_failed task=%s args=%s error=%r (left for the sweep)",
            task.name,
            args,
            str(error)[:200],
        )
        return False
    return True


def _after_commit(name: str, func: Callable[[], object]) -> None:
    func.__qualname__ = name  # what Django names in its log if the callback ever raises
    transaction.on_commit(func)


def enqueue_on_commit(task, *args) -> None:
    """After the current transaction commits (at once outside one), publish ``task(*args)``."""
    _after_commit(f"enqueue {task.name}", lambda: enqueue(task, *args))


def send_on_commit(signal: Signal, sender, **kwargs) -> None:
    """After commit, send ``signal``; its receivers publish through ``enqueue``."""
    _after_commit("send_on_commit", lambda: signal.send(sender=sender, **kwargs))
