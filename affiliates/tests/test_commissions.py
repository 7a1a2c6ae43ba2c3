from datetime import timedelta

import pytest
from django.utils import timezone

from affiliates import services, tasks
from affiliates.models import Affiliate, Commission
from affiliates.tests.factories import AffiliateFactory, CommissionFactory, sale_key
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


def _record(affiliate, *, sale_id=1, amount_paid_cents=24950, buyer_email="john@example.com"):
    return services.record_commission(
        affiliate_id=affiliate.pk,
        sale_id=sale_key(sale_id),
        course_id=CourseFactory().pk,
        buyer_email=buyer_email,
        amount_paid_cents=amount_paid_cents,
        currency="USD",
        sold_at=timezone.now(),
    )


@pytest.mark.parametrize(
    ("rate", "paid", "expected"),
    [
        (10, 24950, 2495),
        (10, 4995, 500),  # 499.5 → 500: half up
        (10, 4994, 499),  # 499.4 → 499
        (15, 3333, 500),  # 499.95 → 500
        (25, 1, 0),  # 0.25 → 0
        (100, 49900, 49900),
        (0, 49900, 0),
    ],
)
def test_commission_is_the_rate_of_the_amount_paid_rounded_half_up(rate, paid, expected):
    affiliate = AffiliateFactory(rate_percent=rate)

    commission = _record(affiliate, amount_paid_cents=paid)

    assert commission.amount_cents == expected
    assert commission.rate_percent == rate
    assert commission.sale_amount_cents == paid
    assert commission.status == Commission.Status.PENDING
    assert commission.currency == "usd"


def test_commission_keeps_the_rate_it_was_earned_at():
    affiliate = AffiliateFactory(rate_percent=10)
    before = _record(affiliate, sale_id=sale_key(1))
    Affiliate.objects.filter(pk=affiliate.pk).update(rate_percent=20)

    after = _record(affiliate, sale_id=sale_key(2))

    before.refresh_from_db()
    assert (before.rate_percent, before.amount_cents) == (10, 2495)
    assert (after.rate_percent, after.amount_cents) == (20, 4990)


def test_free_enrollment_from_a_full_grant_earns_nothing():
    affiliate = AffiliateFactory()

    assert _record(affiliate, amount_paid_cents=0) is None
    assert not Commission.objects.exists()


def test_recording_the_same_sale_twice_keeps_one_commission():
    affiliate = AffiliateFactory()

    first = _record(affiliate, sale_id=sale_key(42), amount_paid_cents=24950)
    replay = _record(affiliate, sale_id=sale_key(42), amount_paid_cents=99900)

    assert replay.pk == first.pk
    assert replay.amount_cents == 2495
    assert Commission.objects.count() == 1


def test_suspended_affiliate_earns_no_new_commission():
    affiliate = AffiliateFactory(status=Affiliate.Status.SUSPENDED)

    assert _record(affiliate) is None
    assert not Commission.objects.exists()


def test_buyer_email_is_stored_masked_only():
    commission = _record(AffiliateFactory(), buyer_email="John.Smith@Example.com")

    assert commission.buyer_email_masked == "j***@example.com"
    stored = Commission.objects.filter(pk=commission.pk).values().get()
    assert not any("john.smith" in str(value).lower() for value in stored.values())


def test_unknown_currency_is_refused():
    with pytest.raises(ValueError, match="currency"):
        services.record_commission(
            affiliate_id=AffiliateFactory().pk,
            sale_id=sale_key(1),
            course_id=CourseFactory().pk,
            buyer_email="a@b.com",
            amount_paid_cents=100,
            currency="xxx",
            sold_at=timezone.now(),
        )


# --- refunds -------------------------------------------------------------------------------


def _reverse(sale_id, refunded, sale_amount=24950):
    services.reverse_commission(
        sale_id=sale_key(sale_id), refunded_cents_total=refunded, charged_cents=sale_amount
    )
    return Commission.objects.get(sale_id=sale_key(sale_id))


