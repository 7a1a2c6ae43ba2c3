"""Staff decisions: approving (with a fresh coupon) and rejecting applications, and notes."""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError
from django.db.models import Case, F, TextField, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from accounts.models import User
from common.transactions import atomic

from ..coupons import generate_coupon_code
from ..errors import GrantError
from ..models import MAX_DISCOUNT_PERCENT, MIN_DISCOUNT_PERCENT, Grant
from . import emails

logger = logging.getLogger(__name__)

# A 79-bit code collides practically never; the unique index decides and we draw again.
_CODE_ATTEMPTS = 5


def approve_grants(
    *, grant_ids: Iterable[int], reviewer: User, discount_percent: int, valid_days: int
) -> int:
    """Approve each pending grant among ``grant_ids`` with a fresh coupon; return how many.

    A grant that is no longer pending (approved, rejected, expired) is left exactly as it is and
    gets no e-mail. Each approval e-mails the applicant once (queued in the same transaction).
    """
    if not MIN_DISCOUNT_PERCENT <= discount_percent <= MAX_DISCOUNT_PERCENT:
        raise GrantError(
            f"The discount must be between {MIN_DISCOUNT_PERCENT} and {MAX_DISCOUNT_PERCENT}%."
        )
    if valid_days < 1:
        raise GrantError("The coupon must be valid for at least one day.")
    now = timezone.now()
    expires_at = now + timedelta(days=valid_days)
    approved = 0
    with atomic():
        for grant_id in sorted(set(grant_ids)):
            if _approve_one(
                grant_id=grant_id,
                reviewer=reviewer,
                discount_percent=discount_percent,
                expires_at=expires_at,
                now=now,
            ):
                approved += 1
                emails.queue_decision_email(grant_id)
    logger.info("event=grant.approved count=%s reviewer_id=%s", approved, reviewer.pk)
    return approved


def _approve_one(
    *, grant_id: int, reviewer: User, discount_percent: int, expires_at: datetime, now: datetime
) -> bool:
    for _attempt in range(_CODE_ATTEMPTS):
        try:
            with atomic():
                updated = Grant.objects.filter(pk=grant_id, status=Grant.Status.PENDING).update(
                    status=Grant.Status.APPROVED,
                    discount_percent=discount_percent,
                    coupon_code=generate_coupon_code(),
                    coupon_expires_at=expires_at,
                    coupon_state=Grant.CouponState.AVAILABLE,
                    reviewed_by=reviewer,
                    reviewed_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            logger.warning("event=grant.coupon_code_collision grant_id=%s", grant_id)
            continue
        return updated == 1
    raise GrantError("Could not generate a unique coupon code. Please try again.")


def reject_grants(*, grant_ids: Iterable[int], reviewer: User, note: str) -> int:
    """Reject each pending grant among ``grant_ids``; return how many.

    ``note`` is internal: it is appended to the admin notes and not sent. The applicant gets a
    polite notice, once (queued in the same transaction). Grants that are no longer pending are
    left alone.
    """
    note = note.strip()
    notes = (
        Case(
            When(admin_notes="", then=Value(note)),
            default=Concat(F("admin_notes"), Value("\n\n" + note), output_field=TextField()),
            output_field=TextField(),
        )
        if note
        else F("admin_notes")
    )
    now = timezone.now()
    rejected = 0
    with atomic():
        for grant_id in sorted(set(grant_ids)):
            updated = Grant.objects.filter(pk=grant_id, status=Grant.Status.PENDING).update(
                status=Grant.Status.REJECTED,
                admin_notes=notes,
                reviewed_by=reviewer,
                reviewed_at=now,
                updated_at=now,
            )
            if updated:
                rejected += 1
                emails.queue_decision_email(grant_id)
    logger.info("event=grant.rejected count=%s reviewer_id=%s", rejected, reviewer.pk)
    return rejected


def update_admin_notes(*, grant_id: int, admin_notes: str) -> bool:
    """Replace the staff's internal notes on a grant; False if the grant does not exist."""
    updated = Grant.objects.filter(pk=grant_id).update(
        admin_notes=admin_notes, updated_at=timezone.now()
    )
    return updated == 1
