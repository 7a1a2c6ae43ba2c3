"""find_coupon_for_checkout: every rule that accepts or refuses a coupon at checkout."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.tests.factories import UserFactory
from courses.tests.factories import CourseFactory
from grants.errors import CouponRefused
from grants.models import Grant
from grants.selectors import find_coupon_for_checkout
from grants.tests.factories import GrantFactory, eid

pytestmark = pytest.mark.django_db


def _find(grant, user, *, code=None, course=None, email=None, enrollment_id=None):
    return find_coupon_for_checkout(
        code=grant.coupon_code if code is None else code,
        course=grant.course if course is None else course,
        email=grant.email if email is None else email,
        user=user,
        enrollment_id=enrollment_id,
    )


def _refusal(grant, user, **kwargs) -> CouponRefused:
    with pytest.raises(CouponRefused) as refused:
        _find(grant, user, **kwargs)
    return refused.value


def _unknown_code_message(user) -> str:
    return _refusal(GrantFactory.build(coupon_code="MAAL-2222-2222-2222-2222"), user).message


def test_the_owner_logged_in_with_the_verified_email_gets_the_grant(
    grant, learner, django_assert_num_queries
):
    with django_assert_num_queries(2):  # the verified e-mail, the grant with its course
        found = _find(grant, learner)

    assert found == grant
    assert found.discount_percent == 50


@pytest.mark.parametrize(
    "typed", ["{code}", "{lower}", " {lower} ", "{compact}", "{compact_lower_no_prefix}"]
)
def test_the_code_may_be_typed_in_any_case_with_or_without_dashes_and_prefix(grant, learner, typed):
    code = grant.coupon_code
    compact = code.replace("-", "")
    typed = typed.format(
        code=code,
        lower=code.lower(),
        compact=compact,
        compact_lower_no_prefix=compact.removeprefix("MAAL").lower(),
    )

    assert _find(grant, learner, code=typed) == grant


@pytest.mark.parametrize(
    "checkout_email", ["ADA@EXAMPLE.COM", "Ada@Example.com", " ada@example.com "]
)
def test_checkout_email_matches_the_grant_email_case_insensitively(grant, learner, checkout_email):
    assert _find(grant, learner, email=checkout_email) == grant


def test_grant_applied_for_in_mixed_case_matches_the_login(learner):
    grant = GrantFactory(approved=True, email="ada@example.com")

    assert _find(grant, learner, email="ADA@example.COM") == grant


def test_anonymous_checkout_must_log_in_first(grant):
    refusal = _refusal(grant, AnonymousUser())

    assert refusal.reason == "login_required"
    assert "Log in" in refusal.message


def test_an_unverified_account_is_refused_even_with_its_own_code():
    unverified = UserFactory(email="bob@example.com", verified=False)
    grant = GrantFactory(approved=True, email=unverified.email)

    refusal = _refusal(grant, unverified)

    assert refusal.reason == "unverified"
    assert "Verify your e-mail" in refusal.message


def test_an_unknown_code_is_not_found(grant, learner):
    refusal = _refusal(grant, learner, code="MAAL-2222-3333-4444-5555")

    assert refusal.reason == "not_found"
    assert refusal.message == _unknown_code_message(learner)


def test_a_malformed_code_is_not_found_without_looking_it_up(
    grant, learner, django_assert_num_queries
):
    with django_assert_num_queries(1):  # the verified e-mail only
        refusal = _refusal(grant, learner, code="<script>alert(1)</script>")

    assert refusal.reason == "not_found"


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"coupon_expires_at": timezone.now() - timedelta(days=1)},
        {"coupon_state": Grant.CouponState.REDEEMED},
        {"other_course": True},
    ],
    ids=["available", "expired", "redeemed", "for-another-course"],
)
def test_another_persons_code_reads_exactly_like_a_code_that_does_not_exist(learner, state):
    state = dict(state)
    other_course = state.pop("other_course", False)
    if state.get("coupon_state") == Grant.CouponState.REDEEMED:
        state.update(redeemed_enrollment_id=eid(99), redeemed_at=timezone.now())
    someone_elses = GrantFactory(approved=True, email="grace@example.com", **state)
    course = CourseFactory() if other_course else someone_elses.course

    refusal = _refusal(someone_elses, learner, email=learner.email, course=course)

    assert refusal.reason == "email_mismatch"
    assert refusal.message == _unknown_code_message(learner)


def test_typing_the_grant_email_at_checkout_does_not_help_another_account(grant):
    grace = UserFactory(email="grace@example.com")

    refusal = _refusal(grant, grace, email=grant.email)

    assert refusal.reason == "email_mismatch"
    assert refusal.message == _unknown_code_message(grace)


def test_the_owner_checking_out_under_another_email_is_refused_like_an_unknown_code(grant, learner):
    refusal = _refusal(grant, learner, email="ada.other@example.com")

    assert refusal.reason == "email_mismatch"
    assert refusal.message == _unknown_code_message(learner)


def test_a_coupon_for_another_course_is_refused_and_names_its_course(grant, learner):
    refusal = _refusal(grant, learner, course=CourseFactory())

    assert refusal.reason == "wrong_course"
    assert grant.course.title in refusal.message


def test_a_coupon_past_its_expiry_is_refused_even_before_the_expiry_task_ran(grant, learner):
    Grant.objects.filter(pk=grant.pk).update(
        coupon_expires_at=timezone.now() - timedelta(seconds=1)
    )
    grant.refresh_from_db()
    assert grant.status == Grant.Status.APPROVED

    refusal = _refusal(grant, learner)

    assert refusal.reason == "expired"
    expiry = grant.coupon_expires_at
    assert refusal.message == f"This coupon has expired (on {expiry.day} {expiry:%B %Y}, UTC)."


def test_an_expired_grant_is_refused(learner):
    grant = GrantFactory(
        approved=True,
        email=learner.email,
        status=Grant.Status.EXPIRED,
        coupon_expires_at=timezone.now() - timedelta(days=2),
    )

    assert _refusal(grant, learner).reason == "expired"


def test_a_redeemed_coupon_is_refused(learner):
    grant = GrantFactory(
        approved=True,
        email=learner.email,
        coupon_state=Grant.CouponState.REDEEMED,
        redeemed_enrollment_id=eid(7),
        redeemed_at=timezone.now(),
    )

    refusal = _refusal(grant, learner)

    assert refusal.reason == "redeemed"
    assert "already been used" in refusal.message


@pytest.mark.parametrize(
    "reserved_until",
    [timezone.now() + timedelta(minutes=30), None],
    ids=["until-the-session-expires", "while-a-delayed-payment-settles"],
)
def test_a_coupon_held_by_another_unexpired_checkout_is_refused(learner, reserved_until):
    grant = GrantFactory(
        approved=True,
        email=learner.email,
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=eid(41),
        reserved_until=reserved_until,
    )

    refusal = _refusal(grant, learner, enrollment_id=eid(42))

    assert refusal.reason == "held"


def test_a_hold_that_ran_out_does_not_block_a_new_checkout(learner):
    grant = GrantFactory(
        approved=True,
        email=learner.email,
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=eid(41),
        reserved_until=timezone.now() - timedelta(seconds=1),
    )

    assert _find(grant, learner) == grant


def test_the_checkouts_own_hold_does_not_block_it(learner):
    grant = GrantFactory(
        approved=True,
        email=learner.email,
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=eid(41),
        reserved_until=timezone.now() + timedelta(minutes=30),
    )

    assert _find(grant, learner, enrollment_id=eid(41)) == grant
