"""A dispute suspends LMS access without losing the learner's progress; a refund revokes it.

Frappe has no suspended enrolment (lms_sync.frappe explains the choice): the suspend job saves
``progress`` and ``current_lesson`` on our row before deleting the LMS Enrollment, and the
restore after a won dispute creates it again with both. Against the fake Frappe over HTTP.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from enrollments.models import Enrollment
from enrollments.services.refunds import apply_refund, record_dispute, record_dispute_closed
from lms_sync import services

from .conftest import COURSE, hook_first_client, paid_job, reload

pytestmark = pytest.mark.django_db

EMAIL = "ada@example.com"
LmsAction = Enrollment.LmsAction


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
def learner_at_60_percent(fake, course) -> Enrollment:
    """A paid learner enrolled in the LMS, 60 % through, resuming at lesson 3."""
    job = paid_job(course, email=EMAIL, stripe_payment_intent_id="pi_disputed")
    assert services.run_job(enrollment_id=job.pk) == services.SYNCED
    fake.add_lesson("lesson-3", COURSE)
    fake.set_progress(EMAIL, COURSE, 60.0, current_lesson="lesson-3")
    return job


def lms_rows(fake) -> list[tuple[str, float, str | None]]:
    return [(e["member"], e["progress"], e["current_lesson"]) for e in fake.enrollments.values()]


def test_a_won_dispute_brings_the_learner_back_with_their_progress_and_lesson(
    fake, learner_at_60_percent
):
    job = learner_at_60_percent

    assert record_dispute(dispute()) == "suspended"
    assert services.run_job(enrollment_id=job.pk) == services.SYNCED

    suspended = reload(job)
    assert lms_rows(fake) == []  # no access while the dispute is open
    assert (suspended.lms_action, suspended.lms_status) == (LmsAction.SUSPEND, "synced")
    assert (suspended.lms_progress, suspended.lms_current_lesson) == (60.0, "lesson-3")

    assert record_dispute_closed(dispute("won")) == "restored"
    assert services.run_job(enrollment_id=job.pk) == services.SYNCED

    assert lms_rows(fake) == [(EMAIL, 60.0, "lesson-3")]
    restored = reload(job)
    assert (restored.lms_action, restored.lms_status) == (LmsAction.ENROL, "synced")
    assert restored.lms_enrollment_name in fake.enrollments
    assert restored.lms_progress == 60.0


def test_a_suspension_run_again_after_the_delete_keeps_the_saved_progress(
    fake, learner_at_60_percent
):
    job = learner_at_60_percent
    record_dispute(dispute())
    services.run_job(enrollment_id=job.pk)
    # The sweep (or a redelivered message after a worker died past the delete) runs it again:
    # Frappe has no enrolment left to read.
    Enrollment.objects.filter(pk=job.pk).update(
        lms_status=Enrollment.LmsStatus.PENDING, lms_next_attempt_at=timezone.now()
    )

    assert services.run_job(enrollment_id=job.pk) == services.SYNCED

    assert (reload(job).lms_progress, reload(job).lms_current_lesson) == (60.0, "lesson-3")
    record_dispute_closed(dispute("won"))
    services.run_job(enrollment_id=job.pk)
    assert lms_rows(fake) == [(EMAIL, 60.0, "lesson-3")]


def test_a_lesson_deleted_during_the_dispute_does_not_block_the_restore(
    fake, learner_at_60_percent
):
    job = learner_at_60_percent
    record_dispute(dispute())
    services.run_job(enrollment_id=job.pk)
    del fake.lessons["lesson-3"]  # staff reworked the course meanwhile

    record_dispute_closed(dispute("won"))
    assert services.run_job(enrollment_id=job.pk) == services.SYNCED

    assert lms_rows(fake) == [(EMAIL, 60.0, None)]


def test_a_dispute_won_while_the_suspension_reads_progress_leaves_the_enrolment_alone(
    fake, learner_at_60_percent, monkeypatch
):
    job = learner_at_60_percent
    record_dispute(dispute())
    # The dispute closes (won) right after the suspend job read the progress, before it deletes.
    hook_first_client(monkeypatch, lambda: record_dispute_closed(dispute("won")))

    assert services.run_job(enrollment_id=job.pk) == services.DISCARDED

    assert lms_rows(fake) == [(EMAIL, 60.0, "lesson-3")]  # not deleted
    assert reload(job).lms_lease_token == ""  # the restore may start at once
    assert services.run_job(enrollment_id=job.pk) == services.SYNCED
    assert lms_rows(fake) == [(EMAIL, 60.0, "lesson-3")]


def test_a_refund_revokes_access_for_good_and_is_not_a_suspension(fake, learner_at_60_percent):
    job = learner_at_60_percent

    apply_refund(enrollment_id=job.pk, refunded_cents=job.amount_due_cents)
    assert services.run_job(enrollment_id=job.pk) == services.SYNCED

    revoked = reload(job)
    assert (revoked.status, revoked.lms_action) == ("refunded", LmsAction.UNENROL)
    assert lms_rows(fake) == []


def test_a_lost_dispute_ends_revoked_without_bringing_access_back(fake, learner_at_60_percent):
    job = learner_at_60_percent
    record_dispute(dispute())
    services.run_job(enrollment_id=job.pk)

    assert record_dispute_closed(dispute("lost")) == "lost"
    later = timezone.now() + timedelta(seconds=1)
    assert services.run_job(enrollment_id=job.pk, now=later) == services.SYNCED

    lost = reload(job)
    assert (lost.status, lost.dispute_status, lost.lms_action) == (
        "refunded",
        "lost",
        LmsAction.UNENROL,
    )
    assert lms_rows(fake) == []


def test_a_progress_read_racing_the_suspension_does_not_overwrite_the_saved_progress(
    fake, learner_at_60_percent, monkeypatch
):
    job = learner_at_60_percent
    fake.set_progress(EMAIL, COURSE, 40.0)

    def learner_moves_on_then_a_dispute_suspends_them():
        fake.set_progress(EMAIL, COURSE, 60.0)
        record_dispute(dispute())
        assert services.run_job(enrollment_id=job.pk) == services.SYNCED

    # The progress pull has read 40 % when the suspension saves 60 % and removes the enrolment.
    hook_first_client(monkeypatch, learner_moves_on_then_a_dispute_suspends_them)
    services.pull_progress(batch_size=10)

    assert reload(job).lms_progress == 60.0
    record_dispute_closed(dispute("won"))
    services.run_job(enrollment_id=job.pk)
    assert lms_rows(fake) == [(EMAIL, 60.0, "lesson-3")]
