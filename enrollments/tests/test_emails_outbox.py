"""Each e-mail about an enrollment goes through the outbox (common.outbox): queued by the webhook
that causes it under its key, sent once, and a replay of the webhook sends nothing again."""

import pytest
from django.core import mail

from common import outbox
from enrollments.models import Enrollment
from enrollments.services import emails
from enrollments.tests.conftest import fixture_event, post_event
from enrollments.tests.factories import EnrollmentFactory
from enrollments.tests.test_webhooks import SESSION_A, completed_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook(client, django_capture_on_commit_callbacks):
    """Deliver a Stripe event twice (Stripe retries), with its after-commit work run."""

    def deliver(event):
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                assert post_event(client, event).status_code == 200

    return deliver


def sent_to(key: str) -> list[str]:
    row = outbox.find(key)
    assert row is not None and row.status == "sent", key
    return next(m.to for m in mail.outbox if m.subject == row.subject)


def paid_session_a():
    return EnrollmentFactory(
        stripe_session_id=SESSION_A,
        list_price_cents=3000,
        amount_due_cents=3000,
        course__price_cents=3000,
    )


def test_the_confirmation_goes_through_the_outbox(webhook):
    enrollment = paid_session_a()

    webhook(completed_event(enrollment))

    assert sent_to(emails.confirmation_key(enrollment.pk)) == [enrollment.email]
    assert len(mail.outbox) == 1


def test_the_payment_failed_notice_goes_through_the_outbox(webhook):
    event = fixture_event("checkout.session.async_payment_failed")
    failed = EnrollmentFactory(stripe_session_id=event["data"]["object"]["id"])

    webhook(event)

    assert sent_to(emails.payment_failed_key(failed.pk)) == [failed.email]
    assert len(mail.outbox) == 1


def test_the_refund_notice_goes_through_the_outbox_once_per_total(webhook):
    enrollment = paid_session_a()
    webhook(completed_event(enrollment))

    webhook(fixture_event("charge.refunded"))

    enrollment.refresh_from_db()
    key = emails.refund_notice_key(enrollment.pk, enrollment.amount_refunded_cents)
    assert sent_to(key) == [enrollment.email]
    assert len(mail.outbox) == 2  # the confirmation, then the refund notice


def test_the_dispute_alert_goes_through_the_outbox(webhook):
    event = fixture_event("charge.dispute.created")
    disputed = EnrollmentFactory(
        status=Enrollment.Status.PAID,
        stripe_payment_intent_id=event["data"]["object"]["payment_intent"],
    )

    webhook(event)

    assert sent_to(emails.dispute_alert_key(disputed.pk)) == ["staff@maaledu.test"]
    assert len(mail.outbox) == 1
