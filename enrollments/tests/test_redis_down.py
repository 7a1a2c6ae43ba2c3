"""Stripe's webhook while Redis (the Celery broker) is down: what was recorded is acknowledged,
and what could not be published is repaired by the sweeps once Redis is back."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db.models import F
from django.utils import timezone

from enrollments import tasks
from enrollments.models import Enrollment, StripeEvent
from enrollments.tests.conftest import post_event
from enrollments.tests.factories import EnrollmentFactory
from enrollments.tests.test_webhooks import SESSION_A, completed_event
from lms_sync import selectors as lms_selectors

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
    assert enrollment.confirmation_sent_at is None and mail.outbox == []
    redis_down.end()

    Enrollment.objects.update(paid_at=F("paid_at") - timedelta(minutes=10))
    assert tasks.sweep_unsent_confirmations() == 1
    assert enrollment.pk in lms_selectors.due_job_ids(
        now=timezone.now(), limit=10, waiting_config=True
    )

    enrollment.refresh_from_db()
    assert enrollment.confirmation_sent_at is not None
    assert [m.to for m in mail.outbox] == [[enrollment.email]]
