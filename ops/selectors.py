"""Reads for the ops page: what needs staff now. Every list is capped at ``LIST_LIMIT`` rows and
comes with its full count, so the page costs the same few queries whatever the backlog."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from enrollments.models import Enrollment, StripeEvent
from lms_sync import selectors as lms_selectors

from .models import Incident, ReconciliationRun

LIST_LIMIT = 50
# A webhook records its event and processes it in the same request: one still ``received``
# after this long was interrupted (a crash, a deploy) and waits for someone.
STALE_EVENT_AFTER = timedelta(minutes=5)

Status = Enrollment.Status


@dataclass(frozen=True)
class Section:
    rows: list
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.rows)


def _section(queryset: QuerySet) -> Section:
    rows = list(queryset[:LIST_LIMIT])
    # Only a full list can hide more rows; a short one is its own count.
    total = queryset.count() if len(rows) == LIST_LIMIT else len(rows)
    return Section(rows=rows, total=total)


def lms_jobs_needing_attention(*, now: datetime) -> Section:
    """Failed LMS sync jobs and overdue ones, oldest payment first (lms_sync's read)."""
    jobs = lms_selectors.jobs_needing_attention(now=now)
    return _section(jobs)


def stripe_events_needing_attention(*, now: datetime) -> Section:
    """Events that failed processing, or were recorded and never processed."""
    events = (
        StripeEvent.objects.filter(
            Q(outcome=StripeEvent.Outcome.FAILED)
            | Q(outcome=StripeEvent.Outcome.RECEIVED, received_at__lt=now - STALE_EVENT_AFTER)
        )
        .defer("payload")
        .order_by("received_at", "pk")
    )
    return _section(events)


def enrollments_needing_review() -> Section:
    """Amount mismatches, disputes and double payments, newest first."""
    flagged = Enrollment.objects.filter(needs_review=True).select_related("course")
    return _section(flagged.order_by("-created_at", "-pk"))


def stale_pending_checkouts(*, now: datetime) -> Section:
    """Checkouts still pending after their Stripe session expired: the beat task that expires
    them (every 15 minutes) is not running, or Stripe's ``expired`` events are not arriving."""
    stale = Enrollment.objects.filter(status=Status.PENDING, expires_at__lt=now)
    return _section(stale.select_related("course").order_by("expires_at", "pk"))


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    paid: int
    gross_cents: int
    refunded_cents: int

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.refunded_cents


@dataclass(frozen=True)
class Today:
    since: datetime
    started_by_status: dict[str, int]
    revenue: list[CurrencyTotal]

    @property
    def started(self) -> int:
        return sum(self.started_by_status.values())


def today(*, now: datetime) -> Today:
    """Enrollments created since local midnight by status, and payments since then by currency."""
    since = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    started = (
        Enrollment.objects.filter(created_at__gte=since)
        .values("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    paid = (
        Enrollment.objects.filter(paid_at__gte=since, status__in=[Status.PAID, Status.REFUNDED])
        .values("currency")
        .annotate(
            n=Count("pk"), gross=Sum("amount_due_cents"), refunded=Sum("amount_refunded_cents")
        )
        .order_by("currency")
    )
    return Today(
        since=since,
        started_by_status={row["status"]: row["n"] for row in started},
        revenue=[
            CurrencyTotal(row["currency"], row["n"], row["gross"], row["refunded"]) for row in paid
        ],
    )


CHART_HOURS = 24


@dataclass(frozen=True)
class LastDay:
    """The last CHART_HOURS whole hours and the current one, oldest first."""

    hours: list[datetime]  # the start of each hour
    # Paid enrollments whose LMS enrolment was not done yet at the end of each hour (or now,
    # for the current hour).
    lms_backlog: list[int]
    # Stripe events received in each hour, by their outcome now.
    webhooks: list[dict[str, int]]


def last_day(*, now: datetime) -> LastDay:
    """Two aggregates, whatever the traffic. The backlog is lms_sync's (its enrol jobs'
    payment and sync times); enrollments being unenrolled now are left out."""
    current = now.replace(minute=0, second=0, microsecond=0)
    hours = [current - timedelta(hours=n) for n in range(CHART_HOURS - 1, -1, -1)]
    ends = [min(hour + timedelta(hours=1), now) for hour in hours]
    backlog = lms_selectors.enrol_backlog(hours=hours, ends=ends, now=now)
    webhooks = [dict.fromkeys(StripeEvent.Outcome.values, 0) for _ in hours]
    position = {hour: index for index, hour in enumerate(hours)}
    received = (
        StripeEvent.objects.filter(received_at__gte=hours[0])
        .annotate(hour=TruncHour("received_at"))
        .values("hour", "outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in received:
        if row["hour"] in position and row["outcome"] in webhooks[0]:
            webhooks[position[row["hour"]]][row["outcome"]] += row["n"]
    return LastDay(
        hours=hours,
        lms_backlog=backlog,
        webhooks=webhooks,
    )


def open_incidents() -> list[Incident]:
    return list(Incident.objects.filter(is_open=True).order_by("opened_at"))


def open_incident_keys(*, kinds: list[str]) -> list[tuple[str, str]]:
    """(kind, key) of the open incidents of these kinds."""
    return list(Incident.objects.filter(kind__in=kinds, is_open=True).values_list("kind", "key"))


def latest_reconciliation() -> ReconciliationRun | None:
    """The newest finished reconciliation run, with its findings (one query)."""
    return ReconciliationRun.objects.filter(finished_at__isnull=False).first()
