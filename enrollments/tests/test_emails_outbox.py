"""Each e-mail about an enrollment goes through the outbox (common.outbox): queued by the webhook
that causes it under its key, sent once, and a replay of the webhook sends nothing again."""

import pytest
from django.core import mail

from common import outbox
from courses.models import Course
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
    return next(m.to for m in mail.outbox if m.subject == outbox.message(row).subject)


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


def test_the_confirmation_says_the_course_and_price_as_they_were_at_payment(
    client, django_capture_on_commit_callbacks
):
    enrollment = paid_session_a()
    title, paid = enrollment.course.title, enrollment.amount_due_display
    # The payment's worker has not run yet (where after-commit work runs at once, as on
    # MongoDB, it has: the e-mail then left before the rename, as it still must say).
    with django_capture_on_commit_callbacks(execute=False):
        assert post_event(client, completed_event(enrollment)).status_code == 200
    Course.objects.filter(pk=enrollment.course_id).update(title="Renamed", price_cents=9900)

    outbox.deliver(emails.confirmation_key(enrollment.pk))

    [sent] = mail.outbox
    assert sent.subject == f"You're enrolled: {title}"
    for body in (sent.body, sent.alternatives[0][0]):
        assert title in body and "Amount paid" in body and paid in body
        assert f"MAAL-{enrollment.pk}" in body and enrollment.email in body
        assert "Renamed" not in body


def test_a_repeated_paid_webhook_owes_one_confirmation_rendered_at_delivery(webhook):
    enrollment = paid_session_a()

    webhook(completed_event(enrollment))

    [row] = outbox.emails_about(keys=[emails.confirmation_key(enrollment.pk)])
    assert outbox.find(row.key).context["course_title"] == enrollment.course.title
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
