"""Business metrics read from the database at scrape time.

The database is the truth: these figures survive restarts, agree across every web and worker
process, and need no call sites. Each family below is one aggregate query (eight per scrape,
whatever the data); a row count that only grows (rows are never deleted) is a counter, a count
that moves both ways is a gauge.
"""

import logging
from collections import defaultdict
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count, Max, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from affiliates.models import Commission, ReferralClick
from common.models import OutboxEmail
from enrollments.models import Enrollment, StripeEvent
from grants.models import Grant
from lms_sync import selectors as lms_selectors

from .models import Incident

logger = logging.getLogger(__name__)

Status = Enrollment.Status
COMPLETED = (Status.PAID, Status.REFUNDED)
# LMS jobs not done yet: their age is how long learners have been waiting.


def _enrollment_metrics() -> list[Metric]:
    enrollments = GaugeMetricFamily(
        "maaledu_enrollments", "Enrollments by status and kind.", labels=["status", "kind"]
    )
    started = CounterMetricFamily(
        "maaledu_checkouts_started",
        "Checkouts started (enrollments created), by kind.",
        labels=["kind"],
    )
    completed = CounterMetricFamily(
        "maaledu_checkouts_completed",
        "Checkouts completed (enrollments that became paid, refunded later or not), by kind.",
        labels=["kind"],
    )
    gross = CounterMetricFamily(
        "maaledu_revenue_gross_cents",
        "Amount paid on completed checkouts, in cents, by currency.",
        labels=["currency"],
    )
    refunded = CounterMetricFamily(
        "maaledu_refunded_cents", "Amount refunded, in cents, by currency.", labels=["currency"]
    )
    net = GaugeMetricFamily(
        "maaledu_revenue_net_cents",
        "Revenue kept (paid minus refunded) on completed checkouts, in cents, by currency.",
        labels=["currency"],
    )
    by_status_kind: dict[tuple[str, str], int] = defaultdict(int)
    started_by_kind: dict[str, int] = defaultdict(int)
    completed_by_kind: dict[str, int] = defaultdict(int)
    money: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = Enrollment.objects.values("status", "kind", "currency").annotate(
        n=Count("pk"), due=Sum("amount_due_cents"), refunded=Sum("amount_refunded_cents")
    )
    for row in rows.order_by():
        by_status_kind[row["status"], row["kind"]] += row["n"]
        started_by_kind[row["kind"]] += row["n"]
        if row["status"] in COMPLETED:
            completed_by_kind[row["kind"]] += row["n"]
            money[row["currency"]][0] += row["due"]
            money[row["currency"]][1] += row["refunded"]
    for (status, kind), n in sorted(by_status_kind.items()):
        enrollments.add_metric([status, kind], n)
    for kind in Enrollment.Kind.values:
        started.add_metric([kind], started_by_kind[kind])
        completed.add_metric([kind], completed_by_kind[kind])
    for currency, (due, refunded_cents) in sorted(money.items()):
        gross.add_metric([currency], due)
        refunded.add_metric([currency], refunded_cents)
        net.add_metric([currency], due - refunded_cents)
    return [enrollments, started, completed, gross, refunded, net]


def _lms_metrics(now) -> list[Metric]:
    syncs = GaugeMetricFamily(
        "maaledu_lms_syncs", "LMS sync jobs by status and action.", labels=["status", "action"]
    )
    oldest = GaugeMetricFamily(
        "maaledu_lms_sync_oldest_due_age_seconds",
        "How long the oldest due, unfinished LMS sync job has been due (0 when none).",
    )
    rows = lms_selectors.counts_by_status_and_action(now=now)
    oldest_due = None
    for row in rows:
        syncs.add_metric([row["status"], row["action"]], row["n"])
        if row["oldest_due"] is not None:
            oldest_due = min(oldest_due or row["oldest_due"], row["oldest_due"])
    oldest.add_metric([], (now - oldest_due).total_seconds() if oldest_due else 0)
    return [syncs, oldest]


def _stripe_metrics() -> list[Metric]:
    events = GaugeMetricFamily(
        "maaledu_stripe_events",
        "Stripe webhook events by type and processing outcome.",
        labels=["type", "outcome"],
    )
    received = CounterMetricFamily(
        "maaledu_stripe_events_received",
        "Stripe webhook events received, by type.",
        labels=["type"],
    )
    last = GaugeMetricFamily(
        "maaledu_stripe_event_last_received_timestamp_seconds",
        "Unix time of the latest Stripe webhook event received (absent before the first).",
    )
    rows = (
        StripeEvent.objects.values("type", "outcome")
        .annotate(n=Count("pk"), last=Max("received_at"))
        .order_by()
    )
    received_by_type: dict[str, int] = defaultdict(int)
    latest = None
    for row in rows:
        events.add_metric([row["type"], row["outcome"]], row["n"])
        received_by_type[row["type"]] += row["n"]
        latest = max(latest or row["last"], row["last"])
    for event_type, n in sorted(received_by_type.items()):
        received.add_metric([event_type], n)
    if latest is not None:
        last.add_metric([], latest.timestamp())
    return [events, received, last]


