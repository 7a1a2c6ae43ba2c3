"""The dashboard's charts draw the figures the affiliate earned, read back from the page."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from affiliates import services
from affiliates.models import ReferralClick
from affiliates.selectors import chart_months, chart_weeks
from affiliates.tests.factories import AffiliateFactory, sale_key
from affiliates.tests.test_dashboard import _history, large_history
from affiliates.tests.test_earnings import _sale
from common.testing.chart_reading import drawn, figure, tabled

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("affiliates:dashboard")


def test_the_earnings_chart_draws_each_months_commissions_by_status(client, settings):
    settings.PAYOUT_MINIMUM_CENTS = 100
    affiliate = AffiliateFactory()
    this_month, last_month = chart_months(datetime.now(UTC).date())[-1:-3:-1]
    now = datetime.now(UTC)
    early = datetime.combine(last_month + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    _sale(affiliate, 1, sold_at=early, cents=10000)  # 10.00, paid out, then half refunded
    _sale(affiliate, 2, sold_at=early, cents=20000)  # 20.00, paid out
    services.approve_matured_commissions(now=now + timedelta(days=60))
    services.create_payout(
        affiliate_id=affiliate.pk, currency="usd", method="paypal", reference="PP-1",
        created_by=None,
    )  # fmt: skip
    services.reverse_commission(sale_id=sale_key(1), refunded_cents_total=5000, charged_cents=10000)
    _sale(affiliate, 3, sold_at=now, cents=30000)  # 30.00 pending
    _sale(affiliate, 4, sold_at=now, cents=40000)  # 40.00, refunded in full
    services.reverse_commission(
        sale_id=sale_key(4), refunded_cents_total=40000, charged_cents=40000
    )
    _sale(affiliate, 5, sold_at=now, cents=9900, currency="eur")
    client.force_login(affiliate.user)

    html = client.get(DASHBOARD).text

    usd = figure(html, "chart-earnings-usd")
    last, this = last_month.strftime("%b %Y"), this_month.strftime("%b %Y")
    expected = {
        (last, "paid"): 2500,  # 1000 - 500 + 2000
        (last, "reversed"): 500,
        (this, "pending"): 3000,
        (this, "reversed"): 4000,
    }
    assert drawn(usd) == expected
    table = tabled(usd)
    assert {key: value for key, value in table.items() if value} == expected
    assert len(table) == 12 * 4  # every month of the year is in the table, zeros too
    assert "<title>" + this + ", Pending: $30.00</title>" in usd
    assert drawn(figure(html, "chart-earnings-eur")) == {(this, "pending"): 990}


def test_the_activity_chart_draws_clicks_and_paid_referrals_per_week(client):
    affiliate = AffiliateFactory()
    today = datetime.now(UTC).date()
    this_week, last_week = chart_weeks(today)[-1], chart_weeks(today)[-2]
    for n, day in enumerate([last_week, last_week + timedelta(days=1), this_week, today]):
        ReferralClick.objects.create(affiliate=affiliate, visitor_key=f"v{n}", day=day)
    for n in range(3):
        ReferralClick.objects.create(
            affiliate=affiliate, visitor_key=f"old{n}", day=date(2001, 1, 1)
        )
    noon = datetime.combine(last_week, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    _sale(affiliate, 1, sold_at=noon, cents=10000)
    _sale(affiliate, 2, sold_at=noon, cents=10000)
    services.reverse_commission(
        sale_id=sale_key(2), refunded_cents_total=10000, charged_cents=10000
    )
    client.force_login(affiliate.user)

    html = client.get(DASHBOARD).text

    activity = figure(html, "chart-activity")
    this_label, last_label = this_week.strftime("%d %b"), last_week.strftime("%d %b")
    expected = {
        (last_label, "clicks"): 2,
        (last_label, "sales"): 1,  # the sale refunded in full is no paid referral
        (this_label, "clicks"): 2,
    }
    assert drawn(activity) == expected
    assert {key: value for key, value in tabled(activity).items() if value} == expected
    assert '<span class="stat">7</span> clicks' in html  # the total counts every week


def test_a_new_affiliate_sees_no_empty_charts_but_a_word_to_start(client):
    affiliate = AffiliateFactory()
    client.force_login(affiliate.user)

    html = client.get(DASHBOARD).text

    assert "<svg" not in html
    assert "No clicks or sales in the last weeks yet" in html
    assert "No referred sales yet." in html


def test_the_charts_are_named_pictures_with_their_tables_and_nothing_inline(client):
    affiliate = AffiliateFactory()
    _sale(affiliate, 1, sold_at=datetime.now(UTC), cents=10000)
    ReferralClick.objects.create(affiliate=affiliate, visitor_key="v", day=date.today())
    client.force_login(affiliate.user)

    html = client.get(DASHBOARD).text

    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # aria-labelledby must find the chart's own title
    for slug in ("chart-earnings-usd", "chart-activity"):
        shown = figure(html, slug)
        assert re.search(rf'<svg [^>]*role="img" aria-labelledby="{slug}-title {slug}-desc"', shown)
        assert f'<title id="{slug}-title">' in shown and f'<desc id="{slug}-desc">' in shown
        assert "<caption>" in shown and '<th scope="row">' in shown
    assert " style=" not in html and "<style" not in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))


@large_history
def test_a_warm_dashboard_with_charts_keeps_its_query_budget(client, django_assert_max_num_queries):
    affiliate = AffiliateFactory()
    _history(affiliate, size=400)
    client.force_login(affiliate.user)
    client.get(DASHBOARD)

    # Session, user with affiliate: the charts come from the cache with the figures.
    with django_assert_max_num_queries(2):
        html = client.get(DASHBOARD).text

    assert 'id="chart-earnings-usd"' in html and 'id="chart-activity"' in html


def test_a_click_redraws_the_activity_chart(client):
    affiliate = AffiliateFactory()
    _sale(affiliate, 1, sold_at=datetime.now(UTC), cents=10000)
    client.force_login(affiliate.user)
    this_week = chart_weeks(datetime.now(UTC).date())[-1].strftime("%d %b")
    assert (this_week, "clicks") not in drawn(figure(client.get(DASHBOARD).text, "chart-activity"))

    services.record_referral_click(affiliate_id=affiliate.pk, visitor_key="new", day=date.today())

    now_drawn = drawn(figure(client.get(DASHBOARD).text, "chart-activity"))
    assert now_drawn[(this_week, "clicks")] == 1
