"""Enrollments brought over from the old MaalEdu (the legacy app calls these).

An imported sale is written in its final state by one insert: paid (or refunded) with what was
actually paid and its Stripe ids for reconciliation. Its LMS sync job is ``lms_sync``'s (the
legacy importer records it there; the LMS sweep creates it for any paid enrollment without
one). No confirmation e-mail: the old system sent it. Each function is safe to re-run.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError

from common.transactions import atomic
from courses.models import Course

from ..models import Enrollment

Status = Enrollment.Status


class AlreadyOwned(Exception):
    """The learner already has another paid enrollment for this course."""


@dataclass(frozen=True)
class ImportedSale:
    email: str
    user: object | None
    course: Course
    kind: str
    list_price_cents: int
    discount_cents: int
    currency: str
    paid_at: datetime
    refunded: bool = False
    affiliate_id: int | None = None
    stripe_session_id: str | None = None
    stripe_payment_intent_id: str = ""


def _existing(sale: ImportedSale) -> Enrollment | None:
    if sale.stripe_session_id:
        found = Enrollment.objects.filter(stripe_session_id=sale.stripe_session_id).first()
        if found is not None:
            return found
    return Enrollment.objects.filter(
        email=sale.email,
        course=sale.course,
        paid_at=sale.paid_at,
        status__in=[Status.PAID, Status.REFUNDED],
    ).first()


def import_sale(sale: ImportedSale) -> tuple[Enrollment, bool]:
    """The enrollment for an old paid (or refunded) sale, and whether this call created it.

    Found again by its Stripe session or by learner, course and payment time. ``AlreadyOwned``
    when the learner has a different paid enrollment for the course (one paid per learner and
    course, a unique constraint).
    """
    existing = _existing(sale)
    if existing is not None:
        return existing, False
    amount_cents = sale.list_price_cents - sale.discount_cents
    fields = {
        "email": sale.email,
        "user": sale.user,
        "course": sale.course,
        "affiliate_id": sale.affiliate_id,
        "kind": sale.kind,
        "list_price_cents": sale.list_price_cents,
        "discount_cents": sale.discount_cents,
        "amount_due_cents": amount_cents,
        "currency": sale.currency,
        "stripe_session_id": sale.stripe_session_id or None,
        "stripe_payment_intent_id": sale.stripe_payment_intent_id,
        "paid_at": sale.paid_at,
        # No confirmation e-mail is queued: the old system confirmed the sale long ago.
    }
    if sale.refunded:
        fields.update(status=Status.REFUNDED, amount_refunded_cents=amount_cents)
    else:
        fields.update(status=Status.PAID)
    try:
        with atomic():
            enrollment = Enrollment.objects.create(**fields)
    except IntegrityError as error:
        again = _existing(sale)
        if again is not None:
            return again, False
        raise AlreadyOwned(str(error)) from error
    return enrollment, True


def owned_elsewhere(sale: ImportedSale) -> bool:
    """What ``import_sale`` would refuse with ``AlreadyOwned`` (for a dry run; reads only)."""
    if sale.refunded or sale.course.pk is None or _existing(sale) is not None:
        return False
    return Enrollment.objects.filter(
        email=sale.email, course=sale.course, status=Status.PAID
    ).exists()


def link_imported_grant(*, enrollment_id: int, grant_id: int) -> bool:
    """Record which grant's coupon priced an imported enrollment (set once)."""
    return bool(
        Enrollment.objects.filter(pk=enrollment_id, grant__isnull=True).update(grant_id=grant_id)
    )
