from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from affiliates import services
from affiliates.models import Commission, Payout
from affiliates.selectors import earnings_of
from affiliates.tests.factories import AffiliateFactory, CommissionFactory, sale_key
from common.testing.concurrency import RunBefore

pytestmark = pytest.mark.django_db

APPROVED = Commission.Status.APPROVED


def _approved(affiliate, amount_cents, **extra):
    return CommissionFactory(
        affiliate=affiliate,
        amount_cents=amount_cents,
        status=APPROVED,
        approved_at=timezone.now(),
        **extra,
    )


def _pay(affiliate, currency="usd", reference="PP-1"):
    return services.create_payout(
        affiliate_id=affiliate.pk,
        currency=currency,
        method="paypal",
        reference=reference,
        created_by=StaffFactory(),
    )


def test_payout_gathers_approved_commissions_and_marks_them_paid(settings):
    settings.PAYOUT_MINIMUM_CENTS = 5000
    affiliate = AffiliateFactory()
    first, second = _approved(affiliate, 3000), _approved(affiliate, 2500)
    pending = CommissionFactory(affiliate=affiliate, amount_cents=9000)
    someone_elses = _approved(AffiliateFactory(), 9000)

    payout = _pay(affiliate, reference="  PAYPAL   batch 7 ")

    assert (payout.amount_cents, payout.currency, payout.sequence) == (5500, "usd", 1)
    assert payout.reference == "PAYPAL batch 7"
    for commission in (first, second, pending, someone_elses):
        commission.refresh_from_db()
    assert {first.payout_id, second.payout_id} == {payout.pk}
    assert first.status == second.status == Commission.Status.PAID
    assert (first.paid_cents, second.paid_cents) == (3000, 2500)
    assert pending.payout_id is None and someone_elses.payout_id is None
    assert earnings_of(affiliate.pk, "usd").balance_cents == 0


def test_balance_below_the_minimum_is_not_paid(settings):
    settings.PAYOUT_MINIMUM_CENTS = 5000
    affiliate = AffiliateFactory()
    commission = _approved(affiliate, 4999)

    assert _pay(affiliate) is None

    commission.refresh_from_db()
    assert commission.status == APPROVED and commission.payout_id is None
    assert not Payout.objects.exists()


def test_a_commission_is_never_paid_twice():
    affiliate = AffiliateFactory()
    _approved(affiliate, 6000)

    first = _pay(affiliate)
    second = _pay(affiliate)

    assert first is not None and second is None
    assert Payout.objects.count() == 1


def test_partly_refunded_commission_is_paid_what_is_left(settings):
    settings.PAYOUT_MINIMUM_CENTS = 100
    affiliate = AffiliateFactory()
    _approved(affiliate, 2495, sale_id=sale_key(7), sale_amount_cents=24950)
    services.reverse_commission(
        sale_id=sale_key(7), refunded_cents_total=12475, charged_cents=24950
    )

    payout = _pay(affiliate)

    assert payout.amount_cents == 1247
    assert Commission.objects.get(sale_id=sale_key(7)).paid_cents == 1247


def test_refund_after_payout_is_a_negative_balance_deducted_from_the_next_payout(settings):
    settings.PAYOUT_MINIMUM_CENTS = 1000
    affiliate = AffiliateFactory()
    _approved(affiliate, 2495, sale_id=sale_key(1), sale_amount_cents=24950)
    first = _pay(affiliate)
    assert first.amount_cents == 2495

    services.reverse_commission(
        sale_id=sale_key(1), refunded_cents_total=24950, charged_cents=24950
    )

    refunded = Commission.objects.get(sale_id=sale_key(1))
    assert refunded.status == Commission.Status.REVERSED
    assert refunded.payout_id == first.pk and refunded.paid_cents == 2495
    earnings = earnings_of(affiliate.pk, "usd")
    assert (earnings.carried_cents, earnings.balance_cents) == (-2495, -2495)

    _approved(affiliate, 3000, sale_id=sale_key(2))
    assert _pay(affiliate) is None  # 3000 - 2495 = 505: below the minimum

    _approved(affiliate, 2000, sale_id=sale_key(3))
    second = _pay(affiliate)
    assert (second.amount_cents, second.sequence) == (2505, 2)
    earnings = earnings_of(affiliate.pk, "usd")
    assert (earnings.carried_cents, earnings.balance_cents, earnings.paid_out_cents) == (0, 0, 5000)


