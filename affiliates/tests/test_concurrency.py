"""Real threads against PostgreSQL: the database guards hold when calls truly overlap."""

import threading
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.tests.factories import StaffFactory, UserFactory
from affiliates import selectors, services
from affiliates.models import Affiliate, Commission, EarningsDay, Payout
from affiliates.selectors import earnings_by_affiliate, earnings_of
from affiliates.tests.factories import AffiliateFactory, CommissionFactory, sale_key
from common.testing.backends import skip_on_standalone_mongodb
from common.testing.concurrency import postgresql_only, race  # noqa: F401 - a fixture
from courses.tests.factories import CourseFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgresql_only")]
THREADS = 8


def test_duplicate_fulfilment_records_one_commission():
    affiliate = AffiliateFactory()
    course = CourseFactory()
    sold_at = timezone.now()

    results = race(
        lambda: (
            services.record_commission(
                affiliate_id=affiliate.pk,
                sale_id=sale_key(99),
                course_id=course.pk,
                buyer_email="buyer@example.com",
                amount_paid_cents=24950,
                currency="usd",
                sold_at=sold_at,
            ).pk
        ),
        THREADS,
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

    results = race(
        lambda: services.create_payout(
            affiliate_id=affiliate.pk,
            currency="usd",
            method="paypal",
            reference="batch",
            created_by=staff,
        ),
        THREADS,
    )

    payouts = [payout for payout in results if payout is not None]
    assert len(payouts) == 1
    assert Payout.objects.get().amount_cents == 10_000
    assert Commission.objects.filter(payout=payouts[0].pk).count() == 20
    assert earnings_of(affiliate.pk, "usd").balance_cents == 0


def test_overlapping_payouts_deduct_a_carried_negative_balance_once(settings, monkeypatch):
    """Two payouts that claim different commissions at the same moment (staff clicking while the
    approval sweep runs) must not both deduct the same carried debt. On a MongoDB replica set
    the later one's transaction fails with a write conflict and runs again (retry_transient);
    should it keep losing, staff get a clear error and it changed nothing."""
    skip_on_standalone_mongodb(
        "no transaction, so a payout in flight is read half-written (its provisional amount) by "
        "the other one working out the carried balance (docs/mongodb.md)",
        proven_by="affiliates/tests/test_payouts.py::"
        "test_refund_after_payout_is_a_negative_balance_deducted_from_the_next_payout",
    )
    settings.PAYOUT_MINIMUM_CENTS = 100
    affiliate = AffiliateFactory()
    CommissionFactory(
        affiliate=affiliate, sale_id=sale_key(1), amount_cents=1000, status="approved"
    )
    services.create_payout(
        affiliate_id=affiliate.pk, currency="usd", method="paypal", reference="1", created_by=None
    )
    services.reverse_commission(
        sale_id=sale_key(1), refunded_cents_total=24950, charged_cents=24950
    )
    for n in range(2):
        CommissionFactory(
            affiliate=affiliate, sale_id=sale_key(100 + n), amount_cents=3000, status="approved"
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

    results = race(
        lambda: services.create_payout(
            affiliate_id=affiliate.pk,
            currency="usd",
            method="paypal",
            reference="2",
            created_by=None,
        ),
        2,
        return_exceptions=True,
    )

    payouts = [payout for payout in results if isinstance(payout, Payout)]
    refused = [error for error in results if isinstance(error, ValidationError)]
    assert len(payouts) + len(refused) == 2, results
    amounts = sorted(payout.amount_cents for payout in payouts)
    stored = list(Payout.objects.values_list("sequence", "amount_cents"))
    if not refused:
        # The 1000 debt taken once, from whichever came first.
        assert amounts == [2000, 3000], stored
        assert earnings_of(affiliate.pk, "usd").balance_cents == 0
    else:
        # The refused one changed nothing: its commission is still approved and unpaid.
        assert refused[0].messages == [
            "Another payout for this affiliate is being made; try again."
        ]
        assert amounts == [2000], stored
        assert len(stored) == 2
        assert Commission.objects.filter(status="approved", payout=None).count() == 1
        assert earnings_of(affiliate.pk, "usd").balance_cents == 3000


def test_double_submitted_join_creates_one_affiliate():
    user = UserFactory()

    results = race(
        lambda: (
            services.join_affiliate_programme(
                user=user, payout_method="paypal", paypal_email="a@b.com", accepted_terms=True
            ).pk
        ),
        THREADS,
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
            sale_id=sale_key(sale_id),
            course_id=course.pk,
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
            sale_id=sale_key(100 + n), refunded_cents_total=2500 * (1 + n % 4), charged_cents=10000
        )

    race(sell_and_refund, THREADS)

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


def _paused_refresh(affiliate_id: int, *, before):
    """Start ``earnings.refresh`` in a thread that stops just before its first UPDATE of the
    model ``before``; returns (release event, thread, patch to stop once it ended). Patched at
    the ORM, not the SQL, so the same pause exists on every backend."""
    from affiliates import earnings

    paused, release = threading.Event(), threading.Event()
    update = QuerySet.update
    slow: dict[str, int] = {}

    def hold(queryset, *args, **kwargs):
        if (
            threading.get_ident() == slow.get("thread")
            and queryset.model is before
            and not paused.is_set()
        ):
            paused.set()
            assert release.wait(60), "never released"
        return update(queryset, *args, **kwargs)

    def run():
        slow["thread"] = threading.get_ident()
        try:
            earnings.refresh(affiliate_id)
        finally:
            connection.close()

    patch = mock.patch.object(QuerySet, "update", hold)
    patch.start()
    thread = threading.Thread(target=run)
    thread.start()
    assert paused.wait(60), "the refresh never reached the statement"
    return release, thread, patch


def _assert_day_equals_rows(affiliate):
    from affiliates.models import EarningsDay

    [day] = EarningsDay.objects.filter(affiliate=affiliate)
    [rows] = earnings_by_affiliate([affiliate.pk])[affiliate.pk]
    assert (day.sales, day.referrals, day.pending_cents, day.reversed_cents) == (
        rows.sales,
        rows.referrals,
        rows.pending_cents,
        rows.reversed_cents,
    )


def _crash_refreshes():
    """As if the process died right after the write's commit: its after-commit refresh fails
    at its first step (the write stands; the rows stay stale)."""
    return mock.patch("affiliates.earnings.refresh", side_effect=RuntimeError("the process died"))


@pytest.mark.parametrize(
    ("pause_before", "writers_refresh_dies"),
    [
        # Summed before the refund, stored after the refund's own refresh: must not win.
        (EarningsDay, False),
        # Summed before the refund, clearing flags after it: must not mark the refund counted.
        (Commission, True),
    ],
)
def test_a_refund_landing_inside_a_slow_refresh_is_neither_lost_nor_left_uncounted(
    pause_before, writers_refresh_dies
):
    """A refresh is held at one step while a refund of the same day commits (its own refresh
    running to the end, or dying); then the slow one finishes. The day ends with the refund
    counted, or with the refunded row still marked stale for the next reader to count."""
    from affiliates import earnings

    affiliate = AffiliateFactory()
    services.record_commission(
        affiliate_id=affiliate.pk,
        sale_id=sale_key(1),
        course_id=CourseFactory().pk,
        buyer_email="buyer@example.com",
        amount_paid_cents=10000,
        currency="usd",
        sold_at=timezone.now(),
    )  # counted by its own refresh (no transaction here: on_commit runs at once)
    Commission.objects.filter(sale_id=sale_key(1)).update(
        totals_stale=True
    )  # the slow one has work
    release, slow, patch = _paused_refresh(affiliate.pk, before=pause_before)

    if writers_refresh_dies:
        with _crash_refreshes():
            services.reverse_commission(
                sale_id=sale_key(1), refunded_cents_total=10000, charged_cents=10000
            )
    else:
        services.reverse_commission(
            sale_id=sale_key(1), refunded_cents_total=10000, charged_cents=10000
        )
    release.set()
    slow.join(60)
    patch.stop()

    assert not slow.is_alive()
    if writers_refresh_dies:
        assert Commission.objects.get(sale_id=sale_key(1)).totals_stale
        earnings.refresh(affiliate.pk)  # what the next dashboard view does
    assert not Commission.objects.filter(totals_stale=True).exists()
    _assert_day_equals_rows(affiliate)
    assert earnings_by_affiliate([affiliate.pk])[affiliate.pk][0].referrals == 0
