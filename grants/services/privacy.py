"""Deleted accounts: what a grant keeps of its applicant."""

import logging

from django.utils import timezone

from accounts.models import normalize_email
from common import outbox

from ..models import Grant

logger = logging.getLogger(__name__)


def forget_applicant(*, email: str, erased_email: str) -> int:
    """A learner deleted their account: their grants keep what the sales records need (course,
    status, discount, coupon code, dates) and lose the rest. Safe to re-run.

    Pending applications are withdrawn without a decision e-mail; an unused coupon expires now
    (checkout refuses it; the expiry sweep marks it expired); no e-mail about any of them is
    sent to the old address any more. Returns how many grants were anonymised.
    """
    email = normalize_email(email)
    now = timezone.now()
    outbox.forget_recipient(email)  # owed grant e-mails to the old address are never sent
    mine = Grant.objects.filter(email=email)
    mine.filter(status=Grant.Status.PENDING).update(
        status=Grant.Status.REJECTED,
        reviewed_at=now,
        admin_notes="Withdrawn: the applicant deleted their account.",
    )
    mine.filter(
        status=Grant.Status.APPROVED,
        coupon_state=Grant.CouponState.AVAILABLE,
        coupon_expires_at__gt=now,
    ).update(coupon_expires_at=now)
    forgotten = mine.update(
        email=normalize_email(erased_email),
        name="",
        statement="",
        organisation="",
        country="",
    )
    if forgotten:
        logger.info("event=grant.applicant_forgotten grants=%s", forgotten)
    return forgotten
