"""One refund policy: the words on the course and checkout pages and the rules the refund
service applies come from common.refund_policy."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.refund_policy import refund_policy
from courses.tests.factories import CourseFactory
from enrollments.services import preview_refund
from enrollments.tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def test_course_and_checkout_pages_state_the_policy_with_the_configured_window(client, settings):
    settings.COMMISSION_REFUND_WINDOW_DAYS = 21
    settings.SUPPORT_EMAIL = "help@school.example"
    course = CourseFactory()

    course_page = client.get(course.get_absolute_url()).text
    checkout_page = client.get(f"/courses/{course.slug}/checkout/").text

    for term in refund_policy().terms:
        assert term in course_page
        assert term in checkout_page
    assert "within 21 days of your purchase by writing to help@school.example" in course_page


def _paid(**fields):
    return EnrollmentFactory(paid=True, stripe_payment_intent_id="pi_policy", **fields)


def test_the_refund_service_applies_the_stated_access_rule():
    enrollment = _paid()
    full = preview_refund(
        enrollment=enrollment,
        amount_cents=enrollment.amount_due_cents,
        revoke_access=False,
        restore_coupon=False,
    )
    partial = preview_refund(
        enrollment=enrollment, amount_cents=100, revoke_access=False, restore_coupon=False
    )

    # "A full refund ends your access to the course; after a partial refund you keep it…"
    assert full.revoke_access is True
    assert partial.revoke_access is False


def test_the_staff_preview_says_whether_the_refund_is_within_the_window(settings):
    settings.COMMISSION_REFUND_WINDOW_DAYS = 14
    recent = _paid(paid_at=timezone.now() - timedelta(days=3))
    old = _paid(paid_at=timezone.now() - timedelta(days=30))

    def preview(enrollment):
        return preview_refund(
            enrollment=enrollment, amount_cents=100, revoke_access=False, restore_coupon=False
        )

    assert preview(recent).within_window is True
    assert preview(old).within_window is False
