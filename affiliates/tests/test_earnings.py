"""The daily totals the dashboard reads (affiliates.earnings) against the commission rows."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from affiliates import earnings, services, tasks
from affiliates.models import Commission, EarningsDay
from affiliates.selectors import earnings_by_affiliate
from affiliates.tests.factories import AffiliateFactory, CommissionFactory, sale_key
from affiliates.tests.test_dashboard import QUERY_BUDGET, _history
from common.testing.backends import skip_on_mongodb
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("affiliates:dashboard")
FIGURES = ("sales", "referrals", "pending_cents", "approved_cents", "reversed_cents")

counts_sql_text = skip_on_mongodb(
    "the test reads SQL text and loads 4000 rows, which the MongoDB test server cannot in time",
    proven_by="affiliates/tests/test_query_budgets.py (the cold dashboard's budget)",
)

pauses_at_sql = skip_on_mongodb(
    "the race is set up by pausing at the SQL text of the UPDATE, which MongoDB never sends",
    proven_by=(
        "affiliates/tests/test_concurrency.py::"
        "test_a_refund_landing_inside_a_slow_refresh_is_neither_lost_nor_left_uncounted"
    ),
)


def _daily_totals(affiliate) -> dict:
    """Σ of the affiliate's EarningsDay rows, per currency, named like ``Earnings``."""
    totals: dict = {}
    for day in EarningsDay.objects.filter(affiliate=affiliate):
        figures = totals.setdefault(day.currency, dict.fromkeys(FIGURES, 0))
        figures.setdefault("in_payouts_net_cents", 0)
        for name in FIGURES:
            figures[name] += getattr(day, name)
        figures["in_payouts_net_cents"] += day.paid_cents
    return totals


def _row_totals(affiliate) -> dict:
    """The same figures summed over the commission rows themselves."""
    return {
        e.currency: {name: getattr(e, name) for name in (*FIGURES, "in_payouts_net_cents")}
        for e in earnings_by_affiliate([affiliate.pk])[affiliate.pk]
        if e.sales
    }


def _sale(affiliate, sale_id, *, days_ago=20, sold_at=None, cents=24950, currency="usd"):
    services.record_commission(
        affiliate_id=affiliate.pk,
        sale_id=sale_key(sale_id),
        course_id=CourseFactory().pk,
        buyer_email="buyer@example.com",
        amount_paid_cents=cents,
        currency=currency,
        sold_at=sold_at or timezone.now() - timedelta(days=days_ago),
    )


def test_daily_totals_equal_the_rows_right_after_every_kind_of_write(
    django_capture_on_commit_callbacks, settings
):
    settings.PAYOUT_MINIMUM_CENTS = 1000
    affiliate = AffiliateFactory()
    other = AffiliateFactory()
    writes = [
        ("sale", lambda: _sale(affiliate, 1)),
        ("sale, other day", lambda: _sale(affiliate, 2, days_ago=40)),
        ("sale, other currency", lambda: _sale(affiliate, 3, currency="eur", cents=9900)),
        ("someone else's sale", lambda: _sale(other, 4)),
        ("approval", services.approve_matured_commissions),
        ("partial refund", lambda: services.reverse_commission(
            sale_id=sale_key(1), refunded_cents_total=10000, charged_cents=24950)),
        ("payout", lambda: services.create_payout(
            affiliate_id=affiliate.pk, currency="usd", method="paypal", reference="PP-1",
            created_by=None)),
        ("refund after payout", lambda: services.reverse_commission(
            sale_id=sale_key(2), refunded_cents_total=24950, charged_cents=24950)),
        ("late sale", lambda: _sale(affiliate, 5, days_ago=0)),
        ("full refund before approval", lambda: services.reverse_commission(
            sale_id=sale_key(5), refunded_cents_total=24950, charged_cents=24950)),
    ]  # fmt: skip
    for name, write in writes:
        with django_capture_on_commit_callbacks(execute=True):
            write()

        # The writer counted its change: nothing is left for a reader to do.
        assert not Commission.objects.filter(totals_stale=True).exists(), name
        assert _daily_totals(affiliate) == _row_totals(affiliate), name
        assert _daily_totals(other) == _row_totals(other), name
    usd = _daily_totals(affiliate)["usd"]
    assert usd["reversed_cents"] > 0 and usd["in_payouts_net_cents"] > 0  # the steps happened


