"""The enrollment's status machine, declared once, and the smallest writes every enrollment
service uses.

``ALLOWED`` is every legal move of ``Enrollment.status``; ``transition`` (one row) and
``transition_all`` (a filtered set of rows) refuse any other before writing anything, so a
service cannot invent a move the table does not list. Each is still one conditional
``UPDATE … WHERE status = <expected>`` (the row count says whether this call moved it).

Rows are born ``pending`` (a checkout), ``paid`` (a 100% grant) or as an imported sale;
those inserts are not transitions.
"""

import logging
from collections.abc import Iterable

from django.db.models import QuerySet

from ..models import Enrollment
from ..selectors import pk_or_none as as_pk  # noqa: F401 (the services' name for it)

logger = logging.getLogger(__name__)

Status = Enrollment.Status

ALLOWED: dict[str, frozenset[str]] = {
    # A checkout ends paid, failed (its delayed payment failed, or Stripe never took it),
    # expired (its session ran out), or canceled (replaced, or its coupon was taken meanwhile).
    Status.PENDING: frozenset({Status.PAID, Status.FAILED, Status.EXPIRED, Status.CANCELED}),
    # Access revoked: refunded in full (or staff chose to revoke), or a dispute lost.
    Status.PAID: frozenset({Status.REFUNDED}),
    # A confirmed payment still fulfils: the money was taken, so the learner gets the course
    # even if our side had already given up on the checkout.
    Status.FAILED: frozenset({Status.PAID}),
    Status.EXPIRED: frozenset({Status.PAID}),
    Status.CANCELED: frozenset({Status.PAID}),
    # Final: a refund is never undone here.
    Status.REFUNDED: frozenset(),
}


class IllegalTransition(ValueError):
    """A move ``ALLOWED`` does not list: a bug in the caller, refused before any write."""


def sources_of(to_status: str) -> list[str]:
    """Every status from which ``to_status`` may be reached (in the order of the choices)."""
    return [status for status in Status.values if to_status in ALLOWED[status]]


def check_allowed(from_statuses: Iterable[str], to_status: str) -> None:
    for from_status in from_statuses:
        if to_status not in ALLOWED.get(from_status, ()):
            raise IllegalTransition(
                f"An enrollment cannot go from {from_status!r} to {to_status!r}."
            )


def _as_list(from_status: str | Iterable[str]) -> list[str]:
    return [from_status] if isinstance(from_status, str) else list(from_status)


def _checked(from_status: str | Iterable[str], to_status: str, fields: dict) -> list[str]:
    sources = _as_list(from_status)
    check_allowed(sources, to_status)
    if fields.pop("status", to_status) != to_status:
        raise IllegalTransition("The status written must be the transition's target.")
    return sources


def transition_all(
    enrollments: QuerySet[Enrollment],
    from_status: str | Iterable[str],
    to_status: str,
    **fields,
) -> int:
    """Move every row of ``enrollments`` still in ``from_status`` (one status or several) to
    ``to_status`` in one UPDATE; returns how many moved."""
    sources = _checked(from_status, to_status, fields)
    return enrollments.filter(status__in=sources).update(status=to_status, **fields)


def transition(
    enrollment_id: int,
    from_status: str | Iterable[str],
    to_status: str,
    *,
    only_if: dict | None = None,
    **fields,
) -> bool:
    """One conditional UPDATE; True when this call moved the row. ``only_if`` adds conditions
    the row must also meet, as field lookups (``{"stripe_session_id__isnull": True}``);
    ``fields`` are written in the same UPDATE. (Its conditions go in one ``filter``, as
    keywords: each ``filter`` more would copy the query again, and a ``Q`` costs a nested
    condition to build, on the webhook's path.)"""
    sources = _checked(from_status, to_status, fields)
    rows = Enrollment.objects.filter(pk=enrollment_id, status__in=sources, **(only_if or {}))
    return bool(rows.update(status=to_status, **fields))


def flag_for_review(enrollment_id: int, reason: str) -> bool:
    """Flag the enrollment for staff; True when this reason is new (a replay changes nothing)."""
    logger.warning("event=enrollment.flagged enrollment_id=%s reason=%r", enrollment_id, reason)
    return bool(
        Enrollment.objects.filter(pk=enrollment_id)
        .exclude(review_reason=reason[:300])
        .update(needs_review=True, review_reason=reason[:300])
    )
