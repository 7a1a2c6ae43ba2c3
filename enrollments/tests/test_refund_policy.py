"""One refund policy: the words on the course and checkout pages and the rules the refund
service applies come from common.refund_policy."""

from datetime import timedelta

import pytest
from django.utils import timezone

from affiliates import services as affiliate_services
from affiliates.models import Commission
from affiliates.tests.factories import AffiliateFactory
from common.refund_policy import refund_policy
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from enrollments.selectors import preview_refund
from enrollments.services.refunds import apply_refund_policy
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


@pytest.mark.parametrize(
    ("amount_due", "rate", "refunds"),
    [
        (10000, 10, [2500]),
        (9999, 10, [3332]),  # odd cents: 1000 × 3332 / 9999 = 333.23
        (9999, 10, [1, 1, 3331]),  # three partial refunds, each previewed
        (4999, 7, [2500, 2499]),  # the rest: the whole commission
        (101, 10, [50, 1]),  # 10 × 50/101 = 4.95 → 5, then 10 × 51/101 = 5.05 → 5: nothing
    ],
)
def test_the_preview_shows_exactly_the_reversal_the_refund_makes(amount_due, rate, refunds):
    affiliate = AffiliateFactory(rate_percent=rate)
    course = CourseFactory(price_cents=amount_due)
    enrollment = _paid(course=course, affiliate=affiliate)
    affiliate_services.record_commission(
        affiliate_id=affiliate.pk,
        sale_id=enrollment.pk,
        course_id=course.pk,
        buyer_email=enrollment.email,
        amount_paid_cents=amount_due,
        currency="usd",
        sold_at=timezone.now(),
    )
    for amount in refunds:
        enrollment.refresh_from_db()
        before = Commission.objects.get(sale_id=enrollment.pk).reversed_cents
        preview = preview_refund(
            enrollment=enrollment, amount_cents=amount, revoke_access=False, restore_coupon=False
        )
        Enrollment.objects.filter(pk=enrollment.pk).update(
            amount_refunded_cents=preview.refunded_total_cents
        )
        enrollment.refresh_from_db()
        apply_refund_policy(enrollment)

        after = Commission.objects.get(sale_id=enrollment.pk).reversed_cents
        assert after - before == preview.commission_reversal_cents
