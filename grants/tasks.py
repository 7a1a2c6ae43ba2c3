"""Celery tasks for grants. The grant e-mails are not tasks here: they go through the outbox
(``grants.services.emails`` queues them, ``common.outbox`` sends each once)."""

from celery import shared_task

from . import services


@shared_task
def expire_coupons() -> int:
    """Hourly (``CELERY_BEAT_SCHEDULE``): approved coupons past their expiry become expired."""
    return services.expire_coupons()
