"""The dashboard's charts, drawn from the figures it shows (``common.charts``)."""

from functools import partial

from django.utils.safestring import SafeString

from common import charts
from common.money import format_money

from .selectors import Dashboard

EARNINGS_SERIES = (
    charts.Series("pending", "Pending"),
    charts.Series("approved", "Approved"),
    charts.Series("paid", "Paid"),
    charts.Series("reversed", "Reversed"),
)
ACTIVITY_SERIES = (charts.Series("clicks", "Clicks"), charts.Series("sales", "Paid referrals"))


def earnings_charts(dashboard: Dashboard) -> list[SafeString]:
    """One chart per currency: each month's commissions, stacked by where their money is now."""
    return [
        charts.render(
            charts.BarChart(
                slug=f"chart-earnings-{currency}",
                title=f"Earnings per month ({currency.upper()})",
                description=(
                    f"Commission on the sales of each of the last {len(months)} months, by "
                    "status: pending, approved, paid and reversed by refunds."
                ),
                category_label="Month",
                categories=[month.month.strftime("%b %Y") for month in months],
                series=EARNINGS_SERIES,
                values=[
                    (m.pending_cents, m.approved_cents, m.paid_cents, m.reversed_cents)
                    for m in months
                ],
                stacked=True,
                format_value=partial(format_money, currency=currency),
                label_every=2,
            ),
            empty_message="No sales in these months.",
        )
        for currency, months in dashboard.months.items()
    ]


def activity_chart(dashboard: Dashboard) -> SafeString:
    weeks = dashboard.weeks
    return charts.render(
        charts.BarChart(
            slug="chart-activity",
            title="Clicks and paid referrals per week",
            description=(
                f"Clicks on your links and the sales they brought, in each of the last "
                f"{len(weeks)} weeks (a sale refunded in full is no paid referral)."
            ),
            category_label="Week of",
            categories=[week.week.strftime("%d %b") for week in weeks],
            series=ACTIVITY_SERIES,
            values=[(week.clicks, week.referrals) for week in weeks],
            label_every=2,
        ),
        empty_message="No clicks or sales in the last weeks yet: share your link.",
    )
