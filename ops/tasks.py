"""Celery tasks for ops: the periodic alert check and the nightly reconciliation. Running one
twice is harmless. The incident e-mails go through the outbox (``common.outbox``)."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import alerts, reconciliation


@shared_task
def check_alerts() -> dict[str, str]:
    return alerts.check_alerts()


@shared_task
def nightly_reconcile() -> int:
    """Reconcile the last week every night; a run with unrepaired drift alerts staff once."""
    return reconciliation.reconcile(since=timezone.now() - timedelta(days=7)).pk
