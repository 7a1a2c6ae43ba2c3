"""Real threads against PostgreSQL: the database guards hold when calls truly overlap."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import StaffFactory, UserFactory
from affiliates import selectors, services
from affiliates.models import Affiliate, Commission, Payout
from affiliates.selectors import earnings_by_affiliate, earnings_of
from affiliates.tests.factories import AffiliateFactory, CommissionFactory
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite serialises every writer)")


def _race(call, threads=THREADS):
    """Run ``call`` in ``threads`` threads released at the same instant; their results."""
    barrier = threading.Barrier(threads)

    def run(_):
        try:
            barrier.wait()
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, range(threads)))


def test_duplicate_fulfilment_records_one_commission():
    affiliate = AffiliateFactory()
    course = CourseFactory()
    sold_at = timezone.now()

    results = _race(
        lambda: (
            services.record_commission(
                affiliate_id=affiliate.pk,
                sale_id=99,
                course=course,
                buyer_email="buyer@example.com",
                amount_paid_cents=24950,
                currency="usd",
                sold_at=sold_at,
            ).pk
        )
    )

    assert Commission.objects.count() == 1
    assert set(results) == {Commission.objects.get().pk}


def test_concurrent_payouts_pay_each_commission_once(settings):
    settings.PAYOUT_MINIMUM_CENTS = 1000
    affiliate = AffiliateFactory()
    for _ in range(20):
        CommissionFactory(
            affiliate=affiliate,
            amount_cents=500,
            status=Commission.Status.APPROVED,
            approved_at=timezone.now(),
        )
    staff = StaffFactory()

    results = _race(
        lambda: services.create_payout(
            affiliate_id=affiliate.pk,
            currency="usd",
            method="paypal",
            reference="batch",
            created_by=staff,
        )
    )

    payouts = [payout for payout in results if payout is not None]
    assert len(payouts) == 1
    assert Payout.objects.get().amount_cents == 10_000
    assert Commission.objects.filter(payout=payouts[0].pk).count() == 20
    assert earnings_of(affiliate.pk, "usd").balance_cents == 0


def test_overlapping_payouts_deduct_a_carried_negative_balance_once(settings, monkeypatch):
    """Two payouts that claim different commissions at the same moment (staff clicking while the
    approval sweep runs) must not both deduct the same carried debt."""
    settings.PAYOUT_MINIMUM_CENTS = 100
    affiliate = AffiliateFactory()
    CommissionFactory(affiliate=affiliate, sale_id=1, amount_cents=1000, status="approved")
    services.create_payout(
        affiliate_id=affiliate.pk, currency="usd", method="paypal", reference="1", created_by=None
    )
    services.reverse_commission(sale_id=1, refunded_cents_total=24950, sale_amount_cents=24950)
    for n in range(2):
        CommissionFactory(
            affiliate=affiliate, sale_id=100 + n, amount_cents=3000, status="approved"
        )
    # Each racer sees one of the two new commissions, and neither claims before both have read.
    original = selectors.payable_commission_ids
    both_read = threading.Barrier(2)
    lock = threading.Lock()
    shares = {}

    def one_share_each(**kwargs):
        ids = sorted(original(**kwargs))
        with lock:
            first_read = threading.get_ident() not in shares
            if first_read:
                shares[threading.get_ident()] = ids[len(shares)]
        if first_read:
            both_read.wait(timeout=10)
        share = shares[threading.get_ident()]
        return [share] if share in ids else ids

    monkeypatch.setattr(selectors, "payable_commission_ids", one_share_each)

    results = _race(
        lambda: services.create_payout(
            affiliate_id=affiliate.pk,
            currency="usd",
            method="paypal",
            reference="2",
            created_by=None,
        ),
        threads=2,
    )

    amounts = sorted(payout.amount_cents for payout in results if payout is not None)
    assert amounts == [2000, 3000]  # the 1000 debt taken once, from whichever came first
    assert earnings_of(affiliate.pk, "usd").balance_cents == 0


def test_double_submitted_join_creates_one_affiliate():
    user = UserFactory()

    results = _race(
        lambda: (
            services.join_affiliate_programme(
                user=user, payout_method="paypal", paypal_email="a@b.com", accepted_terms=True
            ).pk
        )
    )

    assert Affiliate.objects.count() == 1
    assert set(results) == {Affiliate.objects.get().pk}


def test_daily_totals_stay_exact_when_sales_and_refunds_of_one_day_overlap():
    """Each thread records a sale and refunds another, all on one affiliate and day, each
    refreshing the day's totals after its commit while the others write: whatever the
    interleaving, the stored day equals its rows and no change is left uncounted."""
    from affiliates import earnings
    from affiliates.models import EarningsDay

    affiliate = AffiliateFactory()
    course = CourseFactory()
    sold_at = timezone.now()

    def sale(sale_id):
        services.record_commission(
            affiliate_id=affiliate.pk,
            sale_id=sale_id,
            course=course,
            buyer_email="buyer@example.com",
            amount_paid_cents=10000,
            currency="usd",
            sold_at=sold_at,
        )

    for sale_id in range(100, 100 + THREADS):
        sale(sale_id)
    counter = iter(range(THREADS))
    lock = threading.Lock()

    def sell_and_refund():
        with lock:
            n = next(counter)
        sale(n)
        services.reverse_commission(
            sale_id=100 + n, refunded_cents_total=2500 * (1 + n % 4), sale_amount_cents=10000
        )

    _race(sell_and_refund)

    assert not Commission.objects.filter(totals_stale=True).exists()
    [day] = EarningsDay.objects.filter(affiliate=affiliate)
    [rows] = earnings_by_affiliate([affiliate.pk])[affiliate.pk]
    assert (day.sales, day.referrals, day.pending_cents, day.reversed_cents) == (
        rows.sales,
        rows.referrals,
        rows.pending_cents,
        rows.reversed_cents,
    )
    assert day.sales == 2 * THREADS and earnings.refresh(affiliate.pk) == 0
