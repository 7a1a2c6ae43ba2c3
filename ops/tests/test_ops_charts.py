"""The ops page's charts of the last 24 hours, read back from the page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from common.testing.chart_reading import drawn, figure, tabled
from enrollments.models import Enrollment, StripeEvent
from lms_sync.models import LmsSyncJob
from lms_sync.tests.factories import enrollment_with_job

from .test_ops_page import staff_client  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

LmsStatus = LmsSyncJob.Status


def _nonzero(found: dict) -> dict:
    return {key: value for key, value in found.items() if value}


def _label(moment) -> str:
    return moment.strftime("%H:00")


def _event(event_id: str, outcome: str, received_at) -> None:
    event = StripeEvent.objects.create(
        event_id=event_id, type="checkout.session.completed", payload={}, outcome=outcome
    )
    StripeEvent.objects.filter(pk=event.pk).update(received_at=received_at)


def test_the_lms_backlog_chart_counts_what_waited_at_the_end_of_each_hour(staff_client):  # noqa: F811
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    paid = {"status": Enrollment.Status.PAID}
    # Paid 5 hours ago, enrolled 3 hours later: waited at the end of three hours.
    enrollment_with_job(
        **paid, paid_at=hour - timedelta(hours=5, minutes=-10),
        lms_status=LmsStatus.SYNCED, lms_synced_at=hour - timedelta(hours=2, minutes=-10),
    )  # fmt: skip
    # Paid last hour and still waiting: at the end of last hour and now.
    enrollment_with_job(**paid, paid_at=hour - timedelta(minutes=55), lms_status=LmsStatus.PENDING)
    # Enrolled before the window, and one being unenrolled now: neither waited for enrolment.
    enrollment_with_job(
        **paid, paid_at=hour - timedelta(days=3), lms_status=LmsStatus.SYNCED,
        lms_synced_at=hour - timedelta(days=3),
    )  # fmt: skip
    enrollment_with_job(
        status=Enrollment.Status.REFUNDED, paid_at=hour - timedelta(hours=4),
        lms_status=LmsStatus.PENDING, lms_action=LmsSyncJob.Action.UNENROL,
    )  # fmt: skip

    html = staff_client.get("/admin/ops/").content.decode()

    backlog = figure(html, "chart-lms-backlog")
    expected = {(_label(hour - timedelta(hours=n)), "backlog"): 1 for n in (5, 4, 3, 1, 0)}
    assert drawn(backlog) == expected
    assert _nonzero(tabled(backlog)) == expected
    assert backlog.count('<th scope="row">') == 24


def test_the_webhook_chart_counts_each_hours_events_by_outcome(staff_client):  # noqa: F811
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    three_ago = hour - timedelta(hours=3)
    _event("evt_1", "processed", three_ago + timedelta(minutes=5))
    _event("evt_2", "processed", three_ago + timedelta(minutes=40))
    _event("evt_3", "failed", three_ago + timedelta(minutes=20))
    _event("evt_4", "ignored", now)
    _event("evt_old", "failed", hour - timedelta(hours=30))

    html = staff_client.get("/admin/ops/").content.decode()

    webhooks = figure(html, "chart-webhooks")
    expected = {
        (_label(three_ago), "processed"): 2,
        (_label(three_ago), "failed"): 1,
        (_label(hour), "ignored"): 1,
    }
    assert drawn(webhooks) == expected
    assert _nonzero(tabled(webhooks)) == expected
    assert re.search(r'<svg [^>]*role="img" aria-labelledby="chart-webhooks-title', webhooks)


def test_a_quiet_day_shows_sentences_not_empty_charts(staff_client):  # noqa: F811
    html = staff_client.get("/admin/ops/").content.decode()

    assert 'class="chart-svg"' not in html
    assert "No paid enrollment waited for the LMS in the last 24 hours." in html
    assert "No Stripe event in the last 24 hours." in html
    assert "<style" not in html and " style=" not in figure(html, "chart-webhooks")


def test_the_charts_are_drawn_once_a_minute_with_the_figures_they_show(
    staff_client,  # noqa: F811
    django_assert_num_queries,
):
    """A second look within the minute reads the charts from the cache: the two aggregates
    are not run again, and the page shows the figures of the first look."""
    from ops import charts

    now = timezone.now()
    _event("evt_first", StripeEvent.Outcome.PROCESSED, now)
    first = charts.last_day_charts(now=now)
    _event("evt_later", StripeEvent.Outcome.FAILED, now)

    with django_assert_num_queries(0):
        assert charts.last_day_charts(now=now) == first
    next_minute = charts.last_day_charts(now=now + timedelta(minutes=1))
    assert next_minute != first  # the next minute counts the failed event too


def test_the_charts_are_drawn_when_the_cache_is_down(redis_down, staff_client):  # noqa: F811
    _event("evt_down", StripeEvent.Outcome.PROCESSED, timezone.now())

    response = staff_client.get("/admin/ops/")

    assert response.status_code == 200
    assert "chart-webhooks" in response.content.decode()
