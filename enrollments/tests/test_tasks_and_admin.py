from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import StaffFactory, UserFactory
from common import outbox
from common.tasks import deliver_outbox_email
from enrollments import tasks
from enrollments.models import Enrollment, StripeEvent
from enrollments.services import emails
from enrollments.tests.conftest import fixture_event
from enrollments.tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def test_confirmation_is_sent_once_however_often_it_is_queued(
    django_capture_on_commit_callbacks,
):
    enrollment = EnrollmentFactory(paid=True)

    with django_capture_on_commit_callbacks(execute=True):
        results = [emails.queue_confirmation(enrollment.pk) for _ in range(3)]
    key = emails.confirmation_key(enrollment.pk)
    results.append(deliver_outbox_email.delay(key).get())

    assert results == [True, False, False, False]
    assert len(mail.outbox) == 1
    assert enrollment.course.title in mail.outbox[0].subject
    html = mail.outbox[0].alternatives[0][0]
    assert "What happens next" in html and "MaalEdu" in html


def test_no_confirmation_for_an_unpaid_enrollment():
    enrollment = EnrollmentFactory(status=Enrollment.Status.PENDING)

    assert emails.queue_confirmation(enrollment.pk) is False
    assert outbox.find(emails.confirmation_key(enrollment.pk)) is None


def test_sweep_sends_confirmations_whose_message_was_lost():
    lost = EnrollmentFactory(paid=True, paid_at=timezone.now())
    emails.queue_confirmation(lost.pk, publish=False)  # its message is lost

    assert outbox.sweep() == 0  # still in flight
    assert outbox.sweep(now=timezone.now() + timedelta(minutes=2)) == 1
    assert outbox.sent_at(emails.confirmation_key(lost.pk)) is not None
    assert len(mail.outbox) == 1


def test_stale_pending_checkouts_expire_after_a_grace_but_bank_payments_never():
    stale = EnrollmentFactory(expires_at=timezone.now() - timedelta(minutes=20))
    just_expired = EnrollmentFactory(expires_at=timezone.now() - timedelta(minutes=1))
    open_ = EnrollmentFactory(expires_at=timezone.now() + timedelta(minutes=30))
    awaiting_bank = EnrollmentFactory(expires_at=None)

    assert tasks.expire_stale_checkouts() == 1

    statuses = {e.pk: e.status for e in Enrollment.objects.all()}
    assert statuses[stale.pk] == Enrollment.Status.EXPIRED
    # A payment made in the session's last minute may still be on its way.
    assert statuses[just_expired.pk] == Enrollment.Status.PENDING
    assert statuses[open_.pk] == Enrollment.Status.PENDING
    assert statuses[awaiting_bank.pk] == Enrollment.Status.PENDING


def _failed_expiry_event(session_id: str, **fields) -> StripeEvent:
    """A stored ``checkout.session.expired`` event of this session whose processing failed."""
    event = fixture_event("checkout.session.expired")
    event["data"]["object"]["id"] = session_id
    return StripeEvent.objects.create(
        event_id=event["id"],
        type=event["type"],
        payload=event,
        outcome=StripeEvent.Outcome.FAILED,
        **fields,
    )


def test_staff_can_reprocess_failed_events_from_the_admin(client):
    enrollment = EnrollmentFactory(stripe_session_id="cs_test_admin")
    stripe_event = _failed_expiry_event("cs_test_admin")
    client.force_login(StaffFactory())

    response = client.post(
        reverse("admin:enrollments_stripeevent_changelist"),
        {"action": "reprocess", "_selected_action": [stripe_event.pk]},
        follow=True,
    )

    assert "Reprocessed 1 event(s)" in response.text
    stripe_event.refresh_from_db()
    enrollment.refresh_from_db()
    assert stripe_event.outcome == StripeEvent.Outcome.PROCESSED
    assert enrollment.status == Enrollment.Status.EXPIRED


def test_enrollment_admin_lists_filters_and_searches_for_staff_only(client):
    EnrollmentFactory(email="findme@example.com")
    url = reverse("admin:enrollments_enrollment_changelist")

    client.force_login(UserFactory())
    assert client.get(url).status_code == 302

    client.force_login(StaffFactory())
    response = client.get(url, {"q": "findme", "status__exact": "pending"})
    assert response.status_code == 200 and "findme@example.com" in response.text


@pytest.mark.parametrize("ended_meanwhile", [0, 1])
def test_processing_a_failed_event_again_counts_every_attempt_and_clears_its_error(
    ended_meanwhile,
):
    """The outcome's UPDATE counts over the attempts it read; another attempt that ended
    since (``ended_meanwhile``) is counted too, not overwritten."""
    from enrollments import services

    EnrollmentFactory(stripe_session_id="cs_test_again")
    stripe_event = _failed_expiry_event("cs_test_again", error="RuntimeError: boom", attempts=1)
    StripeEvent.objects.filter(pk=stripe_event.pk).update(attempts=1 + ended_meanwhile)

    assert services.process_stripe_event(stripe_event) == "expired"

    stripe_event.refresh_from_db()
    assert (stripe_event.outcome, stripe_event.error, stripe_event.attempts) == (
        StripeEvent.Outcome.PROCESSED,
        "",
        2 + ended_meanwhile,
    )
