"""The two smallest writes every enrollment service uses."""

import logging

from ..models import Enrollment

logger = logging.getLogger(__name__)


def as_pk(value) -> int | None:
    """A primary key from an untrusted string (metadata, client_reference_id), or None."""
    text = str(value or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def transition(enrollment_id: int, from_status: str, to_status: str, **fields) -> bool:
    """One conditional UPDATE; True when this call moved the row."""
    return bool(
        Enrollment.objects.filter(pk=enrollment_id, status=from_status).update(
            status=to_status, **fields
        )
    )


def flag_for_review(enrollment_id: int, reason: str) -> bool:
    """Flag the enrollment for staff; True when this reason is new (a replay changes nothing)."""
    logger.warning("event=enrollment.flagged enrollment_id=%s reason=%r", enrollment_id, reason)
    return bool(
        Enrollment.objects.filter(pk=enrollment_id)
        .exclude(review_reason=reason[:300])
        .update(needs_review=True, review_reason=reason[:300])
    )