def _grant_metrics() -> list[Metric]:
    grants = GaugeMetricFamily(
        "maaledu_grants",
        "Grants by status and coupon state (none, available, reserved, redeemed).",
        labels=["status", "coupon_state"],
    )
    # A gauge: staff may give a coupon back after a refund (grants.services.restore_coupon).
    redemptions = GaugeMetricFamily(
        "maaledu_coupon_redemptions", "Grant coupons redeemed and not given back."
    )
    redeemed = 0
    rows = Grant.objects.values("status", "coupon_state").annotate(n=Count("pk")).order_by()
    for row in rows:
        grants.add_metric([row["status"], row["coupon_state"] or "none"], row["n"])
        if row["coupon_state"] == Grant.CouponState.REDEEMED:
            redeemed += row["n"]
    redemptions.add_metric([], redeemed)
    return [grants, redemptions]


def _affiliate_metrics() -> list[Metric]:
    clicks = CounterMetricFamily(
        "maaledu_affiliate_clicks", "Referral clicks counted (one per affiliate, visitor and day)."
    )
    clicks.add_metric([], ReferralClick.objects.count())
    conversions = CounterMetricFamily(
        "maaledu_affiliate_conversions", "Referred sales that earned a commission when paid."
    )
    # A counter cannot fall when a sale is refunded: the refunded ones are counted apart (a
    # full reversal is final, so this one only grows too) and the dashboards subtract them.
    refunded = CounterMetricFamily(
        "maaledu_affiliate_conversions_refunded",
        "Referred sales refunded in full: their commission was wholly reversed.",
    )
    commissions = GaugeMetricFamily(
        "maaledu_affiliate_commissions", "Commissions by status.", labels=["status"]
    )
    total = reversed_in_full = 0
    for row in Commission.objects.values("status").annotate(n=Count("pk")).order_by():
        commissions.add_metric([row["status"]], row["n"])
        total += row["n"]
        if row["status"] == Commission.Status.REVERSED:
            reversed_in_full = row["n"]
    conversions.add_metric([], total)
    refunded.add_metric([], reversed_in_full)
    return [clicks, conversions, refunded, commissions]


def _incident_metrics() -> list[Metric]:
    incidents = GaugeMetricFamily(
        "maaledu_incidents_open", "Open ops incidents (1 = alerting), by kind.", labels=["kind"]
    )
    open_kinds = set(Incident.objects.filter(is_open=True).values_list("kind", flat=True))
    for kind in Incident.Kind.values:
        incidents.add_metric([kind], 1 if kind in open_kinds else 0)
    return [incidents]


def _outbox_metrics() -> list[Metric]:
    emails = GaugeMetricFamily(
        "maaledu_outbox_emails",
        "E-mails in the outbox (common.outbox) by status; failed ones gave up and wait for staff.",
        labels=["status"],
    )
    counts = dict(OutboxEmail.objects.values_list("status").annotate(n=Count("pk")).order_by())
    for status in OutboxEmail.Status.values:
        emails.add_metric([status], counts.get(status, 0))
    return [emails]


class BusinessCollector:
    """A prometheus-client collector; when the database cannot be read, /metrics still answers
    with the process counters and ``maaledu_business_metrics_up 0``."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "maaledu_business_metrics_up",
            "1 when the business metrics were read from the database.",
        )
        now = timezone.now()
        try:
            families = [
                *_enrollment_metrics(),
                *_lms_metrics(now),
                *_stripe_metrics(),
                *_grant_metrics(),
                *_affiliate_metrics(),
                *_incident_metrics(),
                *_outbox_metrics(),
            ]
        except DatabaseError:
            logger.exception("event=metrics.database_error")
            up.add_metric([], 0)
            yield up
            return
        yield from families
        up.add_metric([], 1)
        yield up


# Registered without describing, so nothing touches the database before the first scrape.
BUSINESS_REGISTRY = CollectorRegistry(auto_describe=False)
BUSINESS_REGISTRY.register(BusinessCollector())