def test_refreshing_again_changes_nothing():
    affiliate = AffiliateFactory()
    for sale_id in range(1, 6):
        _sale(affiliate, sale_id, days_ago=sale_id)
    services.reverse_commission(sale_id=sale_key(3), refunded_cents_total=5000, charged_cents=24950)
    # Left stale whether or not the writes' after-commit refresh already ran (it runs at once
    # on MongoDB, where tests have no transaction to defer it).
    Commission.objects.filter(affiliate=affiliate).update(totals_stale=True)
    assert earnings.refresh(affiliate.pk) == 5
    before = list(EarningsDay.objects.filter(affiliate=affiliate).order_by("day").values())

    # Stale flags set again (a refresh that died before clearing them) are recounted, not added.
    Commission.objects.filter(affiliate=affiliate).update(totals_stale=True)
    assert earnings.refresh(affiliate.pk) == 5
    assert earnings.refresh(affiliate.pk) == 0

    assert list(EarningsDay.objects.filter(affiliate=affiliate).order_by("day").values()) == before
    assert _daily_totals(affiliate) == _row_totals(affiliate)


def test_an_older_sum_never_replaces_a_newer_one():
    affiliate = AffiliateFactory()
    _sale(affiliate, 1)
    earnings.refresh(affiliate.pk)
    day = earnings.day_of(Commission.objects.get(sale_id=sale_key(1)).sold_at)
    taken_before_the_refund = earnings.day_sums(affiliate.pk, [day])

    services.reverse_commission(
        sale_id=sale_key(1), refunded_cents_total=24950, charged_cents=24950
    )
    earnings.refresh(affiliate.pk)
    # A slow refresh that summed before the refund writes last.
    earnings.store(affiliate.pk, taken_before_the_refund)

    row = EarningsDay.objects.get(affiliate=affiliate, day=day)
    assert (row.referrals, row.reversed_cents, row.pending_cents) == (0, 2495, 0)


def test_changes_left_uncounted_by_a_crash_are_counted_by_the_next_dashboard_view(client):
    """Here the after-commit refresh never runs (no commit in this test), as when the process
    dies right after the write: the rows stay stale, and the dashboard counts them."""
    affiliate = AffiliateFactory()
    _sale(affiliate, 1)
    _sale(affiliate, 2, days_ago=3)
    services.approve_matured_commissions()
    services.reverse_commission(
        sale_id=sale_key(2), refunded_cents_total=24950, charged_cents=24950
    )
    # What a crash right after commit leaves, on every backend (MongoDB's tests commit, so
    # the after-commit refresh ran): every row stale.
    Commission.objects.update(totals_stale=True)
    assert Commission.objects.filter(totals_stale=True).count() == 2
    client.force_login(affiliate.user)

    dashboard = client.get(DASHBOARD).context["dashboard"]

    [usd] = dashboard.earnings
    assert (usd.sales, usd.referrals, usd.approved_cents, usd.reversed_cents) == (2, 1, 2495, 2495)
    assert not Commission.objects.filter(totals_stale=True).exists()


def _cold_dashboard_queries(client, affiliate, write) -> int:
    """Queries of the first dashboard view right after ``write`` (which retires the cache)."""
    client.force_login(affiliate.user)
    client.get(DASHBOARD)
    write()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(DASHBOARD)
    assert response.status_code == 200
    # Commission rows are read only through the stale-row index and for one page of sales:
    # every other figure comes from the daily totals.
    reads = [q["sql"] for q in queries.captured_queries if '"affiliates_commission"' in q["sql"]]
    assert len(reads) == 2, reads
    assert any('"totals_stale"' in sql for sql in reads), reads
    assert any("LIMIT 25" in sql for sql in reads), reads
    return len(queries)


@pytest.mark.parametrize("kind", ["commission", "approval", "refund", "payout"])
@counts_sql_text
def test_a_cold_dashboard_costs_the_same_queries_with_100_or_4000_commissions(
    client, settings, django_capture_on_commit_callbacks, kind
):
    settings.PAYOUT_MINIMUM_CENTS = 100
    counts = []
    for size in (100, 4000):
        affiliate = AffiliateFactory()
        _history(affiliate, size=size, first_sale_id=10_000_000 * size)
        # Apart from the history (in usd, with a negative carried balance), so it can be paid.
        _sale(affiliate, 1 + size, days_ago=30, currency="eur")

        def write(affiliate=affiliate, size=size):
            with django_capture_on_commit_callbacks(execute=True):
                if kind == "commission":
                    _sale(affiliate, 2 + size)
                elif kind == "approval":
                    assert services.approve_matured_commissions()
                elif kind == "refund":
                    services.reverse_commission(
                        sale_id=sale_key(1 + size), refunded_cents_total=100, charged_cents=24950
                    )
                else:
                    services.approve_matured_commissions()
                    assert services.create_payout(
                        affiliate_id=affiliate.pk, currency="eur", method="paypal",
                        reference=f"PP-{size}", created_by=None,
                    )  # fmt: skip

        counts.append(_cold_dashboard_queries(client, affiliate, write))
        client.logout()

    assert counts[0] == counts[1] <= QUERY_BUDGET


