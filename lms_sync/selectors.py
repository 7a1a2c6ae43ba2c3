"""Reads for LMS sync: which jobs may run now, which enrollments lack one, LMS state for pages.

Every other app reads LMS sync state through here (the ops page, metrics and alerts, the
learner's pages through ``lms_sync.templatetags.lms_access``, the admin); no app reads the
``LmsSyncJob`` table directly.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet

from courses.models import Course
from enrollments.models import Enrollment

from .models import LmsSyncJob

Status = LmsSyncJob.Status
Action = LmsSyncJob.Action

# Statuses of a job that is neither done nor replaced: the sweep works these.
OPEN_STATUSES = (Status.PENDING, Status.IN_PROGRESS, Status.WAITING_CONFIG)
# A job that is no longer current (another action replaced it) does not count as "the job".
CURRENT = ~Q(status=Status.SUPERSEDED)


def jobs() -> QuerySet[LmsSyncJob]:
    return LmsSyncJob.objects.all()


def claimable(*, now: datetime, waiting_config: bool = True, alone: bool = True) -> Q:
    """Jobs a worker may take at ``now``: due ones, and ones whose worker's lease ran out.

    A due job waits while any job of the same enrollment is under a live lease (refunded while
    its enrol call was running), so one enrollment never has two calls in flight. ``alone``
    adds that condition (a subquery) for reads; the claim itself checks it after taking the
    lease (``sibling_holds_lease``), since an UPDATE with a subquery is SQL-only.
    """
    lease_free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    statuses = [Status.PENDING, *([Status.WAITING_CONFIG] if waiting_config else [])]
    due = Q(status__in=statuses, next_attempt_at__lte=now)
    if not alone:
        return lease_free & (due | Q(status=Status.IN_PROGRESS))
    sibling_leased = LmsSyncJob.objects.filter(
        enrollment_id=OuterRef("enrollment_id"), lease_until__gte=now
    ).exclude(pk=OuterRef("pk"))
    return lease_free & ~Exists(sibling_leased) & (due | Q(status=Status.IN_PROGRESS))


def sibling_holds_lease(*, job_id, enrollment_id, now: datetime) -> bool:
    """Another job of the enrollment is under a live lease at ``now``."""
    return (
        LmsSyncJob.objects.filter(enrollment_id=enrollment_id, lease_until__gte=now)
        .exclude(pk=job_id)
        .exists()
    )


def due_job_ids(*, now: datetime, limit: int, waiting_config: bool) -> list[int]:
    """Ids of claimable jobs, longest overdue first (served by ``lms_sync_job_due_idx``)."""
    return list(
        LmsSyncJob.objects.filter(claimable(now=now, waiting_config=waiting_config))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def wanted_action(enrollment: Enrollment, *, has_lms_access_job: bool) -> str | None:
    """The LMS call an enrollment's state asks for now, or None: paid → enrol, paid with an
    open dispute → suspend, refunded (after access was given or being given) → unenrol."""
    if enrollment.status == Enrollment.Status.PAID:
        if enrollment.dispute_status == Enrollment.Dispute.OPEN:
            return Action.SUSPEND
        return Action.ENROL
    if enrollment.status == Enrollment.Status.REFUNDED and has_lms_access_job:
        return Action.UNENROL
    return None


def _current_job_of(action: str) -> Exists:
    return Exists(LmsSyncJob.objects.filter(CURRENT, enrollment_id=OuterRef("pk"), action=action))


def _gave_access() -> Exists:
    """An enrol or suspend job exists (not one cancelled before it ran): there may be an LMS
    enrolment to remove."""
    return Exists(
        LmsSyncJob.objects.filter(
            enrollment_id=OuterRef("pk"), action__in=[Action.ENROL, Action.SUSPEND]
        ).exclude(status=Status.CANCELLED)
    )


def enrollments_missing_a_job(*, limit: int) -> list[int]:
    """Enrollments whose state asks for an LMS call that has no current job: a lost
    ``enrollment_paid`` / ``enrollment_revoked`` / ``enrollment_suspended``, or a process killed
    between the enrollment's update and the job's insert. The sweep creates those jobs.

    Three queries, one per action, each a plain NOT EXISTS the database runs as one anti-join
    over the job table's (enrollment, action) index, oldest enrollment first."""
    paid = Enrollment.objects.filter(status=Enrollment.Status.PAID)
    wanted = [
        (paid.exclude(dispute_status=Enrollment.Dispute.OPEN), Action.ENROL),
        (paid.filter(dispute_status=Enrollment.Dispute.OPEN), Action.SUSPEND),
        (
            Enrollment.objects.filter(status=Enrollment.Status.REFUNDED).filter(_gave_access()),
            Action.UNENROL,
        ),
    ]
    missing: list[int] = []
    for enrollments, action in wanted:
        missing += (
            enrollments.exclude(_current_job_of(action))
            .order_by("pk")
            .values_list("pk", flat=True)[: limit - len(missing)]
        )
        if len(missing) >= limit:
            break
    return sorted(missing)


