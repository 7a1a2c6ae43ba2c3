"""One rule for reversing a commission (``selectors.commission_reversal_for``): the refund
preview, ``services.reverse_commission`` and the nightly reconciliation all use it. It splits
the commission stored on the sale in the share of the charge that was refunded."""

import pytest

from affiliates import selectors, services
from affiliates.models import Commission
from affiliates.tests.factories import CommissionFactory

pytestmark = pytest.mark.django_db


def _reversal(commission, refunded, charged):
    return selectors.commission_reversal_for(
        commission, refunded_cents_total=refunded, charged_cents=charged
    )


@pytest.mark.parametrize(
    ("charged", "commission_cents", "refunded", "expected"),
    [
        (24950, 2495, 0, 0),  # nothing refunded
        (24950, 2495, 24950, 2495),  # full refund: exactly the commission
        (24950, 2495, 12475, 1248),  # 1247.5 → 1248 (half up)
        (24950, 2495, 20792, 2079),  # 2079.2 → 2079
        (24950, 2495, 1, 0),  # 0.1 → 0
        (24950, 2495, 4, 0),  # 0.4 → 0
        (24950, 2495, 5, 1),  # 0.5 → 1
        (3, 1, 1, 0),  # odd cents: 1 × 1/3 = 0.33 → 0
        (3, 1, 2, 1),  # 1 × 2/3 = 0.67 → 1 (the whole commission before the whole sale)
        (2, 1, 1, 1),  # 0.5 → 1 (half up, never half even)
        (9999, 999, 3332, 333),  # 332.9 → 333
        (9999, 999, 99999, 999),  # more than the charge: capped at the commission
        (10000, 0, 5000, 0),  # a zero commission has nothing to reverse
        (0, 100, 100, 0),  # nothing charged: nothing to reverse
        (12000, 1000, 3000, 250),  # tax-inclusive price: a quarter of the charge, of the commission
    ],
)
def test_the_reversed_share_is_the_refunded_share_of_the_charge_rounded_half_up(
    charged, commission_cents, refunded, expected
):
    commission = CommissionFactory(sale_amount_cents=max(charged, 1), amount_cents=commission_cents)

    assert _reversal(commission, refunded, charged).target_cents == expected


def test_the_stored_commission_is_split_not_one_recomputed_from_the_rate():
    """A commission recorded at 10% on the amount before tax (10000 of a 12000 charge) and the
    affiliate's rate changed since: the stored 1000 is what a refund splits."""
    commission = CommissionFactory(sale_amount_cents=10000, rate_percent=10, amount_cents=1000)
    commission.affiliate.rate_percent = 50
    commission.affiliate.save()

    services.reverse_commission(
        sale_id=commission.sale_id, refunded_cents_total=6000, charged_cents=12000
    )

    commission.refresh_from_db()
    assert commission.reversed_cents == 500


def test_partial_refunds_in_steps_end_where_one_refund_of_the_total_ends():
    """Cumulative totals, each rounded once: the odd cents never accumulate."""
    stepped = CommissionFactory(sale_amount_cents=9999, amount_cents=999)
    at_once = CommissionFactory(sale_amount_cents=9999, amount_cents=999)

    total = 0
    for step in (1, 1, 1, 3333, 17, 4999):
        total += step
        services.reverse_commission(
            sale_id=stepped.sale_id, refunded_cents_total=total, charged_cents=9999
        )
    services.reverse_commission(
        sale_id=at_once.sale_id, refunded_cents_total=total, charged_cents=9999
    )

    stepped.refresh_from_db()
    at_once.refresh_from_db()
    assert stepped.reversed_cents == at_once.reversed_cents
    assert at_once.reversed_cents == _reversal(at_once, total, 9999).target_cents


def test_additional_cents_is_what_is_left_to_reverse_and_never_negative():
    commission = CommissionFactory(sale_amount_cents=10000, amount_cents=1000, reversed_cents=600)

    def additional(refunded):
        return _reversal(commission, refunded, 10000).additional_cents

    assert additional(5000) == 0  # 500 implied, 600 already reversed
    assert additional(7000) == 100
    assert additional(10000) == 400


@pytest.mark.parametrize("refunded", [1, 5, 6, 3333, 4999, 5000, 9998, 9999, 10_000])
def test_reverse_commission_stores_exactly_what_the_rule_says(refunded):
    commission = CommissionFactory(sale_amount_cents=9999, amount_cents=999)
    expected = _reversal(commission, refunded, 9999)

    services.reverse_commission(
        sale_id=commission.sale_id, refunded_cents_total=refunded, charged_cents=9999
    )

    commission.refresh_from_db()
    assert commission.reversed_cents == expected.target_cents
    assert (commission.status == Commission.Status.REVERSED) == expected.full