def test_partial_refund_after_payout_carries_only_the_refunded_share(settings):
    settings.PAYOUT_MINIMUM_CENTS = 1000
    affiliate = AffiliateFactory()
    _approved(affiliate, 2495, sale_id=sale_key(1), sale_amount_cents=24950)
    _pay(affiliate)

    services.reverse_commission(sale_id=sale_key(1), refunded_cents_total=4990, charged_cents=24950)

    assert Commission.objects.get(sale_id=sale_key(1)).status == Commission.Status.PAID
    assert earnings_of(affiliate.pk, "usd").balance_cents == -499


def test_each_currency_is_paid_separately(settings):
    settings.PAYOUT_MINIMUM_CENTS = 1000
    affiliate = AffiliateFactory()
    _approved(affiliate, 3000, currency="usd")
    _approved(affiliate, 2000, currency="eur")

    euros = _pay(affiliate, currency="eur")

    assert (euros.currency, euros.amount_cents) == ("eur", 2000)
    assert earnings_of(affiliate.pk, "usd").balance_cents == 3000
    assert _pay(affiliate, currency="usd").amount_cents == 3000


def test_payout_needs_a_known_method_and_a_reference():
    affiliate = AffiliateFactory()
    _approved(affiliate, 9000)

    with pytest.raises(ValidationError):
        services.create_payout(
            affiliate_id=affiliate.pk,
            currency="usd",
            method="cash",
            reference="x",
            created_by=None,
        )
    with pytest.raises(ValidationError):
        services.create_payout(
            affiliate_id=affiliate.pk,
            currency="usd",
            method="bank",
            reference="   ",
            created_by=None,
        )
    assert not Payout.objects.exists()


def test_only_matured_commissions_reach_a_payout(settings):
    settings.PAYOUT_MINIMUM_CENTS = 1000
    affiliate = AffiliateFactory()
    CommissionFactory(
        affiliate=affiliate, amount_cents=3000, sold_at=timezone.now() - timedelta(days=30)
    )
    CommissionFactory(affiliate=affiliate, amount_cents=3000)

    services.approve_matured_commissions()
    payout = _pay(affiliate)

    assert payout.amount_cents == 3000
    assert Commission.objects.filter(status=Commission.Status.PENDING).count() == 1


def test_a_payout_that_falls_below_the_minimum_after_its_claim_leaves_nothing_behind(settings):
    """A refund lands between the balance check and the claim: the claimed amount is below the
    minimum, so no payout is made, whether a transaction rolled the claim back (SQL) or the
    claim had been written and is undone (a MongoDB server without transactions)."""
    settings.PAYOUT_MINIMUM_CENTS = 2000
    affiliate = AffiliateFactory()
    _approved(affiliate, 2495, sale_id=sale_key(1), sale_amount_cents=24950)

    def refund_half(**_):
        services.reverse_commission(
            sale_id=sale_key(1), refunded_cents_total=12475, charged_cents=24950
        )

    with RunBefore("affiliates.services._claim_into_payout", refund_half, once=True):
        assert _pay(affiliate) is None

    assert not Payout.objects.exists()
    commission = Commission.objects.get()
    assert (commission.status, commission.payout_id, commission.paid_cents) == (APPROVED, None, 0)
    assert earnings_of(affiliate.pk, "usd").balance_cents == commission.net_cents < 2000