def has_lms_access_job(enrollment_id: int) -> bool:
    return (
        LmsSyncJob.objects.filter(
            enrollment_id=enrollment_id, action__in=[Action.ENROL, Action.SUSPEND]
        )
        .exclude(status=Status.CANCELLED)
        .exists()
    )


def current_job(enrollment_id: int) -> LmsSyncJob | None:
    """The job that decides the enrollment's LMS state now (the latest armed one)."""
    return (
        LmsSyncJob.objects.filter(CURRENT, enrollment_id=enrollment_id)
        .order_by("-updated_at", "-pk")
        .first()
    )


def current_jobs(enrollment_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Per enrollment: (action, status) of its current job (the latest armed one)."""
    current: dict[int, tuple[str, str]] = {}
    for enrollment_id, action, status in (
        LmsSyncJob.objects.filter(CURRENT, enrollment_id__in=enrollment_ids)
        .order_by("updated_at", "pk")
        .values_list("enrollment_id", "action", "status")
    ):
        current[enrollment_id] = (action, status)
    return current


def progress_batch(*, limit: int) -> list[LmsSyncJob]:
    """Synced enrol jobs of paid enrollments, least recently read first."""
    return list(
        LmsSyncJob.objects.filter(
            enrollment__status=Enrollment.Status.PAID,
            action=Action.ENROL,
            status=Status.SYNCED,
        )
        .exclude(enrollment__course__frappe_course="")
        .select_related("enrollment__course")
        .only(
            "enrollment__email",
            "enrollment__status",
            "progress",
            "progress_at",
            "enrollment__course__frappe_course",
        )
        .order_by(F("progress_at").asc(nulls_first=True), "pk")[:limit]
    )


# --- What the learner's pages show ----------------------------------------------------------


@dataclass(frozen=True)
class LmsAccess:
    """An enrollment's LMS state as the learner sees it."""

    state: str  # a Status value, or "" when no job exists (yet)
    progress: float | None

    @property
    def done(self) -> bool:
        """Nothing more will happen by itself (synced, or failed and waiting for staff)."""
        return self.state in (Status.SYNCED, Status.FAILED)


NO_ACCESS_YET = LmsAccess(state="", progress=None)


def lms_access(enrollment_ids: list[int]) -> dict[int, LmsAccess]:
    """Per enrollment: the current job's status, and the progress kept on its enrol job. One
    query for any number of enrollments."""
    if not enrollment_ids:
        return {}
    current: dict[int, str] = {}
    progress: dict[int, float | None] = {}
    for enrollment_id, action, status, kept in (
        LmsSyncJob.objects.filter(enrollment_id__in=enrollment_ids)
        .order_by("updated_at", "pk")
        .values_list("enrollment_id", "action", "status", "progress")
    ):
        if status != Status.SUPERSEDED:
            current[enrollment_id] = status  # the latest armed wins
        if action == Action.ENROL:
            progress[enrollment_id] = kept
    return {
        pk: LmsAccess(state=current.get(pk, ""), progress=progress.get(pk)) for pk in enrollment_ids
    }


# --- Staff: the ops page, metrics, alerts -----------------------------------------------------


def overdue_filter(*, now: datetime) -> Q:
    """Enrol jobs of paid enrollments still not done ALERT_LMS_PENDING_MINUTES after payment
    (the ops page and the ``lms_overdue`` alert)."""
    return Q(
        enrollment__status=Enrollment.Status.PAID,
        action=Action.ENROL,
        status__in=OPEN_STATUSES,
        enrollment__paid_at__lt=now - timedelta(minutes=settings.ALERT_LMS_PENDING_MINUTES),
    )


def jobs_needing_attention(*, now: datetime) -> QuerySet[LmsSyncJob]:
    """Failed jobs and overdue ones, oldest payment first."""
    return (
        LmsSyncJob.objects.filter(Q(status=Status.FAILED) | overdue_filter(now=now))
        .select_related("enrollment__course")
        .order_by("enrollment__paid_at", "pk")
    )


def overdue_summary(*, now: datetime) -> dict:
    """``total``, ``oldest`` (payment time) and ``waiting_config`` of the overdue jobs."""
    return LmsSyncJob.objects.filter(overdue_filter(now=now)).aggregate(
        total=Count("pk"),
        oldest=Min("enrollment__paid_at"),
        waiting_config=Count("pk", filter=Q(status=Status.WAITING_CONFIG)),
    )


def recent_failures(*, since: datetime) -> QuerySet[LmsSyncJob]:
    """Jobs that failed since ``since``, newest first (their outcome stamps ``updated_at``)."""
    return LmsSyncJob.objects.filter(status=Status.FAILED, updated_at__gte=since).order_by(
        "-updated_at", "-pk"
    )


def counts_by_status_and_action(*, now: datetime) -> list[dict]:
    """For the metrics: ``status``, ``action``, ``n`` and ``oldest_due`` (due, unfinished)."""
    return list(
        LmsSyncJob.objects.exclude(status__in=[Status.SUPERSEDED, Status.CANCELLED])
        .values("status", "action")
        .annotate(
            n=Count("pk"),
            oldest_due=Min(
                "next_attempt_at", filter=Q(status__in=OPEN_STATUSES, next_attempt_at__lte=now)
            ),
        )
        .order_by()
    )


def enrol_backlog(*, hours: list[datetime], ends: list[datetime], now: datetime) -> list[int]:
    """Paid enrollments whose LMS enrolment was not done yet at each of ``ends``: rebuilt from
    each enrol job's payment and sync times (``synced_at`` is when its enrolment was done)."""
    waiting = LmsSyncJob.objects.filter(
        Q(synced_at__isnull=True, status__in=[*OPEN_STATUSES, Status.FAILED])
        | Q(synced_at__gt=hours[0]),
        enrollment__paid_at__lte=now,
        action=Action.ENROL,
    ).aggregate(
        **{
            f"h{index}": Count(
                "pk",
                filter=Q(enrollment__paid_at__lte=end)
                & (Q(synced_at__isnull=True) | Q(synced_at__gt=end)),
            )
            for index, end in enumerate(ends)
        }
    )
    return [waiting[f"h{index}"] for index in range(len(ends))]


def published_courses() -> QuerySet[Course]:
    return Course.objects.filter(is_published=True).order_by("title")


def mapped_courses() -> list[tuple[int, str]]:
    """(course id, LMS course name) of every published course mapped to an LMS course."""
    return list(
        Course.objects.filter(is_published=True)
        .exclude(frappe_course="")
        .order_by("pk")
        .values_list("pk", "frappe_course")
    )
