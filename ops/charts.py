"""The ops page's charts of the last 24 hours (``common.charts``)."""

from datetime import datetime

from django.utils.safestring import SafeString

from common import charts, versioned_cache
from enrollments.models import StripeEvent

from . import selectors
from .selectors import LastDay

# The charts are drawn at most once a minute, whoever looks: the page's lists stay live, and a
# 24-hour chart a minute old tells the operator the same story.
CHARTS_CACHE_SECONDS = 60

WEBHOOK_SERIES = tuple(
    charts.Series(outcome, label.split(" (")[0])
    for outcome, label in (
        (StripeEvent.Outcome.PROCESSED, StripeEvent.Outcome.PROCESSED.label),
        (StripeEvent.Outcome.IGNORED, StripeEvent.Outcome.IGNORED.label),
        (StripeEvent.Outcome.RECEIVED, "Not processed yet"),
        (StripeEvent.Outcome.FAILED, StripeEvent.Outcome.FAILED.label),
    )
)


def _hour_labels(last_day: LastDay) -> list[str]:
    return [hour.strftime("%H:00") for hour in last_day.hours]


def lms_backlog_chart(last_day: LastDay) -> SafeString:
    return charts.render(
        charts.BarChart(
            slug="chart-lms-backlog",
            title="LMS sync backlog, last 24 hours",
            description=(
                "Paid enrollments whose LMS enrolment was not done yet at the end of each hour "
                "(UTC; the last bar is now)."
            ),
            category_label="Hour (UTC)",
            categories=_hour_labels(last_day),
            series=(charts.Series("backlog", "Waiting for the LMS"),),
            values=[(count,) for count in last_day.lms_backlog],
            label_every=3,
        ),
        empty_message="No paid enrollment waited for the LMS in the last 24 hours.",
    )


def webhook_chart(last_day: LastDay) -> SafeString:
    return charts.render(
        charts.BarChart(
            slug="chart-webhooks",
            title="Stripe webhooks, last 24 hours",
            description="Stripe events received in each hour (UTC), by their outcome now.",
            category_label="Hour (UTC)",
            categories=_hour_labels(last_day),
            series=WEBHOOK_SERIES,
            values=[
                tuple(hour[series.key] for series in WEBHOOK_SERIES) for hour in last_day.webhooks
            ],
            stacked=True,
            label_every=3,
        ),
        empty_message="No Stripe event in the last 24 hours.",
    )


def last_day_charts(*, now: datetime) -> tuple[SafeString, SafeString]:
    """The LMS backlog and webhook charts, cached with the figures they draw for the minute of
    ``now`` (two aggregates on a miss; drawn afresh when the cache is down)."""
    key = f"ops:last-day-charts:{now:%Y%m%d%H%M}"
    drawn = versioned_cache.get(key)
    if drawn is None:
        last_day = selectors.last_day(now=now)
        drawn = (lms_backlog_chart(last_day), webhook_chart(last_day))
        versioned_cache.put(key, drawn, timeout=CHARTS_CACHE_SECONDS)
    return drawn
