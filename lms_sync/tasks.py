"""Celery tasks for LMS sync. Each takes ids and re-reads rows, so running one twice is harmless.

The rows, not the queue, are the truth: ``sweep_due_jobs`` (beat, every minute) first creates
the job of every paid, revoked or disputed enrollment that has none (its signal was lost, or the
process died between the enrollment's update and the job's insert), then starts every job that
is due or whose worker died, so a lost message or a killed worker delays a sync, never loses
it. Backoff retries are started by the sweeper too (no countdown messages, which Redis would
redeliver after its visibility timeout).
"""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import selectors, services

SWEEP_BATCH = 500


# acks_late + reject_on_worker_lost: a worker that dies mid-call gives the message back. The hard
# time limit ends a stuck call before its lease can expire, so no second worker may take over
# while the first is still talking to Frappe.
@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=max(1, int(settings.LMS_SYNC_LEASE_SECONDS * 0.9)),
)
def sync_job(job_id: int) -> str:
    return services.run_job(job_id=job_id)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=max(1, int(settings.LMS_SYNC_LEASE_SECONDS * 0.9)),
)
def schedule_and_sync(enrollment_id: int) -> str:
    """What an enrollment signal starts: make the job its state asks for, then run it here.

    Both halves run in the worker, not in the request that sent the signal (the Stripe webhook
    answers after one publish); a lost message is the sweep's ``create_missing_jobs``.
    """
    job_id = services.schedule(enrollment_id=enrollment_id, start=False)
    return services.run_job(job_id=job_id) if job_id is not None else "no_job"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_due_jobs() -> int:
    """Create the jobs lost signals missed, then enqueue due jobs and jobs with an expired
    lease; jobs waiting for the FRAPPE_* settings are enqueued only once they are set."""
    services.create_missing_jobs(limit=SWEEP_BATCH)
    ids = selectors.due_job_ids(
        now=timezone.now(), limit=SWEEP_BATCH, waiting_config=services.lms_configured()
    )
    for job_id in ids:
        sync_job.delay(job_id)
    return len(ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def pull_progress() -> int:
    return services.pull_progress(batch_size=settings.LMS_PROGRESS_BATCH)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=max(1, int(settings.LMS_SYNC_LEASE_SECONDS * 0.9)),
)
def erase_lms_user(erasure_id: int) -> str:
    """Remove a deleted account's user from the LMS (not before its first attempt is due)."""
    return services.run_user_erasure(erasure_id=erasure_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_user_erasures() -> int:
    """Start due LMS user erasures and those whose worker died (lease expired)."""
    ids = services.due_erasure_ids(now=timezone.now(), limit=SWEEP_BATCH)
    for erasure_id in ids:
        erase_lms_user.delay(erasure_id)
    return len(ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sync_course_outlines() -> int:
    """Beat, every LMS_OUTLINE_SYNC_SECONDS: course outlines from the LMS (read-only there)."""
    return services.sync_course_outlines()
