"""LMS sync jobs: claim, call Frappe, record the outcome; staff alerts, retries, progress.

The job lives on its ``Enrollment`` row (the ``lms_*`` fields), created by the same conditional
update that makes the enrollment paid (``enrol``), refunded (``unenrol``) or disputed
(``suspend``: the learner's progress and lesson to resume are saved on the row, then the LMS
enrolment is removed; a won dispute's ``enrol`` creates it again with them). Its life:

    pending ──claim_job──▶ in_progress ──▶ synced
                               ├─ Frappe unreachable / 5xx ─▶ pending after a backoff,
                               │                              failed after LMS_SYNC_MAX_ATTEMPTS
                               ├─ FRAPPE_* not set ─────────▶ waiting_config; the sweeper starts
                               │                              it again once the settings are set
                               ├─ credentials/site refused, ▶ waiting_config, tried every
                               │  LMS course unpublished      LMS_SYNC_CONFIG_RETRY_SECONDS; alert
                               └─ course mapping refused ───▶ failed (waits for staff); alert

``failed`` means "needs staff": after fixing the cause (the course's Frappe name, the LMS course
itself) staff use the admin action "Retry LMS sync now" (``retry_now``). Waiting for
configuration never uses up the retry budget.

Every step is one conditional UPDATE. The claim takes a lease with a fresh random token, so two
workers never call Frappe for one enrollment at once; the outcome is written only ``WHERE`` the
token is still ours, so a worker whose lease was taken over (it stalled past
LMS_SYNC_LEASE_SECONDS) records nothing. Alerts are inserts guarded by a unique constraint.
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
from django.db import IntegrityError, transaction
from django.db.models import Case, F, FloatField, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from common.mail import send_templated_email
from common.queue import enqueue_on_commit
from courses import services as course_services
from enrollments.models import Enrollment

from . import selectors
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
from .models import LmsAlert, LmsUserErasure

logger = logging.getLogger(__name__)

LmsStatus = Enrollment.LmsStatus
LmsAction = Enrollment.LmsAction

# What run_job did; also the Celery task's result.
SYNCED = "synced"
RETRY = "retry"
FAILED = "failed"
WAITING_CONFIG = "waiting_config"
NOT_CLAIMED = "not_claimed"  # not due, already synced, or another worker holds it
DISCARDED = "discarded"  # our lease was taken over (or the job changed) while we called Frappe

SITE_KEY = "site"
RETRYABLE = [LmsStatus.PENDING, LmsStatus.WAITING_CONFIG, LmsStatus.FAILED]


def claim_job(*, enrollment_id: int, now: datetime | None = None) -> str | None:
    """Take the job if it is due or its lease expired; return the lease token, or None."""
    now = now or timezone.now()
    token = secrets.token_hex(16)
    claimed = Enrollment.objects.filter(selectors.claimable(now=now), pk=enrollment_id).update(
        lms_status=LmsStatus.IN_PROGRESS,
        lms_lease_token=token,
        lms_lease_until=now + timedelta(seconds=settings.LMS_SYNC_LEASE_SECONDS),
        lms_attempts=F("lms_attempts") + 1,
        updated_at=timezone.now(),
    )
    return token if claimed else None


def run_job(*, enrollment_id: int, now: datetime | None = None) -> str:
    """Claim the job, make its one Frappe call, record what happened. Safe to call any time,
    any number of times, concurrently. ``now`` pins the clock (tests travel in time with it)."""
    clock: Callable[[], datetime] = (lambda: now) if now else timezone.now
    token = claim_job(enrollment_id=enrollment_id, now=clock())
    if token is None:
        return NOT_CLAIMED
    job = Enrollment.objects.select_related("course", "user").get(pk=enrollment_id)
    if job.lms_attempts > settings.LMS_SYNC_MAX_ATTEMPTS:
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
            _open_alert(LmsAlert.Kind.CONFIG, SITE_KEY, error.detail)
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
            _open_alert(
                LmsAlert.Kind.MAPPING,
                _course_key(job.course_id),
                f"{job.course.title} (LMS course {job.course.frappe_course!r}): {error.detail}",
            )
        return outcome
    except LmsMappingError as error:
        detail = f"{job.course.title} (LMS course {job.course.frappe_course!r}): {error.detail}"
        outcome = _fail(job, token, error.detail)
        if outcome == FAILED:
            _open_alert(LmsAlert.Kind.MAPPING, _course_key(job.course_id), detail)
        return outcome
    except LmsTransientError as error:
        return _retry_later(job, token, clock(), error.detail, type(error).__name__)
    except LmsError as error:  # Frappe refused the request for a reason retrying cannot fix
        return _give_up(job, token, error.detail)
    except Exception as error:
        # A bug or a bad row: record it and back off rather than hold the lease until it
        # expires and loop. The traceback goes to the log, never to lms_last_error.
        logger.exception("event=lms.error enrollment_id=%s", job.pk)
        return _retry_later(
            job, token, clock(), f"internal error ({type(error).__name__})", type(error).__name__
        )
    return _succeed(job, token, clock(), lms_enrollment_name)


class _LeaseLost(Exception):
    """The row changed under our lease mid-job: stop before the next Frappe call."""


def _call_frappe(job: Enrollment, token: str) -> str:
    """Enrol, unenrol or suspend; return the LMS Enrollment name to keep ('' once removed).

    An enrol passes the progress and lesson this row keeps (saved by a suspension, or last
    read), so an enrolment that is created again does not start the learner at 0 %."""
    client = FrappeClient.from_settings()
    course = job.course.frappe_course
    try:
        if job.lms_action == LmsAction.SUSPEND:
            _keep_state(job, token, client.enrolment_state(email=job.email, course=course))
        if job.lms_action in (LmsAction.UNENROL, LmsAction.SUSPEND):
            client.unenrol(email=job.email, course=course)
            return ""
        return client.enrol(
            email=job.email,
            full_name=job.user.name if job.user else "",
            course=course,
            progress=job.lms_progress,
            current_lesson=job.lms_current_lesson,
        )
    finally:
        client.close()


def _keep_state(job: Enrollment, token: str, state: EnrolmentState | None) -> None:
    """Save the learner's progress on the row *before* the LMS enrolment is deleted. A re-run
    after a crash past the delete finds no enrolment and keeps what was saved."""
    if state is None:
        return
    kept = Enrollment.objects.filter(
        pk=job.pk, lms_lease_token=token, lms_status=LmsStatus.IN_PROGRESS
    ).update(
        lms_progress=state.progress,
        lms_progress_at=timezone.now(),
        lms_current_lesson=state.current_lesson,
    )
    if not kept:  # e.g. the dispute closed meanwhile: its enrol job must not find it deleted
        raise _LeaseLost


def _record(job: Enrollment, token: str, **fields) -> bool:
    """Write the outcome only while our lease stands; release the lease either way.

    ``updated_at`` is stamped by hand: QuerySet.update() skips auto_now, and the ops alerts
    count recent failures by it."""
    recorded = Enrollment.objects.filter(
        pk=job.pk, lms_lease_token=token, lms_status=LmsStatus.IN_PROGRESS
    ).update(lms_lease_token="", lms_lease_until=None, updated_at=timezone.now(), **fields)
    if not recorded:
        _release(job, token)
    return bool(recorded)


def _release(job: Enrollment, token: str) -> None:
    """Still our token but no longer in progress: the enrollment was refunded (or its dispute
    moved) during the call. Let its next job start now rather than when our lease ends."""
    Enrollment.objects.filter(pk=job.pk, lms_lease_token=token).update(
        lms_lease_token="", lms_lease_until=None
    )
    logger.warning("event=lms.discarded enrollment_id=%s action=%s", job.pk, job.lms_action)


def _succeed(job: Enrollment, token: str, now: datetime, lms_enrollment_name: str) -> str:
    # Once enrolled again, the saved lesson has done its job (Frappe moves it from here on).
    restored = {"lms_current_lesson": ""} if job.lms_action == LmsAction.ENROL else {}
    if not _record(
        job,
        token,
        lms_status=LmsStatus.SYNCED,
        lms_synced_at=now,
        lms_enrollment_name=lms_enrollment_name,
        lms_next_attempt_at=None,
        lms_last_error="",
        **restored,
    ):
        return DISCARDED
    logger.info(
        "event=lms.synced enrollment_id=%s action=%s attempts=%s",
        job.pk,
        job.lms_action,
        job.lms_attempts,
    )
    # Frappe answered us, so the settings work and this course maps: close those incidents,
    # and let jobs waiting on the configuration run at the next sweep, not their slow retry.
    LmsAlert.objects.filter(
        Q(kind__in=[LmsAlert.Kind.CONFIG, LmsAlert.Kind.FAILED])
        | Q(kind=LmsAlert.Kind.MAPPING, key=_course_key(job.course_id)),
        resolved_at__isnull=True,
    ).update(resolved_at=now)
    Enrollment.objects.filter(
        lms_status=LmsStatus.WAITING_CONFIG, lms_next_attempt_at__gt=now
    ).update(lms_next_attempt_at=now, updated_at=timezone.now())
    return SYNCED


def _retry_later(job: Enrollment, token: str, now: datetime, detail: str, error_type: str) -> str:
    if job.lms_attempts >= settings.LMS_SYNC_MAX_ATTEMPTS:
        return _give_up(job, token, f"{detail} (after {job.lms_attempts} attempts)")
    delay = backoff_delay(job.lms_attempts)
    if not _record(
        job,
        token,
        lms_status=LmsStatus.PENDING,
        lms_next_attempt_at=now + delay,
        lms_last_error=detail,
    ):
        return DISCARDED
    logger.info(
        "event=lms.retry enrollment_id=%s action=%s attempt=%s next_in=%ds error=%s",
        job.pk,
        job.lms_action,
        job.lms_attempts,
        delay.total_seconds(),
        error_type,
    )
    return RETRY


def _wait_for_config(
    job: Enrollment,
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
        lms_status=LmsStatus.WAITING_CONFIG,
        lms_next_attempt_at=now + retry_in,
        lms_last_error=detail or error.detail,
        lms_attempts=F("lms_attempts") - 1,  # the claim counted it; waiting is not an attempt
    ):
        return DISCARDED
    logger.warning(
        "event=lms.waiting_config enrollment_id=%s error=%s status=%s",
        job.pk,
        type(error).__name__,
        error.status,
    )
    return WAITING_CONFIG


def _fail(job: Enrollment, token: str, detail: str) -> str:
    if not _record(
        job, token, lms_status=LmsStatus.FAILED, lms_next_attempt_at=None, lms_last_error=detail
    ):
        return DISCARDED
    logger.error(
        "event=lms.failed enrollment_id=%s action=%s attempts=%s",
        job.pk,
        job.lms_action,
        job.lms_attempts,
    )
    return FAILED


def _give_up(job: Enrollment, token: str, detail: str) -> str:
    outcome = _fail(job, token, detail)
    if outcome == FAILED:
        _open_alert(LmsAlert.Kind.FAILED, SITE_KEY, detail)
    return outcome


def backoff_delay(attempt: int) -> timedelta:
    """Delay after failed attempt ``attempt`` (1-based): base doubling up to the cap, then
    jittered down to 75-100 % so a crowd of jobs that failed together spreads out."""
    base, cap = settings.LMS_SYNC_BASE_DELAY_SECONDS, settings.LMS_SYNC_MAX_DELAY_SECONDS
    return _jittered(min(cap, base * 2 ** min(attempt - 1, 32)))


def _jittered(seconds: float) -> timedelta:
    return timedelta(seconds=seconds * random.uniform(0.75, 1.0))


def _course_key(course_id: int) -> str:
    return f"course-{course_id}"


# --- Alerts -----------------------------------------------------------------------------------


def _open_alert(kind: str, key: str, detail: str) -> bool:
    """Open the incident and e-mail staff; False when it is already open (already alerted)."""
    try:
        with transaction.atomic():
            alert = LmsAlert.objects.create(kind=kind, key=key, detail=detail)
    except IntegrityError:
        return False
    from .tasks import send_lms_alert

    logger.warning("event=lms.alert_opened alert_id=%s kind=%s key=%s", alert.pk, kind, key)
    enqueue_on_commit(send_lms_alert, alert.pk)
    return True


def notify_alert(*, alert_id: int) -> bool:
    """E-mail staff about an open alert, once: the send is claimed first, undone if it fails."""
    claimed_at = timezone.now()
    claimed = LmsAlert.objects.filter(
        pk=alert_id, notified_at__isnull=True, resolved_at__isnull=True
    ).update(notified_at=claimed_at)
    if not claimed:
        return False
    alert = LmsAlert.objects.get(pk=alert_id)
    try:
        send_templated_email(
            to=list(settings.STAFF_NOTIFICATION_EMAILS),
            template="lms_alert",
            context={
                "alert": alert,
                "jobs_url": settings.SITE_URL + reverse("admin:lms_sync_lmssyncjob_changelist"),
            },
        )
    except Exception:
        LmsAlert.objects.filter(pk=alert_id, notified_at=claimed_at).update(notified_at=None)
        raise
    return True


# --- Staff ------------------------------------------------------------------------------------


def retry_now(*, enrollment_ids: list[int]) -> int:
    """Failed, waiting or backing-off jobs: due now with a fresh retry budget, and started."""
    from .tasks import sync_enrollment

    ids = list(
        Enrollment.objects.filter(pk__in=enrollment_ids, lms_status__in=RETRYABLE).values_list(
            "pk", flat=True
        )
    )
    now = timezone.now()
    retried = Enrollment.objects.filter(pk__in=ids, lms_status__in=RETRYABLE).update(
        lms_status=LmsStatus.PENDING, lms_attempts=0, lms_next_attempt_at=now, updated_at=now
    )
    for enrollment_id in ids:
        enqueue_on_commit(sync_enrollment, enrollment_id)
    return retried


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
    by_course: dict[str, list[Enrollment]] = defaultdict(list)
    for job in jobs:
        by_course[job.course.frappe_course].append(job)
    now = timezone.now()
    read: list[Enrollment] = []
    missing = 0
    try:
        for course, course_jobs in by_course.items():
            members = [job.email for job in course_jobs]
            progress = client.progress_for(course=course, members=members)
            for job in course_jobs:
                value = progress.get(job.email.lower())
                if value is None:  # no LMS Enrollment any more: someone deleted it in Frappe
                    missing += 1
                else:
                    job.lms_progress = value
                job.lms_progress_at = now
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
            _open_alert(LmsAlert.Kind.FAILED, SITE_KEY, f"LMS user erasure: {error.detail}")
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


def _store_progress(read: list[Enrollment], now: datetime) -> None:
    """One conditional UPDATE: only rows still synced and enrolled take what was read. A row a
    dispute suspended meanwhile keeps the progress its suspend job saved (the restore uses it),
    never the older value this pull read before the enrolment was removed."""
    if not read:
        return
    Enrollment.objects.filter(
        pk__in=[job.pk for job in read],
        status=Enrollment.Status.PAID,
        lms_action=LmsAction.ENROL,
        lms_status=LmsStatus.SYNCED,
    ).update(
        lms_progress=Case(
            *(When(pk=job.pk, then=Value(job.lms_progress, FloatField())) for job in read),
            default=F("lms_progress"),
            output_field=FloatField(),
        ),
        lms_progress_at=now,
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
