"""E-mails about enrollments. Each task re-reads its row and claims the send with a conditional
update first, so a duplicated or retried message never e-mails twice."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from courses.money import format_money
from maaledu.mail import send_templated_email

from . import services, stripe_gateway
from .models import Enrollment
from .services import receipts

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=8, default_retry_delay=60)
def send_enrollment_confirmation(self, enrollment_id: int) -> bool:
    claimed_at = timezone.now()
    claimed = Enrollment.objects.filter(
        # Refunded too: a refund that overtook the payment must not swallow the confirmation.
        pk=enrollment_id,
        status__in=[Enrollment.Status.PAID, Enrollment.Status.REFUNDED],
        confirmation_sent_at__isnull=True,
    ).update(confirmation_sent_at=claimed_at)
    if not claimed:
        return False
    enrollment = Enrollment.objects.select_related("course").get(pk=enrollment_id)
    try:
        send_templated_email(
            to=[enrollment.email],
            template="enrollment_confirmed",
            context={"enrollment": enrollment, "course": enrollment.course},
        )
    except Exception as error:
        Enrollment.objects.filter(pk=enrollment_id, confirmation_sent_at=claimed_at).update(
            confirmation_sent_at=None
        )
        raise self.retry(exc=error)
    logger.info("event=email.confirmation_sent enrollment_id=%s", enrollment_id)
    return True


@shared_task
def send_payment_failed_notice(enrollment_id: int) -> None:
    enrollment = Enrollment.objects.select_related("course").get(pk=enrollment_id)
    if enrollment.status != Enrollment.Status.FAILED:
        return
    send_templated_email(
        to=[enrollment.email],
        template="payment_failed",
        context={"enrollment": enrollment, "course": enrollment.course},
    )


@shared_task
def sweep_unsent_confirmations() -> int:
    """Re-enqueue confirmations whose message was lost (the row, not the queue, is the truth)."""
    cutoff = timezone.now() - timedelta(minutes=5)
    ids = list(
        Enrollment.objects.filter(
            status=Enrollment.Status.PAID, confirmation_sent_at__isnull=True, paid_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    for enrollment_id in ids:
        send_enrollment_confirmation.delay(enrollment_id)
    return len(ids)


@shared_task
def expire_stale_checkouts() -> int:
    return services.expire_stale_checkouts()


@shared_task
def send_refund_notice(enrollment_id: int, refunded_total_cents: int) -> None:
    """Sent once per new refunded total (the caller enqueues it only when the total grew)."""
    enrollment = Enrollment.objects.select_related("course").get(pk=enrollment_id)
    send_templated_email(
        to=[enrollment.email],
        template="refund_issued",
        context={
            "enrollment": enrollment,
            "course": enrollment.course,
            "refunded": format_money(refunded_total_cents, enrollment.currency),
            "access_kept": enrollment.status == Enrollment.Status.PAID,
        },
    )


@shared_task
def send_dispute_alert(enrollment_id: int) -> None:
    enrollment = Enrollment.objects.select_related("course").get(pk=enrollment_id)
    send_templated_email(
        to=list(settings.STAFF_NOTIFICATION_EMAILS),
        template="dispute_alert",
        context={"enrollment": enrollment, "course": enrollment.course},
    )


@shared_task(
    autoretry_for=(stripe_gateway.GatewayError,),
    retry_backoff=60,
    max_retries=6,
)
def fetch_invoice_links(enrollment_id: int) -> bool:
    """Keep the receipt links of the invoice Stripe created for this payment."""
    try:
        return receipts.store_invoice_links(enrollment_id)
    except stripe_gateway.PaymentsNotConfigured:
        return False


@shared_task
def sweep_missing_invoice_links() -> int:
    """Re-enqueue receipts whose fetch was lost or gave up (the row is the truth)."""
    ids = receipts.enrollments_missing_invoice_links()
    for enrollment_id in ids:
        fetch_invoice_links.delay(enrollment_id)
    return len(ids)
