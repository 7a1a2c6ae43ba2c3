"""Query budgets on the money paths: the Stripe webhook (payment, refund, dispute) and the
staff refund. Each is measured on a small and a large history (the course's and the
affiliate's other sales, earlier events, earlier refunds): an N+1 over any of them shows as a
count that grows with the history, and the large one must stay within the budget."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from affiliates import earnings
from affiliates.tests.factories import AffiliateFactory, CommissionFactory
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment, StripeEvent
from enrollments.tests.conftest import post_event
from enrollments.tests.factories import EnrollmentFactory
from enrollments.tests.test_refunds import staff_refund, stripe_refund

pytestmark = pytest.mark.django_db

SMALL, LARGE = 2, 30
# Measured, plus a little room; a change that needs more should say why here.
# Each counts the request and what runs after its commit (tasks run eagerly in the tests: the
# confirmation e-mail through the outbox, the LMS job's insert and attempt, the affiliate's
# daily totals).
BUDGET_PAID = 43  # measured 40: 20 in the request, 6 for the e-mail, 10 for the LMS job
BUDGET_REFUNDED = 28  # measured 25
BUDGET_DISPUTE = 35  # measured 32: the staff alert through the outbox, the suspend job
BUDGET_STAFF_REFUND = {"preview": 6, "confirm": 35}  # measured 4 and 32


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(StaffFactory())
    return client


def _history(size: int):
    """A course and a 10% affiliate with ``size`` earlier paid, referred sales (each with its
    commission, on its own day) and ``size`` processed webhook events."""
    course = CourseFactory(price_cents=10000)
    affiliate = AffiliateFactory(rate_percent=10)
    for n in range(size):
        sold_at = timezone.now() - timedelta(days=n + 1)
        sale = EnrollmentFactory(
            course=course,
            affiliate=affiliate,
            status=Enrollment.Status.PAID,
            paid_at=sold_at,
            stripe_payment_intent_id=f"pi_history_{course.pk}_{n}",
        )
        CommissionFactory(
            affiliate=affiliate, sale_id=sale.pk, course=course, sale_amount_cents=10000,
            sold_at=sold_at,
        )  # fmt: skip
        StripeEvent.objects.create(
            event_id=f"evt_history_{course.pk}_{n}",
            type="checkout.session.completed",
            payload={},
            outcome=StripeEvent.Outcome.PROCESSED,
        )
    earnings.refresh(affiliate.pk)  # as the writers leave it: nothing stale
    return course, affiliate


def _checkout(client, fake_stripe, course, affiliate, email="learner@example.com"):
    client.cookies.clear()
    client.get(course.get_absolute_url(), {"ref": affiliate.referral_code})
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": email})
    enrollment = Enrollment.objects.get(course=course, email=email)
    fake_stripe.complete_session(enrollment.stripe_session_id)
    return enrollment


def _paid(client, fake_stripe, course, affiliate):
    enrollment = _checkout(client, fake_stripe, course, affiliate)
    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID
    return enrollment


def _within_budget(request, budget: int, setup, action) -> None:
    """``action`` (and what it runs after its commit: eager tasks included) within ``budget``
    queries on the large history, and with as many queries as on the small one."""
    on_commit = request.getfixturevalue("django_capture_on_commit_callbacks")
    max_queries = request.getfixturevalue("django_assert_max_num_queries")
    subject = setup(SMALL)
    with CaptureQueriesContext(connection) as small, on_commit(execute=True):
        action(subject)
    subject = setup(LARGE)
    with max_queries(budget) as large, on_commit(execute=True):
        action(subject)
    assert len(large) == len(small), f"grows with the history (N+1?): {len(small)} → {len(large)}"


def test_checkout_session_completed_webhook(request, client, fake_stripe):
    def setup(size):
        course, affiliate = _history(size)
        enrollment = _checkout(client, fake_stripe, course, affiliate)
        return fake_stripe.event_for_session(enrollment.stripe_session_id)

    def action(event):
        assert post_event(client, event).json() == {"status": "fulfilled"}

    _within_budget(request, BUDGET_PAID, setup, action)


def test_charge_refunded_webhook(request, client, fake_stripe):
    def setup(size):
        course, affiliate = _history(size)
        enrollment = _paid(client, fake_stripe, course, affiliate)
        for _ in range(size):  # earlier partial refunds, each recorded
            post_event(client, stripe_refund(fake_stripe, enrollment, 100))
        return stripe_refund(fake_stripe, enrollment, 100)

    def action(event):
        assert post_event(client, event).json() == {"status": "partially_refunded"}

    _within_budget(request, BUDGET_REFUNDED, setup, action)


def test_dispute_created_webhook(request, client, fake_stripe):
    def setup(size):
        course, affiliate = _history(size)
        enrollment = _paid(client, fake_stripe, course, affiliate)
        [charge_id] = [
            charge_id
            for charge_id, charge in fake_stripe.charges.items()
            if charge["payment_intent"] == enrollment.stripe_payment_intent_id
        ]
        return fake_stripe.event_for_dispute(charge_id)

    def action(event):
        assert post_event(client, event).json() == {"status": "suspended"}

    _within_budget(request, BUDGET_DISPUTE, setup, action)


@pytest.mark.parametrize("step", ["preview", "confirm"])
def test_staff_refund(request, client, fake_stripe, staff_client, step):
    def setup(size):
        course, affiliate = _history(size)
        enrollment = _paid(client, fake_stripe, course, affiliate)
        for _ in range(size):  # earlier staff refunds of 1.00
            staff_refund(staff_client, enrollment, "1.00")
        return enrollment

    def action(enrollment):
        response = staff_refund(staff_client, enrollment, "1.00", confirm=step == "confirm")
        if step == "confirm":
            assert response.status_code == 302
        else:
            assert "Confirm refund" in response.text

    _within_budget(request, BUDGET_STAFF_REFUND[step], setup, action)
