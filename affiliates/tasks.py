"""Celery tasks: they take ids, call one service and are safe to run twice. The welcome e-mail
is not a task here: it goes through the outbox (``common.outbox``)."""

from celery import shared_task

from . import services


@shared_task
def approve_matured_commissions() -> int:
    return services.approve_matured_commissions()


@shared_task
def refresh_stale_earnings() -> int:
    """Every 10 minutes (``CELERY_BEAT_SCHEDULE``): daily totals a crash or import left stale."""
    affiliates, _days = services.refresh_stale_earnings()
    return affiliates
