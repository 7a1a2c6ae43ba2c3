"""A deleted account's LMS user: removed by a sync job that the deletion records (through the
``account_erased`` hook), started by the sweep once due, retried like enrollment jobs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.testing.backends import unused_primary_key
from enrollments.models import Enrollment
from enrollments.signals import account_erased
from lms_sync import services, tasks
from lms_sync.models import LmsUserErasure
from lms_sync.tests.conftest import COURSE

pytestmark = pytest.mark.django_db

EMAIL = "ada@example.com"
LATER = timedelta(hours=1)


def requested(email=EMAIL) -> LmsUserErasure:
    account_erased.send(sender=Enrollment, user_id=unused_primary_key(), email=email)
    return LmsUserErasure.objects.get(email_hash=services.email_hash(email))


def test_the_hook_records_one_job_however_often_it_is_sent():
    first, second = requested(), requested()

    assert first.pk == second.pk
    assert LmsUserErasure.objects.count() == 1
    assert first.next_attempt_at > timezone.now()  # an enrol call in flight finishes first


def test_the_job_removes_the_enrolments_then_the_user(fake):
    fake.add_user(EMAIL, "Ada Lovelace")
    fake.add_enrollment(EMAIL, COURSE)
    erasure = requested()

    outcome = services.run_user_erasure(erasure_id=erasure.pk, now=timezone.now() + LATER)

    assert outcome == services.SYNCED
    assert EMAIL not in fake.users
    assert not [e for e in fake.enrollments.values() if e["member"] == EMAIL]
    erasure.refresh_from_db()
    assert erasure.status == LmsUserErasure.Status.DONE and erasure.email == ""


def test_a_user_frappe_will_not_delete_is_disabled_and_loses_its_name(fake, monkeypatch):
    fake.add_user(EMAIL, "Ada Lovelace")
    fake.add_enrollment(EMAIL, COURSE)
    # An enrolment the list does not return (another doctype links the user, say): the
    # DELETE of the User meets Frappe's LinkExistsError.
    monkeypatch.setattr(fake, "_list", lambda doctype, records, query: [])

    outcome = services.run_user_erasure(erasure_id=requested().pk, now=timezone.now() + LATER)

    assert outcome == services.SYNCED
    user = fake.users[EMAIL]
    assert (user["enabled"], user["first_name"], user["last_name"]) == (0, "Deleted", "")


def test_a_user_the_lms_never_had_is_done_at_once(fake):
    assert services.run_user_erasure(erasure_id=requested().pk, now=timezone.now() + LATER) == (
        services.SYNCED
    )


def test_the_job_is_not_started_before_it_is_due(fake):
    fake.add_user(EMAIL)

    assert services.run_user_erasure(erasure_id=requested().pk) == services.NOT_CLAIMED
    assert EMAIL in fake.users


def test_the_sweep_starts_due_jobs(fake):
    fake.add_user(EMAIL)
    erasure = requested()
    LmsUserErasure.objects.filter(pk=erasure.pk).update(next_attempt_at=timezone.now())

    assert tasks.sweep_user_erasures() == 1

    assert EMAIL not in fake.users
    assert tasks.sweep_user_erasures() == 0


def test_an_unreachable_lms_is_retried_later(fake):
    fake.add_user(EMAIL)
    erasure = requested()
    fake.fail_next(503, count=10)
    now = timezone.now() + LATER

    assert services.run_user_erasure(erasure_id=erasure.pk, now=now) == services.RETRY

    erasure.refresh_from_db()
    assert erasure.status == LmsUserErasure.Status.PENDING
    assert erasure.next_attempt_at > now and erasure.email == EMAIL


def test_without_lms_settings_the_job_waits(settings):
    settings.FRAPPE_URL = ""
    erasure = requested()

    outcome = services.run_user_erasure(erasure_id=erasure.pk, now=timezone.now() + LATER)

    assert outcome == services.WAITING_CONFIG
    erasure.refresh_from_db()
    assert (erasure.status, erasure.attempts) == (LmsUserErasure.Status.PENDING, 0)
