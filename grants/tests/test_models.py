"""Every grant the services could never produce is refused: by ``Grant.save()`` on every
backend, and by the SQL database's check constraints on a raw write that skips ``save()``."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.testing.backends import skip_on_mongodb
from courses.tests.factories import CourseFactory
from grants.models import Grant, GrantStateRefused
from grants.tests.factories import GrantFactory, eid

pytestmark = pytest.mark.django_db

MODEL_TESTS = "grants/tests/test_models.py::"
NO_CHECKS = "CHECK constraints are not enforced"


def _refused(**fields) -> bool:
    """Whether saving this grant (``Grant.save()``, then the database) is refused."""
    try:
        with transaction.atomic():
            GrantFactory(**fields)
    except IntegrityError:
        return True
    return False


def _refused_by_the_database(**fields) -> bool:
    """Whether the database itself refuses the row, written raw (``bulk_create`` skips
    ``Grant.save()``)."""
    row = GrantFactory.build(course=CourseFactory(), **fields)
    try:
        with transaction.atomic():
            Grant.objects.bulk_create([row])
    except IntegrityError:
        return True
    return False


def _refused_by_save(**fields) -> list[str]:
    """The rules ``Grant.save()`` names when it refuses the grant; nothing is written."""
    before = Grant.objects.count()
    with pytest.raises(GrantStateRefused) as refused:
        GrantFactory(**fields)
    assert Grant.objects.count() == before
    return refused.value.constraints


COUPON_NOT_MATCHING_STATUS = pytest.mark.parametrize(
    "fields",
    [
        {"approved": True, "coupon_code": None},
        {"approved": True, "coupon_expires_at": None},
        {"approved": True, "coupon_state": ""},
        {"coupon_code": "MAAL-2222-2222-2222-2222"},  # pending with a code
        {"rejected": True, "discount_percent": 50},
        {
            "approved": True,
            "status": "expired",
            "coupon_state": "reserved",
            "holder_enrollment_id": eid(1),
        },
    ],
    ids=["no-code", "no-expiry", "no-state", "pending-code", "rejected-discount", "expired-held"],
)
HOLDER_NOT_MATCHING_STATE = pytest.mark.parametrize(
    "fields",
    [
        {"coupon_state": "reserved"},  # neither holder nor end
        {"coupon_state": "redeemed"},  # no enrollment
        {"coupon_state": "available", "holder_enrollment_id": eid(3)},
        {
            "coupon_state": "redeemed",
            "redeemed_enrollment_id": eid(3),
            "redeemed_at": timezone.now(),
            "holder_enrollment_id": eid(3),
        },
    ],
    ids=["reserved-by-nobody", "redeemed-by-nobody", "available-with-holder", "redeemed-and-held"],
)
DISCOUNTS = pytest.mark.parametrize(
    ("percent", "refused"), [(9, True), (10, False), (100, False), (101, True)]
)


def test_one_pending_application_per_email_and_course():
    first = GrantFactory()

    assert _refused(email=first.email, course=first.course)
    assert not _refused(email=first.email, course=first.course, rejected=True)
    assert not _refused(email=first.email)  # another course


# --- the rules, on every backend: Grant.save() --------------------------------------------


def test_save_stores_the_email_lower_case():
    grant = GrantFactory(email=" Ada@Example.COM ")

    grant.refresh_from_db()
    assert grant.email == "ada@example.com"


@DISCOUNTS
def test_save_keeps_the_discount_between_10_and_100_percent(percent, refused):
    if refused:
        assert _refused_by_save(approved=True, discount_percent=percent) == [
            "grant_discount_10_to_100"
        ]
    else:
        assert GrantFactory(approved=True, discount_percent=percent).pk is not None


@COUPON_NOT_MATCHING_STATUS
def test_save_refuses_a_coupon_that_does_not_match_the_status(fields):
    assert "grant_coupon_matches_status" in _refused_by_save(**fields)


@HOLDER_NOT_MATCHING_STATE
def test_save_refuses_a_holder_that_does_not_match_the_coupon_state(fields):
    assert "grant_coupon_holder_matches_state" in _refused_by_save(approved=True, **fields)


def test_save_accepts_every_state_the_services_produce():
    now = timezone.now()
    GrantFactory()
    GrantFactory(rejected=True)
    GrantFactory(approved=True)
    GrantFactory(approved=True, status="expired")
    GrantFactory(approved=True, coupon_state="reserved", holder_enrollment_id=eid(1))
    GrantFactory(approved=True, coupon_state="reserved", reserved_until=now)  # the 100% claim
    GrantFactory(
        approved=True, coupon_state="redeemed", redeemed_enrollment_id=eid(2), redeemed_at=now
    )

    assert Grant.objects.count() == 7


def test_the_model_validates_the_discount_too():
    grant = GrantFactory.build(approved=True, discount_percent=101)

    with pytest.raises(ValidationError) as invalid:
        grant.full_clean(exclude=["course"])

    assert "discount_percent" in invalid.value.message_dict


def test_the_model_validates_the_coupon_state_too():
    grant = GrantFactory.build(approved=True, coupon_state="reserved")

    with pytest.raises(ValidationError, match="grant_coupon_holder_matches_state"):
        grant.full_clean(exclude=["course"])


# --- the same rules as SQL check constraints, on a raw write ------------------------------


@skip_on_mongodb(NO_CHECKS, proven_by=MODEL_TESTS + "test_save_stores_the_email_lower_case")
def test_the_database_refuses_an_email_not_lower_case():
    assert _refused_by_the_database(email="Ada@Example.com")


@skip_on_mongodb(
    NO_CHECKS, proven_by=MODEL_TESTS + "test_save_keeps_the_discount_between_10_and_100_percent"
)
@DISCOUNTS
def test_the_database_keeps_the_discount_between_10_and_100_percent(percent, refused):
    assert _refused_by_the_database(approved=True, discount_percent=percent) is refused


@skip_on_mongodb(
    NO_CHECKS, proven_by=MODEL_TESTS + "test_save_refuses_a_coupon_that_does_not_match_the_status"
)
@COUPON_NOT_MATCHING_STATUS
def test_the_database_refuses_a_coupon_that_does_not_match_the_status(fields):
    assert _refused_by_the_database(**fields)


@skip_on_mongodb(
    NO_CHECKS,
    proven_by=MODEL_TESTS + "test_save_refuses_a_holder_that_does_not_match_the_coupon_state",
)
@HOLDER_NOT_MATCHING_STATE
def test_the_database_refuses_a_holder_that_does_not_match_the_coupon_state(fields):
    assert _refused_by_the_database(approved=True, **fields)


# --- uniqueness: unique indexes on every backend -------------------------------------------


def test_an_enrollment_redeems_at_most_one_grant():
    used = {
        "coupon_state": "redeemed",
        "redeemed_enrollment_id": eid(8),
        "redeemed_at": timezone.now(),
    }
    GrantFactory(approved=True, **used)

    assert _refused(approved=True, **used)


def test_coupon_codes_are_unique():
    code = GrantFactory(approved=True).coupon_code

    assert _refused(approved=True, coupon_code=code)


def test_a_course_with_grants_cannot_be_deleted():
    grant = GrantFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        grant.course.delete()
    assert Grant.objects.filter(pk=grant.pk).exists()
