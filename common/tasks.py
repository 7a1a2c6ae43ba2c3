"""The outbox's Celery tasks (``common.outbox``). Safe to run twice: the row's claim decides."""

from datetime import datetime

from celery import shared_task

from . import outbox


@shared_task
def deliver_outbox_email(key: str, as_of: str | None = None) -> bool:
    """Send one queued e-mail if it is still owed and due (``as_of``: the sweep that found it
    due, ISO 8601). Failures are retried by the outbox's own policy (the row's
    ``next_attempt_at`` and the sweep), never by Celery."""
    return outbox.deliver(key, as_of=datetime.fromisoformat(as_of) if as_of else None)


@shared_task
def sweep_outbox() -> int:
    """Every minute (``CELERY_BEAT_SCHEDULE``): due e-mails, retries and stale claims."""
    return outbox.sweep()
