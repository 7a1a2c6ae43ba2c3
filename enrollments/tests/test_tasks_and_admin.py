from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import StaffFactory, UserFactory
from enrollments import tasks
from enrollments.models import Enrollment, StripeEvent
from enrollments.tests.conftest import fixture_event
from enrollments.tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def test_confirmation_is_sent_once_however_often_the_task_runs():
    enrollment = EnrollmentFactory(paid=True)

    results = [tasks.send_enrollment_confirmation(enrollment.pk) for _ in range(3)]

    assert results == [True, False, False]
    assert len(mail.outbox) == 1
    assert enrollment.course.title in mail.outbox[0].subject
    html = mail.outbox[0].alternatives[0][0]
    assert "What happens next" in html and "MaalEdu" in html


def test_no_confirmation_for_an_unpaid_enrollment():
    enrollment = EnrollmentFactory(status=Enrollment.Status.PENDING)

    assert tasks.send_enrollment_confirmation(enrollment.pk) is False
    assert mail.outbox == []


def test_sweep_resends_confirmations_whose_message_was_lost():
    lost = EnrollmentFactory(paid=True, paid_at=timezone.now() - timedelta(hours=1))
    EnrollmentFactory(paid=True)  # still in flight

    assert tasks.sweep_unsent_confirmations() == 1
    lost.refresh_from_db()
    assert lost.confirmation_sent_at is not None
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


def test_staff_can_reprocess_failed_events_from_the_admin(client):
    enrollment = EnrollmentFactory(stripe_session_id="cs_test_admin")
    event = fixture_event("checkout.session.expired")
    event["data"]["object"]["id"] = "cs_test_admin"
    stripe_event = StripeEvent.objects.create(
        event_id=event["id"],
        type=event["type"],
        payload=event,
        outcome=StripeEvent.Outcome.FAILED,
    )
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
