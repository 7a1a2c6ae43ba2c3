"""A dispute suspends LMS access without losing the learner's progress; a refund revokes it.

Frappe has no suspended enrolment (lms_sync.frappe explains the choice): the suspend job saves
``progress`` and ``current_lesson`` on the enrol job before deleting the LMS Enrollment, and the
restore after a won dispute (the enrol job, re-armed) creates it again with both. Against the
fake Frappe over HTTP.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from enrollments.services.refunds import apply_refund, record_dispute, record_dispute_closed
from lms_sync import selectors, services
from lms_sync.models import LmsSyncJob

from .conftest import COURSE, hook_first_client, paid_job, reload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs_run_only_when_a_test_runs_them(redis_down):
    """Each test runs the jobs itself, step by step. On MongoDB after-commit work runs at once
    (no test transaction), so the signal's task would run them first: with the broker down its
    publish is lost, as it is with the test transaction that never commits on SQL."""


EMAIL = "ada@example.com"
LmsAction = LmsSyncJob.Action


def dispute(status: str = "needs_response") -> dict:
    return {
        "id": "dp_1",
        "object": "dispute",
        "payment_intent": "pi_disputed",
        "amount": 10000,
        "reason": "fraudulent",
        "status": status,
    }


@pytest.fixture
def learner_at_60_percent(fake, course) -> LmsSyncJob:
    """A paid learner enrolled in the LMS, 60 % through, resuming at lesson 3."""
    job = paid_job(course, email=EMAIL, stripe_payment_intent_id="pi_disputed")
    assert services.run_job(job_id=job.pk) == services.SYNCED
    fake.add_lesson("lesson-3", COURSE)
    fake.set_progress(EMAIL, COURSE, 60.0, current_lesson="lesson-3")
    return job


def heard(job: LmsSyncJob) -> LmsSyncJob:
    """What lms_sync does when it hears the enrollment's signal (the test transaction never
    commits, so the signal itself is not sent): the enrollment's current job, now."""
    services.schedule(enrollment_id=job.enrollment_id)
    return selectors.current_job(job.enrollment_id)


def lms_rows(fake) -> list[tuple[str, float, str | None]]:
    return [(e["member"], e["progress"], e["current_lesson"]) for e in fake.enrollments.values()]


def test_a_won_dispute_brings_the_learner_back_with_their_progress_and_lesson(
    fake, learner_at_60_percent
):
    enrol = learner_at_60_percent

    assert record_dispute(dispute()) == "suspended"
    suspend = heard(enrol)
    assert services.run_job(job_id=suspend.pk) == services.SYNCED

    assert lms_rows(fake) == []  # no access while the dispute is open
    suspend = reload(suspend)
    assert (suspend.action, suspend.status) == (LmsAction.SUSPEND, "synced")
    kept = reload(enrol)
    assert (kept.status, kept.progress, kept.current_lesson) == ("superseded", 60.0, "lesson-3")

    assert record_dispute_closed(dispute("won")) == "restored"
    restore = heard(enrol)
    assert restore.pk == enrol.pk  # the enrol job itself, re-armed
    assert services.run_job(job_id=restore.pk) == services.SYNCED

    assert lms_rows(fake) == [(EMAIL, 60.0, "lesson-3")]
    restored = reload(enrol)
    assert (restored.action, restored.status) == (LmsAction.ENROL, "synced")
    assert restored.lms_enrollment_name in fake.enrollments
    assert restored.progress == 60.0
    assert reload(suspend).status == "superseded"


def test_a_suspension_run_again_after_the_delete_keeps_the_saved_progress(
    fake, learner_at_60_percent
):
    enrol = learner_at_60_percent
    record_dispute(dispute())
    suspend = heard(enrol)
    services.run_job(job_id=suspend.pk)
    # The sweep (or a redelivered message after a worker died past the delete) runs it again:
    # Frappe has no enrolment left to read.
    LmsSyncJob.objects.filter(pk=suspend.pk).update(
        status=LmsSyncJob.Status.PENDING, next_attempt_at=timezone.now()
    )

    assert services.run_job(job_id=suspend.pk) == services.SYNCED

    assert (reload(enrol).progress, reload(enrol).current_lesson) == (60.0, "lesson-3")
    record_dispute_closed(dispute("won"))
    services.run_job(job_id=heard(enrol).pk)
    assert lms_rows(fake) == [(EMAIL, 60.0, "lesson-3")]


