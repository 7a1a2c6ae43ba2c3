"""The coupon's life at checkout (``enrollments`` calls these; ``grants`` never imports it).

- 10–99% off: ``reserve_coupon`` (until the Checkout Session expires, plus a grace for late
  webhooks) → ``redeem_coupon`` when the payment succeeds, ``release_coupon`` when the session
  expires or fails, ``hold_coupon_until_payment_result`` while a delayed (ACH) payment settles.
- 100% off: ``claim_coupon_for_free_enrollment`` claims the coupon, calls back to create the paid
  enrollment and marks the coupon redeemed for it, in one transaction.
- After a refund ``restore_coupon``; hourly ``expire_coupons``.

Which coupon a checkout may use is a read: ``grants.selectors.find_coupon_for_checkout``.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Case, Q, Value, When
from django.utils import timezone

from common.transactions import atomic

from .. import selectors
from ..errors import CouponRefused, GrantError, refused
from ..models import Grant

logger = logging.getLogger(__name__)

# The 100% claim lives inside one transaction and is never committed on its own; this end is
# only there so the row is valid while the transaction runs.
_FREE_CLAIM_SECONDS = 120


def _required(enrollment_id):
    """The enrollment id a coupon transition records. A missing one would leave a reservation
    or a redemption held by nobody (the rule ``grant_coupon_holder_matches_state``, which
    MongoDB does not enforce), or would match the 100% claim in flight: refused on every
    backend before any write."""
    if enrollment_id is None or enrollment_id == "":
        raise GrantError("A coupon is reserved, held, redeemed or released by an enrollment.")
    return enrollment_id


def _usable(grant_id: int, now: datetime) -> Q:
    """Approved, unexpired, and free: available, or reserved by a hold that has run out."""
    return Q(pk=grant_id, status=Grant.Status.APPROVED, coupon_expires_at__gt=now) & (
        Q(coupon_state=Grant.CouponState.AVAILABLE)
        | Q(coupon_state=Grant.CouponState.RESERVED, reserved_until__lt=now)
    )


def _refusal_after_lost_update(grant_id: int, now: datetime) -> CouponRefused:
    """Why a conditional update on the coupon matched no row (read after the fact, for the
    message only: the update already decided)."""
    grant = selectors.grant_with_course(grant_id)
    if grant is None or grant.coupon_code is None:
        return refused("not_found")
    if grant.coupon_state == Grant.CouponState.REDEEMED:
        return refused("redeemed", grant)
    if grant.status == Grant.Status.EXPIRED or grant.coupon_expires_at <= now:
        return refused("expired", grant)
    return refused("held", grant)


def reserve_coupon(*, grant_id: int, enrollment_id: int, until: datetime) -> None:
    """Reserve the coupon for a partial-discount checkout until ``until``.

    One UPDATE: approved, not expired, and available, or held by a reservation that ran out, or
    already held by this same enrollment (a retry). Set ``until`` a little after the Checkout
    Session expires so a late webhook still finds its reservation. Raises ``CouponRefused``
    (``held``, ``redeemed``, ``expired`` or ``not_found``) when the coupon is not free.
    """
    enrollment_id = _required(enrollment_id)
    now = timezone.now()
    mine = Q(
        pk=grant_id,
        status=Grant.Status.APPROVED,
        coupon_expires_at__gt=now,
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=enrollment_id,
    )
    updated = Grant.objects.filter(_usable(grant_id, now) | mine).update(
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=enrollment_id,
        reserved_until=until,
        updated_at=now,
    )
    if updated != 1:
        raise _refusal_after_lost_update(grant_id, now)
    logger.info("event=grant.coupon_reserved grant_id=%s enrollment_id=%s", grant_id, enrollment_id)


def _held_by(grant_id: int, enrollment_id: int):
    """The coupon, if this enrollment's checkout holds its reservation."""
    enrollment_id = _required(enrollment_id)
    return Grant.objects.filter(
        pk=grant_id,
        status=Grant.Status.APPROVED,
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=enrollment_id,
    )


def hold_coupon_until_payment_result(*, grant_id: int, enrollment_id: int) -> bool:
    """Keep this enrollment's reservation with no end while a delayed (ACH) payment settles.

    The learner completed the checkout while the reservation was valid, so the hold stands even
    if the coupon's own expiry passes meanwhile. Idempotent. False when this enrollment does not
    hold the coupon (released or taken over after its reservation ran out): the caller decides.
    """
    updated = _held_by(grant_id, enrollment_id).update(
        reserved_until=None, updated_at=timezone.now()
    )
    return updated == 1


def redeem_coupon(*, grant_id: int, enrollment_id: int) -> bool:
    """Mark the coupon used by the enrollment that reserved it (the payment succeeded).

    A reservation made before the coupon expired is honoured after expiry: the learner paid the
    discounted price. Idempotent: True again when this enrollment already redeemed it; False in
    every other case (never reserved by it, released, taken over).
    """
    now = timezone.now()
    updated = _held_by(grant_id, enrollment_id).update(
        coupon_state=Grant.CouponState.REDEEMED,
        redeemed_enrollment_id=enrollment_id,
        redeemed_at=now,
        holder_enrollment_id=None,
        reserved_until=None,
        updated_at=now,
    )
    if updated == 1:
        logger.info(
            "event=grant.coupon_redeemed grant_id=%s enrollment_id=%s", grant_id, enrollment_id
        )
        return True
    return Grant.objects.filter(
        pk=grant_id, coupon_state=Grant.CouponState.REDEEMED, redeemed_enrollment_id=enrollment_id
    ).exists()