def test_the_command_counts_every_affiliates_uncounted_commissions():
    first, second = AffiliateFactory(), AffiliateFactory()
    _sale(first, 1)
    _sale(second, 2, days_ago=3)
    _sale(second, 3, days_ago=4)  # no commit here, so no after-commit refresh: all stale
    # What a crash right after commit leaves, on every backend (MongoDB's tests commit, so
    # the after-commit refresh ran): every row stale.
    Commission.objects.update(totals_stale=True)
    assert earnings.stale_affiliate_ids() == sorted([first.pk, second.pk])

    out = io.StringIO()
    call_command("refresh_earnings", stdout=out)

    assert "2 affiliate(s), 3 day(s) recomputed." in out.getvalue()
    assert earnings.stale_affiliate_ids() == []
    assert _daily_totals(second) == _row_totals(second)


def test_the_beat_sweep_counts_what_a_crash_left_stale():
    """No dashboard view needed: the periodic task counts the rows a crash left stale."""
    first, second = AffiliateFactory(), AffiliateFactory()
    _sale(first, 1)
    _sale(second, 2, days_ago=3)  # no commit here, so no after-commit refresh: all stale
    # What a crash right after commit leaves, on every backend (MongoDB's tests commit, so
    # the after-commit refresh ran): every row stale.
    Commission.objects.update(totals_stale=True)

    assert tasks.refresh_stale_earnings.delay().get() == 2

    assert earnings.stale_affiliate_ids() == []
    assert _daily_totals(first) == _row_totals(first)
    assert _daily_totals(second) == _row_totals(second)
    assert tasks.refresh_stale_earnings.delay().get() == 0


def test_the_stale_earnings_sweep_is_scheduled(settings):
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "affiliates.tasks.refresh_stale_earnings" in schedule


def test_commissions_and_payouts_imported_from_the_old_system_are_counted(
    django_capture_on_commit_callbacks,
):
    affiliate = AffiliateFactory()
    course = CourseFactory()
    long_ago = timezone.now() - timedelta(days=90)
    with django_capture_on_commit_callbacks(execute=True):
        for sale_id, reversed_ in ((1, False), (2, False), (3, True)):
            services.import_commission(
                affiliate_id=affiliate.pk, sale_id=sale_key(sale_id), course=course,
                buyer_email="old@example.com", sale_amount_cents=10000, currency="usd",
                rate_percent=10, amount_cents=1000, sold_at=long_ago, reversed=reversed_,
            )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        payout, _ = services.import_payout(
            affiliate_id=affiliate.pk, amount_cents=1500, currency="usd", method="paypal",
            reference="OLD-1",
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        services.import_payout(
            affiliate_id=affiliate.pk, amount_cents=1500, currency="usd", method="paypal",
            reference="OLD-1",
        )  # fmt: skip  # a re-run

    assert not Commission.objects.filter(totals_stale=True).exists()
    assert _daily_totals(affiliate) == _row_totals(affiliate)
    assert _daily_totals(affiliate)["usd"]["in_payouts_net_cents"] == 1000
    payout.refresh_from_db()
    assert payout.commissions_claimed == 1


@pauses_at_sql
def test_a_commission_maturing_while_approval_runs_is_not_approved_uncounted(
    django_capture_on_commit_callbacks,
):
    """Another affiliate's matured commission lands between the approval run's look-up of whose
    commissions it approves and its UPDATE: the run must not approve a row of an affiliate it
    then neither recounts nor retires the cached dashboard of."""
    first, late = AffiliateFactory(), AffiliateFactory()
    _sale(first, 1, days_ago=40)
    long_ago = timezone.now() - timedelta(days=40)
    landed = []

    def land_a_sale_before_the_update(execute, sql, params, many, context):
        if not landed and sql.startswith('UPDATE "affiliates_commission"'):
            landed.append(CommissionFactory(affiliate=late, sale_id=sale_key(2), sold_at=long_ago))
        return execute(sql, params, many, context)

    with (
        django_capture_on_commit_callbacks(execute=True),
        connection.execute_wrapper(land_a_sale_before_the_update),
    ):
        services.approve_matured_commissions()

    assert landed
    assert not Commission.objects.filter(
        status=Commission.Status.APPROVED, totals_stale=True
    ).exists()
    assert Commission.objects.get(sale_id=sale_key(1)).status == Commission.Status.APPROVED
