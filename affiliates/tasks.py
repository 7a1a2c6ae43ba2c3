"""Celery tasks: they take ids, call one service and are safe to run twice."""

from celery import shared_task

from . import services


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def send_affiliate_welcome(affiliate_id: int) -> bool:
    return services.send_affiliate_welcome_email(affiliate_id=affiliate_id)


@shared_task
def approve_matured_commissions() -> int:
    return services.approve_matured_commissions()


@shared_task
def refresh_stale_earnings() -> int:
    """Every 10 minutes (``CELERY_BEAT_SCHEDULE``): daily totals a crash or import left stale."""
    affiliates, _days = services.refresh_stale_earnings()
    return affiliates


@shared_task
def resend_unsent_welcomes() -> int:
    """Every 10 minutes (``CELERY_BEAT_SCHEDULE``): welcome e-mails whose message was lost."""
    return services.resend_unsent_welcomes()