def _approved_unless_expired(now: datetime) -> Case:
    """A coupon given back is usable again, unless its own date passed meanwhile."""
    # Said with ``gt`` (a coupon always has an end): MongoDB's ``lte`` expression adds a null
    # test with ``$not``, which the test server (mongoeco) cannot evaluate inside an update.
    return Case(
        When(coupon_expires_at__gt=now, then=Value(Grant.Status.APPROVED)),
        default=Value(Grant.Status.EXPIRED),
    )


def release_coupon(*, grant_id: int, enrollment_id: int) -> bool:
    """Give back the reservation of an enrollment whose payment expired or failed.

    The coupon becomes available again, or the grant becomes ``expired`` if the coupon's expiry
    passed meanwhile. True when this call released it; False when this enrollment held nothing
    (already released, redeemed, or taken over) — repeating the call changes nothing.
    """
    now = timezone.now()
    updated = _held_by(grant_id, enrollment_id).update(
        coupon_state=Grant.CouponState.AVAILABLE,
        holder_enrollment_id=None,
        reserved_until=None,
        status=_approved_unless_expired(now),
        updated_at=now,
    )
    if updated == 1:
        logger.info(
            "event=grant.coupon_released grant_id=%s enrollment_id=%s", grant_id, enrollment_id
        )
    return updated == 1


def claim_coupon_for_free_enrollment(*, grant_id: int, create_enrollment: Callable[[], int]) -> int:
    """Use a 100% coupon: claim it, create the paid enrollment, mark it redeemed for it.

    ``create_enrollment`` creates the paid ``full_grant`` enrollment (amount 0) and returns its
    id; its after-commit work (confirmation, LMS sync) runs only if everything succeeds. The
    claim is one conditional UPDATE of the grant's row, so of simultaneous claims exactly one
    wins (a concurrent claim waits on the row lock and then finds the coupon redeemed, or, with
    no transaction, finds the claim in flight: ``held``). The three steps share one transaction
    where the database has them; if anything after the claim raises, the rollback releases the
    claim, and without a transaction (a standalone MongoDB server) the claim is given back by a
    conditional UPDATE naming it; the exception propagates. Raises ``CouponRefused`` when the
    coupon is not free. Returns the enrollment id.
    """
    now = timezone.now()
    # Whole milliseconds, as MongoDB stores them, so the claim is found again by its end.
    claim_until = now.replace(microsecond=now.microsecond // 1000 * 1000) + timedelta(
        seconds=_FREE_CLAIM_SECONDS
    )
    claimed = 0
    try:
        with atomic():
            claimed = Grant.objects.filter(_usable(grant_id, now)).update(
                coupon_state=Grant.CouponState.RESERVED,
                holder_enrollment_id=None,
                reserved_until=claim_until,
                updated_at=now,
            )
            if claimed != 1:
                raise _refusal_after_lost_update(grant_id, now)
            enrollment_id = _required(create_enrollment())
            # Our claim holds the row lock until commit: only the callback itself could have
            # touched the row since. If it did, undo everything rather than leave it half done.
            redeemed = _our_free_claim(grant_id, claim_until).update(
                coupon_state=Grant.CouponState.REDEEMED,
                redeemed_enrollment_id=enrollment_id,
                redeemed_at=now,
                reserved_until=None,
                updated_at=now,
            )
            if redeemed != 1:
                raise GrantError("The coupon changed while the enrollment was being created.")
    except Exception:
        if not claimed:
            raise
        # Rolled back where there was a transaction (this then matches nothing); in autocommit
        # our claim is still there and is given back now.
        _our_free_claim(grant_id, claim_until).update(
            coupon_state=Grant.CouponState.AVAILABLE,
            reserved_until=None,
            status=_approved_unless_expired(timezone.now()),
            updated_at=timezone.now(),
        )
        raise
    logger.info(
        "event=grant.coupon_redeemed_free grant_id=%s enrollment_id=%s", grant_id, enrollment_id
    )
    return enrollment_id


def _our_free_claim(grant_id: int, claim_until: datetime):
    """The coupon while this call's 100% claim holds it (no holder, this claim's end)."""
    return Grant.objects.filter(
        pk=grant_id,
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=None,
        reserved_until=claim_until,
    )


def restore_coupon(*, grant_id: int, enrollment_id: int) -> bool:
    """After a refund, staff may give the learner their coupon back: redeemed by this
    enrollment → available again (or ``expired`` if its date has passed). Idempotent."""
    enrollment_id = _required(enrollment_id)
    now = timezone.now()
    updated = Grant.objects.filter(
        pk=grant_id,
        coupon_state=Grant.CouponState.REDEEMED,
        redeemed_enrollment_id=enrollment_id,
    ).update(
        coupon_state=Grant.CouponState.AVAILABLE,
        redeemed_enrollment_id=None,
        redeemed_at=None,
        status=_approved_unless_expired(now),
        updated_at=now,
    )
    if updated:
        logger.info(
            "event=grant.coupon_restored grant_id=%s enrollment_id=%s", grant_id, enrollment_id
        )
    return updated == 1


def expire_coupons(*, now: datetime | None = None) -> int:
    """Mark approved, unused, unreserved coupons past their expiry ``expired``; return how many.

    Idempotent. Checkout does not depend on it: it compares ``coupon_expires_at`` itself.
    """
    now = now or timezone.now()
    expired = Grant.objects.filter(
        status=Grant.Status.APPROVED,
        coupon_state=Grant.CouponState.AVAILABLE,
        coupon_expires_at__lte=now,
    ).update(status=Grant.Status.EXPIRED, updated_at=now)
    if expired:
        logger.info("event=grant.coupons_expired count=%s", expired)
    return expired
