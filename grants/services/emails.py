"""The grant e-mails, queued in the outbox (``common.outbox``) by the service whose change causes
them, inside its transaction; each key makes its e-mail owed once.

- ``grant-received:<pk>``: the applicant's receipt; ``grant-staff-notice:<pk>``: staff review it.
- ``grant-decision:<pk>``: the approval (with the coupon) or the rejection.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from common import outbox
from common.money import format_money

from .. import selectors
from ..coupons import coupon_price_cents
from ..models import Grant


def received_key(grant_id: int) -> str:
    return f"grant-received:{grant_id}"


def staff_notice_key(grant_id: int) -> str:
    return f"grant-staff-notice:{grant_id}"


def decision_key(grant_id: int) -> str:
    return f"grant-decision:{grant_id}"


def queue_application_emails(grant: Grant) -> None:
    """The applicant's receipt, and the notice to staff (``STAFF_NOTIFICATION_EMAILS``)."""
    outbox.enqueue_email(
        key=received_key(grant.pk),
        to=[grant.email],
        template="grant_received",
        context={"grant": grant},
    )
    outbox.enqueue_email(
        key=staff_notice_key(grant.pk),
        to=list(settings.STAFF_NOTIFICATION_EMAILS),
        template="grant_staff_notice",
        context={"grant": grant},
    )


def queue_decision_email(grant_id: int) -> bool:
    """The approval (with the coupon) or the rejection, as the row says now."""
    grant = selectors.grant_with_course(grant_id)
    if grant is None or grant.status not in (Grant.Status.APPROVED, Grant.Status.REJECTED):
        return False
    template, context = _decision(grant)
    return outbox.enqueue_email(
        key=decision_key(grant_id), to=[grant.email], template=template, context=context
    )


def _decision(grant: Grant) -> tuple[str, dict]:
    if grant.status == Grant.Status.REJECTED:
        return "grant_rejected", {"grant": grant}
    course = grant.course
    price_cents = coupon_price_cents(
        price_cents=course.price_cents, discount_percent=grant.discount_percent
    )
    # The checkout page lives in enrollments; grants names its route, never imports it.
    checkout_path = reverse("enrollments:checkout", args=[course.slug])
    checkout_url = f"{settings.SITE_URL}{checkout_path}?" + urlencode({"coupon": grant.coupon_code})
    context = {
        "grant": grant,
        "list_price": course.price_display,
        "you_pay": format_money(price_cents, course.currency),
        "checkout_url": checkout_url,
    }
    return "grant_approved", context
