"""The bench seed writes the affiliate's daily totals as the services would: the dashboard the
bench measures shows the same figures as the commission rows."""

import pytest
from django.db import connection

from affiliates import earnings
from affiliates.models import Commission, EarningsDay, Payout
from affiliates.selectors import earnings_by_affiliate
from bench import seed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "the bench (and its seed, written in PostgreSQL's SQL) runs on PostgreSQL only: no "
            "numbers on the MongoDB emulator (issue 16); the PostgreSQL run of this test checks it"
        )


def _daily_totals(affiliate_id: int) -> list[tuple]:
    return sorted(
        EarningsDay.objects.filter(affiliate_id=affiliate_id).values_list(
            "currency", "day", "sales", "referrals", "pending_cents", "approved_cents",
            "paid_cents", "reversed_cents", "stamp",
        )
    )  # fmt: skip


def test_seeded_sales_come_with_their_daily_totals_and_payout_counts():
    seed._seed_courses(6)
    affiliate = seed._seed_affiliate()
    seed.add_affiliate_sales(affiliate, up_to=400, clicks_per_commission=1)
    seed.add_affiliate_sales(affiliate, up_to=700, clicks_per_commission=1)  # grows in place

    assert not Commission.objects.filter(totals_stale=True).exists()
    seeded = _daily_totals(affiliate.pk)
    # What the services' refresh computes from the same rows.
    Commission.objects.filter(affiliate=affiliate).update(totals_stale=True)
    EarningsDay.objects.filter(affiliate=affiliate).delete()
    earnings.refresh(affiliate.pk)
    assert seeded == _daily_totals(affiliate.pk)
    assert sum(row[2] for row in seeded) == 700
    [usd, eur] = sorted(
        earnings_by_affiliate([affiliate.pk])[affiliate.pk], key=lambda e: e.currency != "usd"
    )
    assert usd.in_payouts_net_cents > 0 and eur.in_payouts_net_cents > 0
    for payout in Payout.objects.filter(affiliate=affiliate):
        assert payout.commissions_claimed == payout.commissions.count()
