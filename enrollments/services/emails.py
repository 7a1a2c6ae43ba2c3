"""The e-mails about enrollments, queued in the outbox (``common.outbox``).

Each is queued by the service that makes the change it is about, inside the transaction that
writes it; its key makes it owed once, however often the webhook or the staff action repeats.

- ``enrollment-confirmation:<pk>``: the learner paid (also a 100% grant enrollment).
- ``payment-failed:<pk>``: a delayed (ACH) payment failed.
- ``refund-notice:<pk>:<total cents>``: the refunded total grew to this amount.
- ``dispute-alert:<pk>``: staff are told once that a payment is disputed.
"""

from django.conf import settings

from common import outbox
from common.money import format_money

from ..models import Enrollment

Status = Enrollment.Status
# Refunds are e-mailed about once the enrollment is (or was) paid; one that overtook the payment
# is told after fulfilment.
NOTIFIED_OF_REFUNDS = (Status.PAID, Status.REFUNDED)


def confirmation_key(enrollment_id: int) -> str:
    return f"enrollment-confirmation:{enrollment_id}"


def payment_failed_key(enrollment_id: int) -> str:
    return f"payment-failed:{enrollment_id}"


def refund_notice_key(enrollment_id: int, refunded_cents: int) -> str:
    return f"refund-notice:{enrollment_id}:{refunded_cents}"


def dispute_alert_key(enrollment_id: int) -> str:
    return f"dispute-alert:{enrollment_id}"


def _enrollment(enrollment_id: int) -> Enrollment:
    return Enrollment.objects.select_related("course").get(pk=enrollment_id)


def queue_confirmation(
    enrollment_id: int, *, enrollment: Enrollment | None = None, publish: bool = True
) -> bool:
    """Confirm the purchase of a paid enrollment (refunded too: a refund that overtook the
    payment must not swallow the confirmation); nothing for any other status. ``enrollment``:
    the row as the caller just wrote it, if it holds it; ``publish=False``: the caller's
    after-commit task delivers it (``outbox.enqueue_email``)."""
    if enrollment is None:
        enrollment = _enrollment(enrollment_id)
    if enrollment.status not in (Status.PAID, Status.REFUNDED):
        return False
    return outbox.enqueue_email(
        key=confirmation_key(enrollment_id),
        to=[enrollment.email],
        template="enrollment_confirmed",
        values=confirmation_values(enrollment),
        publish=publish,
    )


def confirmation_values(enrollment: Enrollment) -> dict:
    """What the confirmation says, as it was at payment: stored with the outbox row and
    rendered by the worker (the payment's request does not render it). The course title is the
    one fulfilment read with the row (``selectors.with_course_title``), else its course's."""
    return {
        "course_title": getattr(enrollment, "course_title", None) or enrollment.course.title,
        "amount_paid": enrollment.amount_due_display,
        "grant_discount": bool(enrollment.discount_cents),
        "tax": enrollment.tax_display if enrollment.tax_cents else "",
        "order_reference": f"MAAL-{enrollment.pk}",
        "email": enrollment.email,
    }


def queue_payment_failed_notice(enrollment_id: int) -> bool:
    enrollment = _enrollment(enrollment_id)
    if enrollment.status != Status.FAILED:
        return False
    return outbox.enqueue_email(
        key=payment_failed_key(enrollment_id),
        to=[enrollment.email],
        template="payment_failed",
        context={"enrollment": enrollment, "course": enrollment.course},
    )


def queue_refund_notice(enrollment_id: int) -> bool:
    """Tell the learner the refunded total as the row has it now (once per total): call it after
    the refund policy ran, so "you keep your access" is what happened."""
    enrollment = _enrollment(enrollment_id)
    total = enrollment.amount_refunded_cents
    if total <= 0 or enrollment.status not in NOTIFIED_OF_REFUNDS:
        return False
    return outbox.enqueue_email(
        key=refund_notice_key(enrollment_id, total),
        to=[enrollment.email],
        template="refund_issued",
        context={
            "enrollment": enrollment,
            "course": enrollment.course,
            "refunded": format_money(total, enrollment.currency),
            "access_kept": enrollment.status == Status.PAID,
        },
    )


def queue_dispute_alert(enrollment_id: int) -> bool:
    enrollment = _enrollment(enrollment_id)
    if enrollment.dispute_status == Enrollment.Dispute.NONE:
        return False
    return outbox.enqueue_email(
        key=dispute_alert_key(enrollment_id),
        to=list(settings.STAFF_NOTIFICATION_EMAILS),
        template="dispute_alert",
        context={"enrollment": enrollment, "course": enrollment.course},
    )
