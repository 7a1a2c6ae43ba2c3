"""Staff see the outbox in the admin, on its own page and on the enrollment an e-mail is about,
and retry failed e-mails from there."""

import pytest
from django.core import mail
from django.urls import reverse

from common import outbox
from common.models import OutboxEmail
from common.testing.mail import REFUSING_BACKEND, WORKING_BACKEND
from enrollments.models import Enrollment
from enrollments.services import emails
from enrollments.tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_confirmation(settings):
    enrollment = EnrollmentFactory(status=Enrollment.Status.PAID)
    emails.queue_confirmation(enrollment.pk, publish=False)  # delivered below, by hand
    key = emails.confirmation_key(enrollment.pk)
    settings.EMAIL_BACKEND = REFUSING_BACKEND
    for _ in range(outbox.MAX_ATTEMPTS):  # each attempt once its backoff has passed
        outbox.deliver(key, as_of=outbox.find(key).next_attempt_at)
    settings.EMAIL_BACKEND = WORKING_BACKEND
    assert outbox.find(key).status == OutboxEmail.Status.FAILED
    return enrollment, key


def test_failed_emails_are_listed_with_their_error_and_shown_on_their_enrollment(
    admin_client, failed_confirmation
):
    enrollment, key = failed_confirmation

    listing = admin_client.get(reverse("admin:common_outboxemail_changelist") + "?status=failed")
    page = admin_client.get(reverse("admin:enrollments_enrollment_change", args=[enrollment.pk]))

    assert listing.status_code == 200
    assert key in listing.text and "ConnectionRefusedError: smtp down" in listing.text
    assert page.status_code == 200
    assert f"{key}</a>: failed" in page.text


def test_staff_retry_a_failed_email_from_the_admin(
    admin_client, failed_confirmation, django_capture_on_commit_callbacks
):
    enrollment, key = failed_confirmation
    row = outbox.find(key)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:common_outboxemail_changelist"),
            {"action": "retry_failed", "_selected_action": [row.pk]},
        )

    assert response.status_code == 302
    assert outbox.find(key).status == OutboxEmail.Status.SENT
    assert [m.to for m in mail.outbox] == [[enrollment.email]]
