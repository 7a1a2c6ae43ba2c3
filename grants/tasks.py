"""Celery tasks for grants. Each takes an id, re-reads the row inside one service and is safe to
run twice: the e-mail services claim a ``*_sent_at`` column before sending."""

from anymail.exceptions import AnymailError
from celery import shared_task

from . import services

# SMTP and connection errors are OSErrors; SendGrid's are AnymailErrors.
_EMAIL_RETRY = {
    "autoretry_for": (OSError, AnymailError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "max_retries": 6,
}


@shared_task(**_EMAIL_RETRY)
def send_grant_received_email(grant_id: int) -> bool:
    return services.send_application_received_email(grant_id=grant_id)


@shared_task(**_EMAIL_RETRY)
def send_grant_staff_notice(grant_id: int) -> bool:
    return services.send_staff_notice(grant_id=grant_id)


@shared_task(**_EMAIL_RETRY)
def send_grant_decision_email(grant_id: int) -> bool:
    return services.send_decision_email(grant_id=grant_id)


@shared_task
def expire_coupons() -> int:
    """Hourly (``CELERY_BEAT_SCHEDULE``): approved coupons past their expiry become expired."""
    return services.expire_coupons()


@shared_task
def resend_unsent_emails() -> int:
    """Every 10 minutes (``CELERY_BEAT_SCHEDULE``): grant e-mails whose message was lost."""
    return services.resend_unsent_emails()