def test_a_lesson_deleted_during_the_dispute_does_not_block_the_restore(
    fake, learner_at_60_percent
):
    enrol = learner_at_60_percent
    record_dispute(dispute())
    services.run_job(job_id=heard(enrol).pk)
    del fake.lessons["lesson-3"]  # staff reworked the course meanwhile

    record_dispute_closed(dispute("won"))
    assert services.run_job(job_id=heard(enrol).pk) == services.SYNCED

    assert lms_rows(fake) == [(EMAIL, 60.0, None)]


def test_a_dispute_won_while_the_suspension_reads_progress_leaves_the_enrolment_alone(
    fake, learner_at_60_percent, monkeypatch
):
    enrol = learner_at_60_percent
    record_dispute(dispute())
    suspend = heard(enrol)

    def dispute_won():
        record_dispute_closed(dispute("won"))
        heard(enrol)

    # The dispute closes (won) right after the suspend job read the progress, before it deletes.
    hook_first_client(monkeypatch, dispute_won)

    assert services.run_job(job_id=suspend.pk) == services.DISCARDED

    assert lms_rows(fake) == [(EMAIL, 60.0, "lesson-3")]  # not deleted
    assert reload(suspend).lease_token == ""  # the restore may start at once
    assert services.run_job(job_id=enrol.pk) == services.SYNCED
    assert lms_rows(fake) == [(EMAIL, 60.0, "lesson-3")]


def test_a_refund_revokes_access_for_good_and_is_not_a_suspension(fake, learner_at_60_percent):
    enrol = learner_at_60_percent

    apply_refund(
        enrollment_id=enrol.enrollment_id, refunded_cents=enrol.enrollment.amount_due_cents
    )
    unenrol = heard(enrol)
    assert services.run_job(job_id=unenrol.pk) == services.SYNCED

    assert reload(enrol.enrollment).status == "refunded"
    assert (reload(unenrol).status, unenrol.action) == ("synced", LmsAction.UNENROL)
    assert lms_rows(fake) == []


def test_a_lost_dispute_ends_revoked_without_bringing_access_back(fake, learner_at_60_percent):
    enrol = learner_at_60_percent
    record_dispute(dispute())
    services.run_job(job_id=heard(enrol).pk)

    assert record_dispute_closed(dispute("lost")) == "lost"
    unenrol = heard(enrol)
    later = timezone.now() + timedelta(seconds=1)
    assert services.run_job(job_id=unenrol.pk, now=later) == services.SYNCED

    lost = reload(enrol.enrollment)
    assert (lost.status, lost.dispute_status, unenrol.action) == (
        "refunded",
        "lost",
        LmsAction.UNENROL,
    )
    assert reload(unenrol).status == "synced"
    assert lms_rows(fake) == []


def test_a_progress_read_racing_the_suspension_does_not_overwrite_the_saved_progress(
    fake, learner_at_60_percent, monkeypatch
):
    enrol = learner_at_60_percent
    fake.set_progress(EMAIL, COURSE, 40.0)

    def learner_moves_on_then_a_dispute_suspends_them():
        fake.set_progress(EMAIL, COURSE, 60.0)
        record_dispute(dispute())
        assert services.run_job(job_id=heard(enrol).pk) == services.SYNCED

    # The progress pull has read 40 % when the suspension saves 60 % and removes the enrolment.
    hook_first_client(monkeypatch, learner_moves_on_then_a_dispute_suspends_them)
    services.pull_progress(batch_size=10)

    assert reload(enrol).progress == 60.0
    record_dispute_closed(dispute("won"))
    services.run_job(job_id=heard(enrol).pk)
    assert lms_rows(fake) == [(EMAIL, 60.0, "lesson-3")]