def test_full_refund_reverses_the_whole_commission():
    CommissionFactory(sale_id=sale_key(7), amount_cents=2495)

    commission = _reverse(7, 24950)

    assert commission.reversed_cents == 2495
    assert commission.net_cents == 0
    assert commission.status == Commission.Status.REVERSED


def test_partial_refund_reverses_proportionally_rounded_half_up():
    CommissionFactory(sale_id=sale_key(7), amount_cents=2495)

    half = _reverse(7, 12475)
    assert (half.reversed_cents, half.status) == (1248, Commission.Status.PENDING)  # 1247.5 → 1248

    third = _reverse(7, 12475 + 8317)  # cumulative: 20792 of 24950
    assert third.reversed_cents == 2079  # 2079.17 → 2079
    assert third.status == Commission.Status.PENDING


def test_replayed_refunds_change_nothing():
    CommissionFactory(sale_id=sale_key(7), amount_cents=2495)

    for _ in range(3):
        commission = _reverse(7, 10000)

    assert commission.reversed_cents == 1000


def test_out_of_order_refunds_keep_the_largest_cumulative_share():
    CommissionFactory(sale_id=sale_key(7), amount_cents=2495)

    later = _reverse(7, 20000)
    earlier_arriving_late = _reverse(7, 10000)
    assert earlier_arriving_late.reversed_cents == later.reversed_cents == 2000

    full = _reverse(7, 24950)
    replayed_partial = _reverse(7, 10000)
    assert full.status == replayed_partial.status == Commission.Status.REVERSED
    assert replayed_partial.reversed_cents == 2495


def test_refund_above_the_sale_amount_reverses_no_more_than_the_commission():
    CommissionFactory(sale_id=sale_key(7), amount_cents=2495)

    commission = _reverse(7, 99999)

    assert commission.reversed_cents == 2495


def test_refund_of_an_unattributed_sale_is_a_no_op():
    services.reverse_commission(sale_id=sale_key(404), refunded_cents_total=100, charged_cents=100)

    assert not Commission.objects.exists()


def test_full_refund_of_a_zero_commission_marks_it_reversed():
    CommissionFactory(sale_id=sale_key(7), sale_amount_cents=1, rate_percent=25, amount_cents=0)

    commission = _reverse(7, 1, sale_amount=1)

    assert commission.status == Commission.Status.REVERSED


# --- approval ------------------------------------------------------------------------------


def test_commissions_are_approved_once_the_refund_window_has_passed(settings):
    settings.COMMISSION_REFUND_WINDOW_DAYS = 14
    now = timezone.now().replace(microsecond=0)  # stored alike with milliseconds (MongoDB)
    matured = CommissionFactory(sold_at=now - timedelta(days=14, seconds=1))
    fresh = CommissionFactory(sold_at=now - timedelta(days=13))
    refunded = CommissionFactory(
        sold_at=now - timedelta(days=30), status=Commission.Status.REVERSED
    )

    count = services.approve_matured_commissions(now=now)

    assert count == 1
    for commission in (matured, fresh, refunded):
        commission.refresh_from_db()
    assert (matured.status, matured.approved_at) == (Commission.Status.APPROVED, now)
    assert fresh.status == Commission.Status.PENDING
    assert refunded.status == Commission.Status.REVERSED
    assert services.approve_matured_commissions(now=now) == 0


def test_partly_refunded_commission_is_approved_for_what_is_left():
    commission = CommissionFactory(
        sale_id=sale_key(7), amount_cents=2495, sold_at=timezone.now() - timedelta(days=20)
    )
    _reverse(7, 12475)

    tasks.approve_matured_commissions.delay().get()

    commission.refresh_from_db()
    assert commission.status == Commission.Status.APPROVED
    assert commission.net_cents == 1247


def test_approval_runs_periodically_from_celery_beat(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE.values()

    assert "affiliates.tasks.approve_matured_commissions" in [entry["task"] for entry in schedule]
