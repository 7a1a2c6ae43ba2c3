"""Stripe's webhook while Redis (the Celery broker) is down: what was recorded is acknowledged,
and what could not be published is repaired by the sweeps once Redis is back."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from common import outbox
from enrollments.models import Enrollment, StripeEvent
from enrollments.services import emails
from enrollments.tests.conftest import fixture_event, post_event
from enrollments.tests.factories import EnrollmentFactory
from enrollments.tests.test_webhooks import SESSION_A, completed_event
from lms_sync import selectors as lms_selectors
from lms_sync import tasks as lms_tasks

# Committed for real: outside a test transaction, on-commit work runs as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_payment_recorded_while_redis_is_down_is_acknowledged_and_the_sweeps_finish_it(
    client, redis_down
):
    enrollment = EnrollmentFactory(
        stripe_session_id=SESSION_A,
        list_price_cents=3000,
        amount_due_cents=3000,
        course__price_cents=3000,
    )

    response = post_event(client, completed_event(enrollment))

    assert response.status_code == 200
    assert response.json() == {"status": "fulfilled"}
    event = StripeEvent.objects.get()
    assert (event.outcome, event.error) == (StripeEvent.Outcome.PROCESSED, "")
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID
    confirmation = emails.confirmation_key(enrollment.pk)
    assert outbox.find(confirmation).status == "pending" and mail.outbox == []
    redis_down.end()

    later = timezone.now() + timedelta(minutes=10)
    assert outbox.sweep(now=later) == 1
    # lms_sync heard the payment but could not publish its task: its minute sweep makes the
    # job the payment asks for, due at once.
    assert lms_selectors.current_job(enrollment.pk) is None
    lms_tasks.sweep_due_jobs()
    job = lms_selectors.current_job(enrollment.pk)
    assert job.action == "enrol"

    assert outbox.sent_at(confirmation) is not None
    assert [m.to for m in mail.outbox] == [[enrollment.email]]


def test_notices_lost_while_redis_is_down_are_sent_by_the_sweep_once(client, redis_down):
    """A refund, a failed bank payment and a dispute, each recorded by its webhook while Redis
    is down: the learner's and staff's e-mails go out once Redis is back."""
    refunded = EnrollmentFactory(
        stripe_session_id=SESSION_A,
        list_price_cents=3000,
        amount_due_cents=3000,
        course__price_cents=3000,
    )
    post_event(client, completed_event(refunded))
    assert post_event(client, fixture_event("charge.refunded")).status_code == 200
    failed_event = fixture_event("checkout.session.async_payment_failed")
    failed = EnrollmentFactory(stripe_session_id=failed_event["data"]["object"]["id"])
    assert post_event(client, failed_event).status_code == 200
    dispute_event = fixture_event("charge.dispute.created")
    disputed = EnrollmentFactory(
        status=Enrollment.Status.PAID,
        stripe_payment_intent_id=dispute_event["data"]["object"]["payment_intent"],
    )
    assert post_event(client, dispute_event).status_code == 200
    assert mail.outbox == []
    redis_down.end()

    later = timezone.now() + timedelta(minutes=10)
    # The confirmation of the refunded payment, its refund notice, the failed-payment notice
    # and the dispute alert.
    assert outbox.sweep(now=later) == 4

    subjects = {(m.to[0], m.subject) for m in mail.outbox}
    assert any(to == refunded.email and "refund" in s.lower() for to, s in subjects)
    assert any(to == failed.email and "did not go through" in s for to, s in subjects)
    assert any(to == "staff@maaledu.test" and "dispute" in s.lower() for to, s in subjects)
    sent = len(mail.outbox)
    assert sent == 4
    assert outbox.sweep(now=later) == 0
    assert len(mail.outbox) == sent
    assert outbox.sent_at(emails.dispute_alert_key(disputed.pk)) is not None
