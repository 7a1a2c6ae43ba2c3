"""The coupon's states at checkout: reserve, hold, redeem, release, the 100% claim, expiry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.testing.backends import skip_on_mongodb
from grants import tasks
from grants.models import Grant
from grants.services import (
    CouponRefused,
    GrantError,
    claim_coupon_for_free_enrollment,
    expire_coupons,
    hold_coupon_until_payment_result,
    redeem_coupon,
    release_coupon,
    reserve_coupon,
    restore_coupon,
)
from grants.tests.factories import GrantFactory, eid

pytestmark = pytest.mark.django_db


def _soon(minutes: int = 60):
    """A moment in whole milliseconds, as every backend stores it (MongoDB keeps no more)."""
    soon = timezone.now() + timedelta(minutes=minutes)
    return soon.replace(microsecond=soon.microsecond // 1000 * 1000)


def _reserved(grant, *, by: int, until=None) -> Grant:
    reserve_coupon(grant_id=grant.pk, enrollment_id=by, until=until or _soon())
    grant.refresh_from_db()
    return grant


def _refusal(**kwargs) -> CouponRefused:
    with pytest.raises(CouponRefused) as refused:
        reserve_coupon(**kwargs)
    return refused.value


# --- reserve ------------------------------------------------------------------------------


def test_reserving_an_available_coupon_records_the_holder_and_the_end(
    grant, django_assert_num_queries
):
    until = _soon(75)

    with django_assert_num_queries(1):
        reserve_coupon(grant_id=grant.pk, enrollment_id=eid(11), until=until)

    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.RESERVED
    assert grant.holder_enrollment_id == eid(11)
    assert grant.reserved_until == until


def test_the_same_enrollment_may_reserve_again_and_moves_the_end(grant):
    _reserved(grant, by=eid(11), until=_soon(30))
    later = _soon(90)

    reserve_coupon(grant_id=grant.pk, enrollment_id=eid(11), until=later)

    grant.refresh_from_db()
    assert (grant.holder_enrollment_id, grant.reserved_until) == (eid(11), later)


def test_another_enrollment_cannot_reserve_a_held_coupon(grant):
    _reserved(grant, by=eid(11))

    refusal = _refusal(grant_id=grant.pk, enrollment_id=eid(12), until=_soon())

    assert refusal.reason == "held"
    grant.refresh_from_db()
    assert grant.holder_enrollment_id == eid(11)


def test_a_reservation_that_ran_out_can_be_taken_over(grant):
    _reserved(grant, by=eid(11), until=timezone.now() - timedelta(seconds=1))

    reserve_coupon(grant_id=grant.pk, enrollment_id=eid(12), until=_soon())

    grant.refresh_from_db()
    assert grant.holder_enrollment_id == eid(12)


def test_reserving_a_coupon_past_its_expiry_is_refused_before_the_expiry_task_ran(grant):
    Grant.objects.filter(pk=grant.pk).update(coupon_expires_at=timezone.now())

    refusal = _refusal(grant_id=grant.pk, enrollment_id=eid(11), until=_soon())

    assert refusal.reason == "expired"
    grant.refresh_from_db()
    assert (grant.status, grant.coupon_state) == ("approved", "available")


def test_reserving_a_redeemed_coupon_is_refused(grant):
    _reserved(grant, by=eid(11))
    redeem_coupon(grant_id=grant.pk, enrollment_id=eid(11))

    assert _refusal(grant_id=grant.pk, enrollment_id=eid(12), until=_soon()).reason == "redeemed"


@pytest.mark.parametrize("which", ["pending", "missing"])
def test_reserving_a_grant_without_a_coupon_is_not_found(which):
    grant = GrantFactory()
    grant_id = grant.pk
    if which == "missing":
        grant.delete()

    assert _refusal(grant_id=grant_id, enrollment_id=eid(11), until=_soon()).reason == "not_found"


# --- hold while a delayed payment settles ----------------------------------------------------


def test_holding_for_a_delayed_payment_removes_the_end_of_the_reservation(grant):
    _reserved(grant, by=eid(11))

    assert hold_coupon_until_payment_result(grant_id=grant.pk, enrollment_id=eid(11)) is True
    assert hold_coupon_until_payment_result(grant_id=grant.pk, enrollment_id=eid(11)) is True

    grant.refresh_from_db()
    assert (grant.coupon_state, grant.holder_enrollment_id) == ("reserved", eid(11))
    assert grant.reserved_until is None
    assert _refusal(grant_id=grant.pk, enrollment_id=eid(12), until=_soon()).reason == "held"


def test_only_the_holder_can_hold_the_coupon(grant):
    _reserved(grant, by=eid(11))

    assert hold_coupon_until_payment_result(grant_id=grant.pk, enrollment_id=eid(12)) is False

    grant.refresh_from_db()
    assert grant.holder_enrollment_id == eid(11)
    assert grant.reserved_until is not None


def test_a_held_coupon_stays_held_past_its_expiry_and_is_redeemed_when_the_payment_clears(grant):
    _reserved(grant, by=eid(11))
    hold_coupon_until_payment_result(grant_id=grant.pk, enrollment_id=eid(11))
    Grant.objects.filter(pk=grant.pk).update(coupon_expires_at=timezone.now())

    assert expire_coupons() == 0
    assert redeem_coupon(grant_id=grant.pk, enrollment_id=eid(11)) is True


# --- redeem ------------------------------------------------------------------------------


def test_redeeming_turns_the_holders_reservation_into_a_redemption(grant):
    _reserved(grant, by=eid(11))

    assert redeem_coupon(grant_id=grant.pk, enrollment_id=eid(11)) is True

    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.REDEEMED
    assert grant.redeemed_enrollment_id == eid(11)
    assert grant.redeemed_at is not None
    assert (grant.holder_enrollment_id, grant.reserved_until) == (None, None)


def test_redeeming_twice_for_the_same_enrollment_is_true_and_changes_nothing(grant):
    _reserved(grant, by=eid(11))
    redeem_coupon(grant_id=grant.pk, enrollment_id=eid(11))
    grant.refresh_from_db()
    first_redeemed_at = grant.redeemed_at

    assert redeem_coupon(grant_id=grant.pk, enrollment_id=eid(11)) is True

    grant.refresh_from_db()
    assert grant.redeemed_at == first_redeemed_at


def test_redeeming_for_another_enrollment_is_false(grant):
    _reserved(grant, by=eid(11))

    assert redeem_coupon(grant_id=grant.pk, enrollment_id=eid(12)) is False

    grant.refresh_from_db()
    assert (grant.coupon_state, grant.holder_enrollment_id) == ("reserved", eid(11))


def test_redeeming_without_a_reservation_is_false(grant):
    assert redeem_coupon(grant_id=grant.pk, enrollment_id=eid(11)) is False

    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.AVAILABLE


def test_a_redeemed_coupon_cannot_be_redeemed_by_another_enrollment(grant):
    _reserved(grant, by=eid(11))
    redeem_coupon(grant_id=grant.pk, enrollment_id=eid(11))

    assert redeem_coupon(grant_id=grant.pk, enrollment_id=eid(12)) is False


def test_a_reservation_made_before_expiry_is_honoured_when_payment_arrives_after_it(grant):
    _reserved(grant, by=eid(11))
    Grant.objects.filter(pk=grant.pk).update(coupon_expires_at=timezone.now())

    assert redeem_coupon(grant_id=grant.pk, enrollment_id=eid(11)) is True


# --- release -----------------------------------------------------------------------------


def test_releasing_makes_the_coupon_available_to_a_new_checkout(grant):
    _reserved(grant, by=eid(11))

    assert release_coupon(grant_id=grant.pk, enrollment_id=eid(11)) is True

    grant.refresh_from_db()
    assert grant.coupon_state == Grant.CouponState.AVAILABLE
    assert (grant.holder_enrollment_id, grant.reserved_until) == (None, None)
    assert _reserved(grant, by=eid(12)).holder_enrollment_id == eid(12)


def test_releasing_again_is_false_and_changes_nothing(grant):
    _reserved(grant, by=eid(11))
    release_coupon(grant_id=grant.pk, enrollment_id=eid(11))

    assert release_coupon(grant_id=grant.pk, enrollment_id=eid(11)) is False

    grant.refresh_from_db()
    assert (grant.status, grant.coupon_state) == ("approved", "available")


def test_another_enrollment_cannot_release_the_reservation(grant):
    _reserved(grant, by=eid(11))

    assert release_coupon(grant_id=grant.pk, enrollment_id=eid(12)) is False

    grant.refresh_from_db()
    assert grant.holder_enrollment_id == eid(11)


def test_releasing_after_the_coupon_expired_expires_the_grant(grant):
    _reserved(grant, by=eid(11))
    Grant.objects.filter(pk=grant.pk).update(coupon_expires_at=timezone.now())

    assert release_coupon(grant_id=grant.pk, enrollment_id=eid(11)) is True

    grant.refresh_from_db()
    assert (grant.status, grant.coupon_state) == ("expired", "available")
    assert grant.holder_enrollment_id is None


def test_releasing_a_redeemed_coupon_changes_nothing(grant):
    _reserved(grant, by=eid(11))
    redeem_coupon(grant_id=grant.pk, enrollment_id=eid(11))

    assert release_coupon(grant_id=grant.pk, enrollment_id=eid(11)) is False

    grant.refresh_from_db()
    assert (grant.coupon_state, grant.redeemed_enrollment_id) == ("redeemed", eid(11))


# --- no transition without its enrollment ------------------------------------------------


@pytest.mark.parametrize(
    "transition",
    [
        lambda grant_id: reserve_coupon(grant_id=grant_id, enrollment_id=None, until=_soon()),
        lambda grant_id: hold_coupon_until_payment_result(grant_id=grant_id, enrollment_id=None),
        lambda grant_id: redeem_coupon(grant_id=grant_id, enrollment_id=None),
        lambda grant_id: release_coupon(grant_id=grant_id, enrollment_id=None),
        lambda grant_id: restore_coupon(grant_id=grant_id, enrollment_id=None),
    ],
    ids=["reserve", "hold", "redeem", "release", "restore"],
)
def test_no_coupon_transition_without_an_enrollment(transition):
    """A missing enrollment id would match the 100% claim in flight (held by nobody) and leave
    a reservation or a redemption of nobody: the services refuse it before writing, on every
    backend (SQL's check constraint ``grant_coupon_holder_matches_state`` backs this up)."""
    claim_until = _soon(2)
    claimed = GrantFactory(
        approved=True,
        discount_percent=100,
        coupon_state=Grant.CouponState.RESERVED,
        reserved_until=claim_until,
    )

    with pytest.raises(GrantError):
        transition(claimed.pk)

    claimed.refresh_from_db()
    assert (claimed.coupon_state, claimed.holder_enrollment_id, claimed.reserved_until) == (
        "reserved",
        None,
        claim_until,
    )


# --- the 100% claim ----------------------------------------------------------------------


@pytest.fixture
def free_grant(learner):
    return GrantFactory(approved=True, email=learner.email, discount_percent=100)


def test_a_free_claim_creates_the_enrollment_and_marks_the_coupon_redeemed_for_it(free_grant):
    states_seen_by_callback = []

    def create_enrollment() -> int:
        states_seen_by_callback.append(Grant.objects.get(pk=free_grant.pk).coupon_state)
        return eid(501)

    enrollment_id = claim_coupon_for_free_enrollment(
        grant_id=free_grant.pk, create_enrollment=create_enrollment
    )

    assert enrollment_id == eid(501)
    assert states_seen_by_callback == ["reserved"]  # claimed before the enrollment exists
    free_grant.refresh_from_db()
    assert free_grant.coupon_state == Grant.CouponState.REDEEMED
    assert free_grant.redeemed_enrollment_id == eid(501)
    assert (free_grant.holder_enrollment_id, free_grant.reserved_until) == (None, None)


def test_a_failure_after_the_claim_releases_it_and_propagates(free_grant):
    def create_enrollment() -> int:
        raise RuntimeError("the enrollment could not be created")

    with pytest.raises(RuntimeError, match="could not be created"):
        claim_coupon_for_free_enrollment(
            grant_id=free_grant.pk, create_enrollment=create_enrollment
        )

    free_grant.refresh_from_db()
    assert free_grant.coupon_state == Grant.CouponState.AVAILABLE
    assert claim_coupon_for_free_enrollment(
        grant_id=free_grant.pk, create_enrollment=lambda: eid(502)
    ) == eid(502)


@skip_on_mongodb(
    "no transaction on a standalone server, so the callback's own write to the grant is not "
    "rolled back (our claim is still refused and given back)",
    proven_by="grants/tests/test_coupon_lifecycle.py::"
    "test_a_failure_after_the_claim_releases_it_and_propagates",
)
def test_a_callback_that_disturbs_the_claim_undoes_everything(free_grant):
    def create_enrollment_and_meddle() -> int:
        Grant.objects.filter(pk=free_grant.pk).update(
            coupon_state=Grant.CouponState.RESERVED, holder_enrollment_id=eid(77)
        )
        return eid(501)

    with pytest.raises(GrantError, match="coupon changed"):
        claim_coupon_for_free_enrollment(
            grant_id=free_grant.pk, create_enrollment=create_enrollment_and_meddle
        )

    free_grant.refresh_from_db()
    assert (free_grant.coupon_state, free_grant.holder_enrollment_id) == ("available", None)


def test_a_used_free_coupon_is_refused_without_creating_anything(free_grant):
    claim_coupon_for_free_enrollment(grant_id=free_grant.pk, create_enrollment=lambda: eid(501))
    calls = []

    with pytest.raises(CouponRefused) as refused:
        claim_coupon_for_free_enrollment(
            grant_id=free_grant.pk, create_enrollment=lambda: calls.append(1) or 502
        )

    assert refused.value.reason == "redeemed"
    assert calls == []


def test_a_free_coupon_past_its_expiry_cannot_be_claimed(free_grant):
    Grant.objects.filter(pk=free_grant.pk).update(coupon_expires_at=timezone.now())

    with pytest.raises(CouponRefused) as refused:
        claim_coupon_for_free_enrollment(grant_id=free_grant.pk, create_enrollment=lambda: eid(501))

    assert refused.value.reason == "expired"


def test_a_free_coupon_held_by_a_checkout_cannot_be_claimed(free_grant):
    _reserved(free_grant, by=eid(11))

    with pytest.raises(CouponRefused) as refused:
        claim_coupon_for_free_enrollment(grant_id=free_grant.pk, create_enrollment=lambda: eid(501))

    assert refused.value.reason == "held"


# --- expiry ------------------------------------------------------------------------------


def test_expiring_marks_only_available_approved_coupons_past_their_expiry():
    past = timezone.now() - timedelta(minutes=1)
    due = GrantFactory(approved=True, coupon_expires_at=past)
    current = GrantFactory(approved=True)
    reserved = GrantFactory(
        approved=True,
        coupon_expires_at=past,
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=eid(5),
        reserved_until=None,
    )
    redeemed = GrantFactory(
        approved=True,
        coupon_expires_at=past,
        coupon_state=Grant.CouponState.REDEEMED,
        redeemed_enrollment_id=eid(6),
        redeemed_at=past,
    )
    pending = GrantFactory()

    assert expire_coupons() == 1
    assert expire_coupons() == 0

    statuses = dict(Grant.objects.values_list("pk", "status"))
    assert statuses == {
        due.pk: "expired",
        current.pk: "approved",
        reserved.pk: "approved",
        redeemed.pk: "approved",
        pending.pk: "pending",
    }


def test_expiring_at_a_given_time_uses_that_time(grant):
    assert expire_coupons(now=grant.coupon_expires_at - timedelta(seconds=1)) == 0
    assert expire_coupons(now=grant.coupon_expires_at) == 1


def test_the_periodic_task_expires_due_coupons():
    GrantFactory(approved=True, coupon_expires_at=timezone.now() - timedelta(hours=1))

    assert tasks.expire_coupons.delay().get() == 1
    assert tasks.expire_coupons.delay().get() == 0


def test_the_expiry_task_is_scheduled_hourly(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["grants-expire-coupons"]

    assert entry == {"task": "grants.tasks.expire_coupons", "schedule": 3600}
    assert tasks.expire_coupons.name == entry["task"]
