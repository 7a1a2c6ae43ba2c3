"""Import from the old MaalEdu (the legacy app calls this; safe to re-run)."""

from datetime import datetime

from django.db import IntegrityError
from django.utils import timezone

from accounts.models import normalize_email
from common.transactions import atomic
from courses.models import Course

from ..models import MAX_DISCOUNT_PERCENT, MIN_DISCOUNT_PERCENT, Grant


def import_grant(
    *,
    name: str,
    email: str,
    course: Course,
    statement: str,
    status: str,
    discount_percent: int | None = None,
    coupon_code: str | None = None,
    coupon_expires_at: datetime | None = None,
    redeemed_enrollment_id: int | None = None,
    redeemed_at: datetime | None = None,
    admin_notes: str = "",
) -> tuple[Grant, bool]:
    """A grant as the old system left it, inserted directly in its final state (a used coupon is
    never available, not even for a moment); and whether this call created it.

    ``status``: ``pending``/``rejected`` (no coupon), ``approved`` (available, or redeemed when
    ``redeemed_enrollment_id`` is given), ``expired`` (never used, past its end). Found again by
    its coupon code, or for a grant without one by e-mail, course, status and statement.
    """
    email = normalize_email(email)
    if coupon_code:
        existing = Grant.objects.filter(coupon_code=coupon_code).first()
    else:
        existing = Grant.objects.filter(
            email=email, course=course, status=status, statement=statement, coupon_code=None
        ).first()
    if existing is not None:
        return existing, False
    fields = {"name": name[:150], "email": email, "course": course, "statement": statement}
    fields["admin_notes"] = admin_notes
    if status in (Grant.Status.APPROVED, Grant.Status.EXPIRED):
        if not (coupon_code and coupon_expires_at and discount_percent):
            raise ValueError("An approved grant needs a coupon code, an end and a discount.")
        if not MIN_DISCOUNT_PERCENT <= discount_percent <= MAX_DISCOUNT_PERCENT:
            raise ValueError(f"Discounts are {MIN_DISCOUNT_PERCENT}–{MAX_DISCOUNT_PERCENT}%.")
        fields.update(
            coupon_code=coupon_code,
            coupon_expires_at=coupon_expires_at,
            discount_percent=discount_percent,
            coupon_state=Grant.CouponState.AVAILABLE,
        )
        if redeemed_enrollment_id is not None:
            if status != Grant.Status.APPROVED:
                raise ValueError("Only an approved grant's coupon is redeemed.")
            fields.update(
                coupon_state=Grant.CouponState.REDEEMED,
                redeemed_enrollment_id=redeemed_enrollment_id,
                redeemed_at=redeemed_at or timezone.now(),
            )
    elif status not in (Grant.Status.PENDING, Grant.Status.REJECTED):
        raise ValueError(f"Unknown grant status {status!r}.")
    try:
        with atomic():
            # Received, notified (and decided) in the old system: no e-mail is queued for that
            # now; a pending one still gets its decision e-mail when staff decide here.
            grant = Grant.objects.create(status=status, **fields)
    except IntegrityError:
        again = Grant.objects.filter(coupon_code=coupon_code).first() if coupon_code else None
        if again is None:
            raise
        return again, False
    return grant, True
