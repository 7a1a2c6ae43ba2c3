"""LMS sync jobs: create, claim, call Frappe, record the outcome; retries, progress.

A job is an ``LmsSyncJob`` row (one per enrollment and action), owned by this app. It is created
here and nowhere else: by ``schedule`` when ``enrollments`` announces that an enrollment became
paid (``enrol``), was revoked (``unenrol``) or disputed (``suspend``: the learner's progress and
lesson to resume are saved on the enrol job, then the LMS enrolment is removed; a won dispute
re-arms the enrol job, which enrols again with them), and by the sweep (``create_missing_jobs``)
for any enrollment whose signal was lost. Its life:

    pending ──claim_job──▶ in_progress ──▶ synced
                               ├─ Frappe unreachable / 5xx ─▶ pending after a backoff,
                               │                              failed after LMS_SYNC_MAX_ATTEMPTS
                               ├─ FRAPPE_* not set ─────────▶ waiting_config; the sweeper starts
                               │                              it again once the settings are set
                               ├─ credentials/site refused, ▶ waiting_config, tried every
                               │  LMS course unpublished      LMS_SYNC_CONFIG_RETRY_SECONDS; alert
                               └─ course mapping refused ───▶ failed (waits for staff); alert

Arming a job marks the enrollment's other jobs ``superseded``: only the latest action runs, and
an in-flight call of a superseded job records nothing (its outcome is conditional on
``in_progress``). ``failed`` means "needs staff": after fixing the cause staff use "Retry LMS
sync now" (``retry_now``). Waiting for configuration never uses up the retry budget.

Every step is one conditional UPDATE or an insert guarded by the (enrollment, action) unique
constraint. The claim takes a lease with a fresh random token, and no job is claimed while
another job of its enrollment holds a live lease, so two workers never call Frappe for one
enrollment at once; the outcome is written only ``WHERE`` the token is still ours. Alerts go to
``ops`` through ``lms_sync.signals`` (``lms_sync_failing`` / ``lms_sync_recovered``).
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Case, Exists, F, FloatField, OuterRef, Q, Value, When
from django.utils import timezone

from common.queue import enqueue_on_commit, send_on_commit
from common.transactions import atomic
from courses import services as course_services
from enrollments.models import Enrollment

from . import selectors, signals
from .frappe import (
    EnrolmentState,
    FrappeClient,
    LmsConfigError,
    LmsCourseUnpublished,
    LmsError,
    LmsMappingError,
    LmsNotConfigured,
    LmsTransientError,
)
from .models import LmsSyncJob, LmsUserErasure

logger = logging.getLogger(__name__)

Status = LmsSyncJob.Status
Action = LmsSyncJob.Action

# What run_job did; also the Celery task's result.
SYNCED = "synced"
RETRY = "retry"
FAILED = "failed"
WAITING_CONFIG = "waiting_config"
NOT_CLAIMED = "not_claimed"  # not due, already synced, or another worker holds it
DISCARDED = "discarded"  # our lease was taken over (or the job changed) while we called Frappe

SITE_KEY = signals.SITE_KEY
RETRYABLE = [Status.PENDING, Status.WAITING_CONFIG, Status.FAILED]
# Jobs a newly armed action replaces (a cancelled job stays cancelled: its account is gone).
REPLACEABLE = [
    Status.PENDING,
    Status.IN_PROGRESS,
    Status.WAITING_CONFIG,
    Status.FAILED,
    Status.SYNCED,
]


# --- Creating jobs ------------------------------------------------------------------------------


def schedule(*, enrollment_id: int, start: bool = True) -> int | None:
    """Make the job the enrollment's state asks for current, and (``start``) start it after commit.

    Called by the ``enrollment_paid`` / ``enrollment_revoked`` / ``enrollment_suspended``
    receivers and by the sweep; safe to call any number of times, concurrently. The job is an
    insert guarded by the (enrollment, action) unique constraint; a job that exists but was
    superseded (an enrol job after a won dispute) is re-armed by one conditional UPDATE. Then
    the enrollment's other jobs are superseded. The state is read again afterwards, and the
    work redone if it moved meanwhile (a dispute opening while its payment was scheduled).
    Returns the current job's id (None when the enrollment needs no LMS call).
    """
    for _ in range(3):
        enrollment = Enrollment.objects.filter(pk=enrollment_id).first()
        if enrollment is None:
            return None
        action = selectors.wanted_action(
            enrollment, has_lms_access_job=selectors.has_lms_access_job(enrollment_id)
        )
        if action is None:
            return None
        job_id = _arm(enrollment_id, action, start=start)
        again = Enrollment.objects.filter(pk=enrollment_id).first()
        if again is not None and (again.status, again.dispute_status) == (
            enrollment.status,
            enrollment.dispute_status,
        ):
            return job_id
    return job_id


def _arm(enrollment_id: int, action: str, *, start: bool) -> int:
    """Insert (or re-arm) the job and supersede the enrollment's others in one commit, so no
    moment shows two of its jobs pending: two workers could otherwise claim both at once (the
    claim's lease check sees only committed leases). Safe to re-run: a crash commits nothing."""
    now = timezone.now()
    with atomic():
        armed = False
        try:
            with atomic():
                job = LmsSyncJob.objects.create(
                    enrollment_id=enrollment_id, action=action, next_attempt_at=now
                )
            armed = True
            job_id = job.pk
        except IntegrityError:
            job_id = LmsSyncJob.objects.values_list("pk", flat=True).get(
                enrollment_id=enrollment_id, action=action
            )
            armed = bool(
                LmsSyncJob.objects.filter(pk=job_id, status=Status.SUPERSEDED).update(
                    status=Status.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    last_error="",
                    updated_at=now,
                )
            )
        LmsSyncJob.objects.filter(enrollment_id=enrollment_id, status__in=REPLACEABLE).exclude(
            pk=job_id
        ).update(status=Status.SUPERSEDED, next_attempt_at=None, updated_at=now)
    if armed:
        logger.info(
            "event=lms.job_armed enrollment_id=%s job_id=%s action=%s",
            enrollment_id,
            job_id,
            action,
        )
    if start:
        # Started now rather than at the next sweep; for a job already synced or running the
        # task claims nothing, so a repeated signal costs one message.
        from .tasks import sync_job

        enqueue_on_commit(sync_job, job_id)
    return job_id


def create_missing_jobs(*, limit: int) -> int:
    """The sweep's half that no signal can lose: every paid (or revoked, or disputed)
    enrollment without its current job gets one now. Returns how many were scheduled."""
    ids = selectors.enrollments_missing_a_job(limit=limit)
    for enrollment_id in ids:
        logger.warning(
            "event=lms.job_missing enrollment_id=%s (created by the sweep)", enrollment_id
        )
        schedule(enrollment_id=enrollment_id)
    return len(ids)


def record_imported_sync(
    *, enrollment_id: int, lms_enrollment_name: str, synced_at: datetime
) -> int:
    """An enrollment imported from the old MaalEdu that was already enrolled in the LMS: its
    enrol job is recorded as synced (an insert guarded by the unique constraint; a re-run finds
    the same job). Every other imported paid enrollment gets a pending job from the sweep."""
    job, _ = LmsSyncJob.objects.get_or_create(
        enrollment_id=enrollment_id,
        action=Action.ENROL,
        defaults={
            "status": Status.SYNCED,
            "lms_enrollment_name": lms_enrollment_name,
            "synced_at": synced_at,
        },
    )
    return job.pk


def cancel_for_erased_account(*, user_id: int, email: str) -> int:
    """A deleted account: enrol jobs that have not synced stop, and paid enrollments with no
    enrol job yet get a cancelled one (so the sweep does not enrol the placeholder address).
    Returns how many jobs were cancelled."""
    now = timezone.now()
    mine = Enrollment.objects.filter(Q(email=email) | Q(user_id=user_id))
    # The ids first: an UPDATE filtered through the enrollment (a join) is SQL-only.
    mine_ids = list(mine.values_list("pk", flat=True))
    cancelled = LmsSyncJob.objects.filter(
        enrollment_id__in=mine_ids,
        action=Action.ENROL,
        status__in=[Status.PENDING, Status.WAITING_CONFIG, Status.FAILED],
    ).update(status=Status.CANCELLED, next_attempt_at=None, updated_at=now)
    without_job = mine.filter(status=Enrollment.Status.PAID).exclude(
        Exists(LmsSyncJob.objects.filter(enrollment_id=OuterRef("pk"), action=Action.ENROL))
    )
    for enrollment_id in without_job.values_list("pk", flat=True):
        _insert_once(enrollment_id=enrollment_id, action=Action.ENROL, status=Status.CANCELLED)
    return cancelled


# --- Running jobs -------------------------------------------------------------------------------


def claim_job(*, job_id: int, now: datetime | None = None) -> str | None:
    """Take the job if it is due or its lease expired; return the lease token, or None.

    One call per enrollment at a time, on every backend without a lock: the lease is written
    first (one conditional UPDATE), then the enrollment's other jobs are read; if one of them
    holds a live lease, ours is handed back. Of two jobs claimed at the same moment, each
    writes before it reads, so at least one sees the other and steps back: never both call
    Frappe (both may step back; the next run claims again)."""
    now = now or timezone.now()
    before = LmsSyncJob.objects.filter(pk=job_id).values_list("status", "enrollment_id").first()
    if before is None:
        return None
    status_before, enrollment_id = before
    token = secrets.token_hex(16)
    claimed = LmsSyncJob.objects.filter(
        selectors.claimable(now=now, alone=False), pk=job_id
    ).update(
        status=Status.IN_PROGRESS,
        lease_token=token,
        lease_until=now + timedelta(seconds=settings.LMS_SYNC_LEASE_SECONDS),
        attempts=F("attempts") + 1,
        updated_at=timezone.now(),
    )
    if not claimed:
        return None
    if selectors.sibling_holds_lease(job_id=job_id, enrollment_id=enrollment_id, now=now):
        LmsSyncJob.objects.filter(pk=job_id, lease_token=token, status=Status.IN_PROGRESS).update(
            status=status_before,
            lease_token="",
            lease_until=None,
            attempts=F("attempts") - 1,
        )
        return None
    return token


def run_job(*, job_id: int, now: datetime | None = None) -> str:
    """Claim the job, make its one Frappe call, record what happened. Safe to call any time,
    any number of times, concurrently. ``now`` pins the clock (tests travel in time with it)."""
    clock: Callable[[], datetime] = (lambda: now) if now else timezone.now
    token = claim_job(job_id=job_id, now=clock())
    if token is None:
        return NOT_CLAIMED
    job = LmsSyncJob.objects.select_related("enrollment__course", "enrollment__user").get(pk=job_id)
    course = job.enrollment.course
    if job.attempts > settings.LMS_SYNC_MAX_ATTEMPTS:
        # Only reached when workers kept dying mid-call (a transient error on the last attempt
        # already fails the job): stop instead of looping forever.
        return _give_up(job, token, "gave up: every attempt stopped mid-sync")
    try:
        lms_enrollment_name = _call_frappe(job, token)
    except _LeaseLost:
        _release(job, token)
        return DISCARDED
    except LmsNotConfigured as error:
        return _wait_for_config(job, token, clock(), error, retry_in=timedelta(0))
    except LmsConfigError as error:
        retry_in = _jittered(settings.LMS_SYNC_CONFIG_RETRY_SECONDS)
        outcome = _wait_for_config(job, token, clock(), error, retry_in=retry_in)
        if outcome == WAITING_CONFIG:
            _alert(signals.CONFIG, SITE_KEY, error.detail)
        return outcome
    except LmsCourseUnpublished as error:
        # Never enrol into a course staff unpublished (Frappe would let our Moderator user):
        # wait, tell staff once, and enrol once it is published again.
        retry_in = _jittered(settings.LMS_SYNC_CONFIG_RETRY_SECONDS)
        reason = (
            f"waiting: {error.detail}; the learner is enrolled once it is published "
            f"(checked every {settings.LMS_SYNC_CONFIG_RETRY_SECONDS // 60} min)"
        )
        outcome = _wait_for_config(job, token, clock(), error, retry_in=retry_in, detail=reason)
        if outcome == WAITING_CONFIG:
            _alert(
                signals.MAPPING,
                signals.course_key(course.pk),
                f"{course.title} (LMS course {course.frappe_course!r}): {error.detail}",
            )
        return outcome
    except LmsMappingError as error:
        detail = f"{course.title} (LMS course {course.frappe_course!r}): {error.detail}"
        outcome = _fail(job, token, error.detail)
        if outcome == FAILED:
            _alert(signals.MAPPING, signals.course_key(course.pk), detail)
        return outcome
    except LmsTransientError as error:
        return _retry_later(job, token, clock(), error.detail, type(error).__name__)
    except LmsError as error:  # Frappe refused the request for a reason retrying cannot fix
        return _give_up(job, token, error.detail)
    except Exception as error:
        # A bug or a bad row: record it and back off rather than hold the lease until it
        # expires and loop. The traceback goes to the log, never to last_error.
        logger.exception("event=lms.error job_id=%s", job.pk)
        return _retry_later(
            job, token, clock(), f"internal error ({type(error).__name__})", type(error).__name__
        )
    return _succeed(job, token, clock(), lms_enrollment_name)


class _LeaseLost(Exception):
    """The job changed under our lease mid-job: stop before the next Frappe call."""


def _call_frappe(job: LmsSyncJob, token: str) -> str:
    """Enrol, unenrol or suspend; return the LMS Enrollment name to keep ('' once removed).

    An enrol passes the progress and lesson its job keeps (saved by a suspension, or last
    read), so an enrolment that is created again does not start the learner at 0 %."""
    client = FrappeClient.from_settings()
    enrollment = job.enrollment
    course = enrollment.course.frappe_course
    try:
        if job.action == Action.SUSPEND:
            _keep_state(job, token, client.enrolment_state(email=enrollment.email, course=course))
        if job.action in (Action.UNENROL, Action.SUSPEND):
            client.unenrol(email=enrollment.email, course=course)
            return ""
        return client.enrol(
            email=enrollment.email,
            full_name=enrollment.user.name if enrollment.user else "",
            course=course,
            progress=job.progress,
            current_lesson=job.current_lesson,
        )
    finally:
        client.close()


def _keep_state(job: LmsSyncJob, token: str, state: EnrolmentState | None) -> None:
    """Save the learner's progress on the enrol job *before* the LMS enrolment is deleted, in
    while our suspend lease holds. A re-run after a crash past the delete finds no enrolment and
    keeps what was saved.

    No UPDATE with a subquery (SQL-only): the lease is checked before and after the write. Saving
    the progress just read is harmless whoever holds the job; what the lease guards is the
    delete that follows, which a lost lease stops."""
    if state is None:
        return
    ours = LmsSyncJob.objects.filter(pk=job.pk, lease_token=token, status=Status.IN_PROGRESS)
    if not ours.exists():
        # e.g. the dispute closed meanwhile: its enrol job must not find the enrolment deleted
        raise _LeaseLost
    kept = LmsSyncJob.objects.filter(enrollment_id=job.enrollment_id, action=Action.ENROL).update(
        progress=state.progress,
        progress_at=timezone.now(),
        current_lesson=state.current_lesson,
    )
    if not ours.exists():
        raise _LeaseLost
    if not kept:  # no enrol job (created before this table): keep it on a superseded one
        _insert_once(
            enrollment_id=job.enrollment_id,
            action=Action.ENROL,
            status=Status.SUPERSEDED,
            progress=state.progress,
            progress_at=timezone.now(),
            current_lesson=state.current_lesson,
        )


def _insert_once(**fields) -> bool:
    """Insert a job unless its (enrollment, action) exists: the unique constraint decides, and
    a concurrent insert's row stands (no bulk ``ignore_conflicts``, which MongoDB's backend
    lacks). True if this call inserted it."""
    try:
        with atomic():
            LmsSyncJob.objects.create(**fields)
    except IntegrityError:
        return False
    return True


def _record(job: LmsSyncJob, token: str, **fields) -> bool:
    """Write the outcome only while our lease stands; release the lease either way.

    ``updated_at`` is stamped: the ops alerts count recent failures by it."""
    recorded = LmsSyncJob.objects.filter(
        pk=job.pk, lease_token=token, status=Status.IN_PROGRESS
    ).update(lease_token="", lease_until=None, updated_at=timezone.now(), **fields)
    if not recorded:
        _release(job, token)
    return bool(recorded)


def _release(job: LmsSyncJob, token: str) -> None:
    """Still our token but no longer in progress: the job was superseded (a refund, or the
    dispute moved) during the call. Let the next job start now rather than when our lease
    ends."""
    LmsSyncJob.objects.filter(pk=job.pk, lease_token=token).update(lease_token="", lease_until=None)
    logger.warning("event=lms.discarded job_id=%s action=%s", job.pk, job.action)


def _succeed(job: LmsSyncJob, token: str, now: datetime, lms_enrollment_name: str) -> str:
    # Once enrolled again, the saved lesson has done its job (Frappe moves it from here on).
    restored = {"current_lesson": ""} if job.action == Action.ENROL else {}
    if not _record(
        job,
        token,
        status=Status.SYNCED,
        synced_at=now,
        lms_enrollment_name=lms_enrollment_name,
        next_attempt_at=None,
        last_error="",
        **restored,
    ):
        return DISCARDED
    logger.info(
        "event=lms.synced job_id=%s enrollment_id=%s action=%s attempts=%s",
        job.pk,
        job.enrollment_id,
        job.action,
        job.attempts,
    )
    # Frappe answered us, so the settings work and this course maps: ops closes those
    # incidents, and jobs waiting on the configuration run at the next sweep, not their slow
    # retry.
    send_on_commit(signals.lms_sync_recovered, LmsSyncJob, course_id=job.enrollment.course_id)
    LmsSyncJob.objects.filter(status=Status.WAITING_CONFIG, next_attempt_at__gt=now).update(
        next_attempt_at=now, updated_at=timezone.now()
    )
    return SYNCED


def _retry_later(job: LmsSyncJob, token: str, now: datetime, detail: str, error_type: str) -> str:
    if job.attempts >= settings.LMS_SYNC_MAX_ATTEMPTS:
        return _give_up(job, token, f"{detail} (after {job.attempts} attempts)")
    delay = backoff_delay(job.attempts)
    if not _record(
        job, token, status=Status.PENDING, next_attempt_at=now + delay, last_error=detail
    ):
        return DISCARDED
    logger.info(
        "event=lms.retry job_id=%s action=%s attempt=%s next_in=%ds error=%s",
        job.pk,
        job.action,
        job.attempts,
        delay.total_seconds(),
        error_type,
    )
    return RETRY


def _wait_for_config(
    job: LmsSyncJob,
    token: str,
    now: datetime,
    error: LmsError,
    *,
    retry_in: timedelta,
    detail: str = "",
) -> str:
    if not _record(
        job,
        token,
        status=Status.WAITING_CONFIG,
        next_attempt_at=now + retry_in,
        last_error=detail or error.detail,
        attempts=F("attempts") - 1,  # the claim counted it; waiting is not an attempt
    ):
        return DISCARDED
    logger.warning(
        "event=lms.waiting_config job_id=%s error=%s status=%s",
        job.pk,
        type(error).__name__,
        error.status,
    )
    return WAITING_CONFIG


def _fail(job: LmsSyncJob, token: str, detail: str) -> str:
    if not _record(job, token, status=Status.FAILED, next_attempt_at=None, last_error=detail):
        return DISCARDED
    logger.error(
        "event=lms.failed job_id=%s action=%s attempts=%s", job.pk, job.action, job.attempts
    )
    return FAILED


def _give_up(job: LmsSyncJob, token: str, detail: str) -> str:
    outcome = _fail(job, token, detail)
    if outcome == FAILED:
        _alert(signals.GAVE_UP, SITE_KEY, detail)
    return outcome


def backoff_delay(attempt: int) -> timedelta:
    """Delay after failed attempt ``attempt`` (1-based): base doubling up to the cap, then
    jittered down to 75-100 % so a crowd of jobs that failed together spreads out."""
    base, cap = settings.LMS_SYNC_BASE_DELAY_SECONDS, settings.LMS_SYNC_MAX_DELAY_SECONDS
    return _jittered(min(cap, base * 2 ** min(attempt - 1, 32)))


def _jittered(seconds: float) -> timedelta:
    return timedelta(seconds=seconds * random.uniform(0.75, 1.0))


def _alert(reason: str, key: str, detail: str) -> None:
    """Tell ``ops`` (after commit) that LMS sync needs a human; ops keeps one incident per
    (kind, key) and e-mails staff once."""
    logger.warning("event=lms.alert reason=%s key=%s", reason, key)
    send_on_commit(signals.lms_sync_failing, LmsSyncJob, reason=reason, key=key, detail=detail)


# --- Staff ------------------------------------------------------------------------------------


def retry_now(*, job_ids: list[int]) -> int:
    """Failed, waiting or backing-off jobs: due now with a fresh retry budget, and started."""
    from .tasks import sync_job

    ids = list(
        LmsSyncJob.objects.filter(pk__in=job_ids, status__in=RETRYABLE).values_list("pk", flat=True)
    )
    now = timezone.now()
    retried = LmsSyncJob.objects.filter(pk__in=ids, status__in=RETRYABLE).update(
        status=Status.PENDING, attempts=0, next_attempt_at=now, updated_at=now
    )
    for job_id in ids:
        enqueue_on_commit(sync_job, job_id)
    return retried


def requeue(*, enrollment_id: int, action: str) -> bool:
    """Run a finished job (synced or failed) of this action again: reconciliation found the LMS
    disagreeing with it. Only the current job is requeued (one conditional UPDATE)."""
    now = timezone.now()
    requeued = LmsSyncJob.objects.filter(
        enrollment_id=enrollment_id,
        action=action,
        status__in=[Status.SYNCED, Status.FAILED],
    ).update(status=Status.PENDING, attempts=0, next_attempt_at=now, last_error="", updated_at=now)
    if requeued:
        from .tasks import sync_job

        job_id = LmsSyncJob.objects.values_list("pk", flat=True).get(
            enrollment_id=enrollment_id, action=action
        )
        enqueue_on_commit(sync_job, job_id)
    return bool(requeued)


def lms_configured() -> bool:
    try:
        FrappeClient.from_settings().close()
    except LmsNotConfigured:
        return False
    return True


# --- Progress ---------------------------------------------------------------------------------


def pull_progress(*, batch_size: int) -> int:
    """Read ``progress`` for the ``batch_size`` least recently read synced enrolments, with one
    list call per course (per 100 learners), and store it; return how many rows were read."""
    jobs = selectors.progress_batch(limit=batch_size)
    if not jobs:
        return 0
    try:
        client = FrappeClient.from_settings()
    except LmsNotConfigured:
        return 0
    by_course: dict[str, list[LmsSyncJob]] = defaultdict(list)
    for job in jobs:
        by_course[job.enrollment.course.frappe_course].append(job)
    now = timezone.now()
    read: list[LmsSyncJob] = []
    missing = 0
    try:
        for course, course_jobs in by_course.items():
            members = [job.enrollment.email for job in course_jobs]
            progress = client.progress_for(course=course, members=members)
            for job in course_jobs:
                value = progress.get(job.enrollment.email.lower())
                if value is None:  # no LMS Enrollment any more: someone deleted it in Frappe
                    missing += 1
                else:
                    job.progress = value
                job.progress_at = now
                read.append(job)
    except LmsError as error:  # Frappe is down or refuses us: keep what was read, stop here
        logger.warning("event=lms.progress_stopped error=%s", type(error).__name__)
    finally:
        client.close()
    _store_progress(read, now)
    logger.info("event=lms.progress_pulled read=%s missing_in_lms=%s", len(read), missing)
    return len(read)


# --- Deleted accounts: their LMS user goes too --------------------------------------------------


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def request_user_erasure(*, email: str) -> int:
    """Record the job that removes this learner from the LMS (once per address); return its id.

    The first attempt waits one lease period, so an enrol call already in flight for the
    learner has finished (or lost its lease) before the user is removed.
    """
    now = timezone.now()
    erasure, created = LmsUserErasure.objects.get_or_create(
        email_hash=email_hash(email),
        defaults={
            "email": email.strip().lower(),
            "next_attempt_at": now + timedelta(seconds=settings.LMS_SYNC_LEASE_SECONDS),
        },
    )
    if not created and erasure.status == LmsUserErasure.Status.DONE:
        return erasure.pk
    logger.info("event=lms.erasure_requested erasure_id=%s created=%s", erasure.pk, created)
    return erasure.pk


def _erasure_claimable(now: datetime) -> Q:
    lease_free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    Status = LmsUserErasure.Status
    due = Q(status=Status.PENDING, next_attempt_at__lte=now)
    return lease_free & (due | Q(status=Status.IN_PROGRESS))


def due_erasure_ids(*, now: datetime, limit: int) -> list[int]:
    return list(
        LmsUserErasure.objects.filter(_erasure_claimable(now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def run_user_erasure(*, erasure_id: int, now: datetime | None = None) -> str:
    """Claim the erasure under a lease, make the Frappe calls, record the outcome (conditional
    on the lease, like ``run_job``). Frappe not configured: it waits, as sync jobs do."""
    now = now or timezone.now()
    Status = LmsUserErasure.Status
    token = secrets.token_hex(16)
    claimed = LmsUserErasure.objects.filter(_erasure_claimable(now), pk=erasure_id).update(
        status=Status.IN_PROGRESS,
        lease_token=token,
        lease_until=now + timedelta(seconds=settings.LMS_SYNC_LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return NOT_CLAIMED
    erasure = LmsUserErasure.objects.get(pk=erasure_id)
    mine = LmsUserErasure.objects.filter(
        pk=erasure_id, lease_token=token, status=Status.IN_PROGRESS
    )
    release = {"lease_token": "", "lease_until": None}
    try:
        client = FrappeClient.from_settings()
        try:
            outcome = client.erase_user(email=erasure.email)
        finally:
            client.close()
    except LmsNotConfigured as error:
        mine.update(
            status=Status.PENDING,
            next_attempt_at=now + timedelta(seconds=settings.LMS_SYNC_CONFIG_RETRY_SECONDS),
            attempts=F("attempts") - 1,
            last_error=error.detail,
            **release,
        )
        return WAITING_CONFIG
    except LmsError as error:
        give_up = not isinstance(error, LmsTransientError) or (
            erasure.attempts >= settings.LMS_SYNC_MAX_ATTEMPTS
        )
        if give_up:
            mine.update(
                status=Status.FAILED, next_attempt_at=None, last_error=error.detail, **release
            )
            _alert(signals.GAVE_UP, SITE_KEY, f"LMS user erasure: {error.detail}")
            logger.error("event=lms.erasure_failed erasure_id=%s", erasure_id)
            return FAILED
        mine.update(
            status=Status.PENDING,
            next_attempt_at=now + backoff_delay(erasure.attempts),
            last_error=error.detail,
            **release,
        )
        return RETRY
    done = mine.update(status=Status.DONE, email="", done_at=now, last_error="", **release)
    logger.info("event=lms.erasure_done erasure_id=%s outcome=%s", erasure_id, outcome)
    return SYNCED if done else DISCARDED


def _store_progress(read: list[LmsSyncJob], now: datetime) -> None:
    """One conditional UPDATE: only enrol jobs still synced, of enrollments still paid, take
    what was read. A job a dispute superseded meanwhile keeps the progress its suspend job
    saved (the restore uses it), never the older value this pull read before the enrolment was
    removed. (Paid as the batch read the enrollments: an UPDATE filtered through the
    enrollment, a join, is SQL-only. One that stopped being paid since has its enrol job
    superseded, which the ``status=synced`` condition still sees.)"""
    read = [job for job in read if job.enrollment.status == Enrollment.Status.PAID]
    if not read:
        return
    LmsSyncJob.objects.filter(
        pk__in=[job.pk for job in read],
        action=Action.ENROL,
        status=Status.SYNCED,
    ).update(
        progress=Case(
            *(When(pk=job.pk, then=Value(job.progress, FloatField())) for job in read),
            default=F("progress"),
            output_field=FloatField(),
        ),
        progress_at=now,
    )


# --- Course outlines for the course pages ---------------------------------------------------


def sync_course_outlines() -> int:
    """Copy the chapters, lessons and instructors of every mapped LMS course into the courses
    app (``courses.services.store_outline``); return how many course pages changed.

    Runs periodically (``LMS_OUTLINE_SYNC_SECONDS``): the LMS is the only source, and the
    course page never calls it. A course that is gone from the LMS loses its outline; an LMS
    that cannot be reached leaves every stored outline as it is until the next run.
    """
    try:
        client = FrappeClient.from_settings()
    except LmsNotConfigured:
        return 0
    changed = course_services.drop_stale_outlines()
    try:
        for course_id, lms_course in selectors.mapped_courses():
            try:
                content = client.course_content(lms_course)
            except LmsMappingError as error:
                logger.warning(
                    "event=lms.outline_missing course=%s lms_course=%s detail=%s",
                    course_id,
                    lms_course,
                    error.detail,
                )
                changed += course_services.drop_outline(course_id=course_id)
                continue
            except LmsConfigError as error:
                logger.error("event=lms.outline_config_error detail=%s", error.detail)
                break  # every other course would fail the same way
            except LmsError as error:
                logger.warning(
                    "event=lms.outline_unavailable course=%s detail=%s", course_id, error.detail
                )
                continue
            try:
                changed += course_services.store_outline(
                    course_id=course_id,
                    lms_course=content.name,
                    chapters=content.chapters,
                    instructors=content.instructors,
                )
            except course_services.OutlineError as error:
                logger.warning(
                    "event=lms.outline_refused course=%s lms_course=%s error=%s",
                    course_id,
                    lms_course,
                    error,
                )
    finally:
        client.close()
    return changed
