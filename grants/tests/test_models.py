"""The database refuses every grant the services could never produce."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from grants.models import Grant
from grants.tests.factories import GrantFactory

pytestmark = pytest.mark.django_db


def _refused(**fields) -> bool:
    try:
        with transaction.atomic():
            GrantFactory(**fields)
    except IntegrityError:
        return True
    return False


def test_one_pending_application_per_email_and_course():
    first = GrantFactory()

    assert _refused(email=first.email, course=first.course)
    assert not _refused(email=first.email, course=first.course, rejected=True)
    assert not _refused(email=first.email)  # another course


def test_the_email_is_stored_lower_case():
    assert _refused(email="Ada@Example.com")


@pytest.mark.parametrize(
    ("percent", "refused"), [(9, True), (10, False), (100, False), (101, True)]
)
def test_the_discount_is_between_10_and_100_percent(percent, refused):
    assert _refused(approved=True, discount_percent=percent) is refused


def test_the_model_validates_the_discount_too():
    grant = GrantFactory.build(approved=True, discount_percent=101)

    with pytest.raises(ValidationError) as invalid:
        grant.full_clean(exclude=["course"])

    assert "discount_percent" in invalid.value.message_dict


@pytest.mark.parametrize(
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
            "holder_enrollment_id": 1,
        },
    ],
    ids=["no-code", "no-expiry", "no-state", "pending-code", "rejected-discount", "expired-held"],
)
def test_the_coupon_matches_the_status(fields):
    assert _refused(**fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"coupon_state": "reserved"},  # neither holder nor end
        {"coupon_state": "redeemed"},  # no enrollment
        {"coupon_state": "available", "holder_enrollment_id": 3},
        {
            "coupon_state": "redeemed",
            "redeemed_enrollment_id": 3,
            "redeemed_at": timezone.now(),
            "holder_enrollment_id": 3,
        },
    ],
    ids=["reserved-by-nobody", "redeemed-by-nobody", "available-with-holder", "redeemed-and-held"],
)
def test_the_holder_matches_the_coupon_state(fields):
    assert _refused(approved=True, **fields)


def test_an_enrollment_redeems_at_most_one_grant():
    used = {"coupon_state": "redeemed", "redeemed_enrollment_id": 8, "redeemed_at": timezone.now()}
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
