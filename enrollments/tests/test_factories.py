"""The factory's traits build the states their names say (the tests that use them rely on it)."""

import pytest

from enrollments.tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def test_the_default_is_a_pending_checkout():
    enrollment = EnrollmentFactory()
    assert (enrollment.status, enrollment.paid_at, enrollment.amount_refunded_cents) == (
        "pending",
        None,
        0,
    )


def test_paid_and_refunded_traits():
    paid = EnrollmentFactory(paid=True)
    assert paid.status == "paid" and paid.paid_at is not None and paid.expires_at is None

    refunded = EnrollmentFactory(refunded=True, course__price_cents=5000)
    assert (refunded.status, refunded.amount_refunded_cents) == ("refunded", 5000)
    assert refunded.paid_at is not None
