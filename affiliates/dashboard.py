"""The affiliate dashboard, through its cache (``dashboard_cache``).

Not a selector: on a miss it writes. It brings the affiliate's daily totals up to date
(``earnings.refresh``, one query when the writers already did) and stores what it computed in
the cache; the figures themselves are read by ``selectors``. The views store the rendered
history tables and chart under the keys it hands them.
"""

from collections import defaultdict
from datetime import date, timedelta

from django.utils import timezone

from . import dashboard_cache, earnings, selectors
from .models import Affiliate
from .selectors import Clicks, Dashboard, WeekActivity


def click_figures(affiliate_id: int, *, today: date | None = None) -> Clicks:
    """Clicks over the whole history and per week: those of settled days (before yesterday,
    which no click can join any more) cached once a day, plus the last two days' counted now.

    A settled day's count never changes, so a new day's settled figures are an earlier day's
    (the latest cached in the last week) plus the days settled since: a query over a few days
    of clicks. Only with none of them cached are all the settled clicks counted."""
    recent_since = (today or timezone.localdate()) - timedelta(days=1)
    keys = {
        dashboard_cache.settled_clicks_key(affiliate_id, recent_since - timedelta(days=n)): n
        for n in range(dashboard_cache.SETTLED_CLICKS_DAYS)
    }
    cached = dashboard_cache.get_many(*keys)
    if cached:
        key = min(cached, key=keys.__getitem__)
        settled = defaultdict(int, cached[key])
        if keys[key]:
            since = recent_since - timedelta(days=keys[key])
            for week, n in selectors.settled_clicks_by_week(
                affiliate_id, since=since, before=recent_since
            ).items():
                settled[week] += n
    else:
        settled = selectors.settled_clicks_by_week(affiliate_id, before=recent_since)
    if not cached or keys[key]:
        dashboard_cache.put(
            next(iter(keys)), dict(settled), timeout=dashboard_cache.SETTLED_CLICKS_SECONDS
        )
    by_week = defaultdict(int, settled)
    for day, n in selectors.recent_clicks_by_day(affiliate_id, since=recent_since).items():
        by_week[day - timedelta(days=day.weekday())] += n
    return Clicks(total=sum(by_week.values()), by_week=dict(by_week))


def affiliate_dashboard(
    *, affiliate: Affiliate, page: str | int | None, keys: dashboard_cache.Keys | None
) -> Dashboard:
    """Everything the dashboard shows, whatever the affiliate's history, from the cache under
    ``keys`` (the current versions: ``dashboard_cache.page``; None when the cache is down)
    when it is warm: one round trip for the figures and the rendered tables. The sales page's
    query runs only when its table is rendered."""
    cached = {}
    if keys is not None:
        cached = dashboard_cache.get_many(
            keys.summary,
            keys.clicks,
            keys.history(selectors.page_number(page)),
            keys.activity,
        )
    summary = keys and cached.get(keys.summary)
    if summary is None:
        earnings.refresh(affiliate.pk)
        summary = selectors.dashboard_summary(affiliate)
        dashboard_cache.put(keys and keys.summary, summary)
    clicks = keys and cached.get(keys.clicks)
    if clicks is None:
        clicks = click_figures(affiliate.pk)
        dashboard_cache.put(keys and keys.clicks, clicks)
    sales_page = selectors.sales_page(affiliate, sales_count=summary.sales_count, page=page)
    history_key = keys and keys.history(sales_page.number)
    return Dashboard(
        affiliate=affiliate,
        clicks=clicks.total,
        earnings=summary.earnings,
        payouts=summary.payouts,
        sales=sales_page,
        months=summary.months,
        weeks=[
            WeekActivity(
                week=week,
                clicks=clicks.by_week.get(week, 0),
                referrals=summary.referrals_by_week.get(week, 0),
            )
            for week in selectors.chart_weeks(selectors.utc_today())
        ],
        history_html=cached.get(history_key),
        history_key=history_key,
        activity_html=keys and cached.get(keys.activity),
        activity_key=keys and keys.activity,
    )
