"""A learner paid another amount than their checkout asked (a Stripe-side discount, say): the
payment is not fulfilled automatically, but nobody is left in the dark. Staff get one incident
and one e-mail, the learner's page says staff are checking."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from courses.tests.factories import CourseFactory
from enrollments import services
from enrollments.models import Enrollment
from enrollments.tests.conftest import post_event
from ops import alerts
from ops.models import Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def discounted_payment(client, fake_stripe):
    """A 100.00 checkout paid 80.00 at Stripe (a promotion code applied on Stripe's side)."""
    course = CourseFactory(price_cents=10000)
    response = client.post(
        reverse("enrollments:checkout", args=[course.slug]), {"email": "lea@example.com"}
    )
    assert response.status_code == 303
    enrollment = Enrollment.objects.get()
    fake_stripe.complete_session(enrollment.stripe_session_id, amount_total=8000)
    return enrollment, fake_stripe.event_for_session(enrollment.stripe_session_id)


def assert_review_incident_open() -> None:
    """One open payment-review incident, whoever opened it: the webhook's after-commit hook (at
    once on MongoDB, which has no test transaction) or the check the test ran (on SQL)."""
    incident = Incident.objects.get(kind=Incident.Kind.PAYMENT_REVIEW)
    assert incident.resolved_at is None


def test_an_amount_mismatch_opens_one_incident_emails_staff_once_and_tells_the_learner(
    client, discounted_payment, fake_stripe, django_capture_on_commit_callbacks
):
    enrollment, completed = discounted_payment

    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, completed).json() == {"status": "amount_mismatch"}
    with django_capture_on_commit_callbacks(execute=True):  # Stripe delivers it again
        post_event(client, dict(completed, id="evt_same_payment_again"))

    incident = Incident.objects.get()
    assert (incident.kind, incident.resolved_at) == (Incident.Kind.PAYMENT_REVIEW, None)
    assert f"enrollment {enrollment.pk}: Amount mismatch" in incident.last_detail
    staff_mail = [m for m in mail.outbox if m.to == ["staff@maaledu.test"]]
    assert len(staff_mail) == 1
    assert "Paid checkouts waiting for staff review" in staff_mail[0].subject
    assert "8000 usd" in staff_mail[0].body

    page = client.get(reverse("enrollments:enrollment_status", args=[enrollment.pk]))
    assert "needs a check by our staff" in page.text
    assert "We are confirming your payment with Stripe" not in page.text
    assert 'hx-trigger="every 3s"' not in page.text  # nothing changes by itself now


def test_a_checkout_waiting_for_review_is_never_expired_by_the_clock(
    client, discounted_payment, django_capture_on_commit_callbacks
):
    enrollment, completed = discounted_payment
    post_event(client, completed)

    services.expire_stale_checkouts(now=timezone.now() + timedelta(days=3))

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.expires_at) == (Enrollment.Status.PENDING, None)
    alerts.check_alerts()
    assert_review_incident_open()


def test_the_review_incident_clears_when_no_paid_checkout_waits_any_more(
    client, discounted_payment
):
    enrollment, completed = discounted_payment
    post_event(client, completed)
    alerts.check_alerts()
    assert_review_incident_open()

    Enrollment.objects.filter(pk=enrollment.pk).update(needs_review=False)  # staff settled it

    assert alerts.check_alerts()[Incident.Kind.PAYMENT_REVIEW] == alerts.RESOLVED


def test_a_dispute_flag_on_a_checkout_not_yet_paid_here_is_no_payment_review():
    from enrollments.tests.factories import EnrollmentFactory

    EnrollmentFactory(
        status=Enrollment.Status.PENDING,
        needs_review=True,
        review_reason="Dispute dp_1 opened (fraudulent) for $100.00.",
        dispute_status=Enrollment.Dispute.OPEN,
    )

    assert not alerts.payments_awaiting_review(timezone.now()).firing
