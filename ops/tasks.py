"""Celery tasks for ops: the periodic alert check and the incident e-mails. Each takes ids and
re-reads rows, so running one twice is harmless."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import alerts, reconciliation


@shared_task
def check_alerts() -> dict[str, str]:
    return alerts.check_alerts()


@shared_task(bind=True, max_retries=8, default_retry_delay=60)
def notify_incident(self, incident_id: int) -> list[str]:
    try:
        return alerts.notify_incident(incident_id=incident_id)
    except Exception as error:
        raise self.retry(exc=error)


@shared_task
def nightly_reconcile() -> int:
    """Reconcile the last week every night; a run with unrepaired drift alerts staff once."""
    return reconciliation.reconcile(since=timezone.now() - timedelta(days=7)).pk
