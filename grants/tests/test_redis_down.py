"""Applying for a grant while Redis (the Celery broker) is down: the applicant gets the normal
answer, and the e-mails the lost messages carried are sent by the sweep once Redis is back."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from common import outbox
from courses.tests.factories import CourseFactory
from grants import services
from grants.models import Grant
from grants.services import emails
from grants.tests.factories import GrantFactory
from grants.tests.test_apply import URL, _form

# Committed for real: outside a test transaction, on-commit work runs at once, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def test_applying_while_redis_is_down_answers_normally_and_the_sweep_sends_both_emails(
    client, redis_down
):
    course = CourseFactory()

    response = client.post(URL, _form(course), follow=True)

    assert response.status_code == 200
    assert "already applied" not in response.text
    grant = Grant.objects.get()
    assert mail.outbox == []
    redis_down.end()

    assert outbox.sweep() == 0  # too recent: its messages may still arrive
    later = timezone.now() + timedelta(minutes=10)
    assert outbox.sweep(now=later) == 2

    assert outbox.sent_at(emails.received_key(grant.pk))
    assert outbox.sent_at(emails.staff_notice_key(grant.pk))
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "staff@maaledu.test"]
    assert outbox.sweep(now=later) == 0  # sent: nothing owed any more


def test_a_decision_made_while_redis_is_down_is_emailed_by_the_sweep(redis_down):
    approved, rejected = GrantFactory(), GrantFactory()
    reviewer = StaffFactory()

    services.approve_grants(
        grant_ids=[approved.pk], reviewer=reviewer, discount_percent=50, valid_days=30
    )
    services.reject_grants(grant_ids=[rejected.pk], reviewer=reviewer, note="")

    assert mail.outbox == []
    redis_down.end()
    assert outbox.sweep(now=timezone.now() + timedelta(minutes=10)) == 2

    assert sorted(m.to[0] for m in mail.outbox) == sorted([approved.email, rejected.email])
    assert outbox.sent_at(emails.decision_key(approved.pk))
    assert outbox.sent_at(emails.decision_key(rejected.pk))
