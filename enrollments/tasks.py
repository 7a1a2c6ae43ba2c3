"""E-mails about enrollments. Each task re-reads its row and claims the send with a conditional
update first, so a duplicated or retried message never e-mails twice."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from common.mail import send_templated_email
from common.money import format_money

from . import services, stripe_gateway
from .models import Enrollment
from .services import receipts

logger = logging.getLogger(__name__)

# Refunds are e-mailed about once the enrollment is (or was) paid; one that overtook the payment
# is told after fulfilment.
NOTIFIED_OF_REFUNDS = [Enrollment.Status.PAID, Enrollment.Status.REFUNDED]


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


def _send_once(enrollment_id: int, claimed: Q, claim: dict, undo: dict, **email) -> bool:
    """Claim the send with one conditional UPDATE, send, give the claim back if sending fails."""
    if not Enrollment.objects.filter(claimed, pk=enrollment_id).update(**claim):
        return False
    try:
        send_templated_email(**email)
    except Exception:
        Enrollment.objects.filter(pk=enrollment_id, **claim).update(**undo)
        raise
    return True


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def send_payment_failed_notice(enrollment_id: int) -> bool:
    enrollment = Enrollment.objects.select_related("course").get(pk=enrollment_id)
    return _send_once(
        enrollment_id,
        Q(status=Enrollment.Status.FAILED, failed_notice_sent_at=None),
        {"failed_notice_sent_at": timezone.now()},
        {"failed_notice_sent_at": None},
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


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def send_refund_notice(enrollment_id: int, refunded_total_cents: int | None = None) -> bool:
    """Tells the learner the refunded total, once per total it grew to (several refunds in a
    row may share one e-mail with the latest total). The row decides the total:
    ``refunded_total_cents`` is ignored, and kept only so that messages the previous release
    queued with it still run."""
    enrollment = Enrollment.objects.select_related("course").get(pk=enrollment_id)
    total, told = enrollment.amount_refunded_cents, enrollment.refund_notified_cents
    if total <= told:
        return False
    return _send_once(
        enrollment_id,
        Q(refund_notified_cents=told, status__in=NOTIFIED_OF_REFUNDS),
        {"refund_notified_cents": total},
        {"refund_notified_cents": told},
        to=[enrollment.email],
        template="refund_issued",
        context={
            "enrollment": enrollment,
            "course": enrollment.course,
            "refunded": format_money(total, enrollment.currency),
            "access_kept": enrollment.status == Enrollment.Status.PAID,
        },
    )


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def send_dispute_alert(enrollment_id: int) -> bool:
    enrollment = Enrollment.objects.select_related("course").get(pk=enrollment_id)
    return _send_once(
        enrollment_id,
        Q(dispute_alert_sent_at=None) & ~Q(dispute_status=Enrollment.Dispute.NONE),
        {"dispute_alert_sent_at": timezone.now()},
        {"dispute_alert_sent_at": None},
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


@shared_task
def sweep_unsent_notices() -> int:
    """Re-enqueue refund notices, payment-failed notices and dispute alerts whose message was
    lost (Redis down); each task claims its send, so one enqueued twice is sent once."""
    recent = Enrollment.objects  # rows from before the claims were marked sent by migration 0006
    owed = [
        (
            send_refund_notice,
            recent.filter(
                status__in=NOTIFIED_OF_REFUNDS,
                amount_refunded_cents__gt=F("refund_notified_cents"),
            ),
        ),
        (
            send_payment_failed_notice,
            recent.filter(status=Enrollment.Status.FAILED, failed_notice_sent_at=None),
        ),
    ]
    if settings.STAFF_NOTIFICATION_EMAILS:
        owed.append(
            (
                send_dispute_alert,
                recent.filter(dispute_alert_sent_at=None).exclude(
                    dispute_status=Enrollment.Dispute.NONE
                ),
            )
        )
    enqueued = 0
    for task, enrollments in owed:
        for enrollment_id in enrollments.values_list("pk", flat=True)[:500]:
            task.delay(enrollment_id)
            enqueued += 1
    return enqueued
