"""One rule for reversing a commission (``selectors.commission_reversal_for``): the refund
preview, ``services.reverse_commission`` and the nightly reconciliation all use it, and it
computes from the sale amount stored on the commission."""

import pytest

from affiliates import selectors, services
from affiliates.models import Commission
from affiliates.tests.factories import CommissionFactory

pytestmark = pytest.mark.django_db


def _target(commission, refunded):
    return selectors.commission_reversal_for(commission, refunded_cents_total=refunded).target_cents


@pytest.mark.parametrize(
    ("sale", "commission_cents", "refunded", "expected"),
    [
        (24950, 2495, 0, 0),  # nothing refunded
        (24950, 2495, 24950, 2495),  # full refund: exactly the commission
        (24950, 2495, 12475, 1248),  # 1247.5 → 1248 (half up)
        (24950, 2495, 20792, 2079),  # 2079.17 → 2079
        (24950, 2495, 1, 0),  # 0.1 → 0
        (24950, 2495, 4, 0),  # 0.4 → 0
        (24950, 2495, 5, 1),  # 0.5 → 1
        (3, 1, 1, 0),  # odd cents: 1 × 1/3 = 0.33 → 0
        (3, 1, 2, 1),  # 1 × 2/3 = 0.67 → 1 (the whole commission before the whole sale)
        (2, 1, 1, 1),  # 0.5 → 1 (half up, never half even)
        (9999, 999, 3332, 333),  # 332.9 → 333
        (9999, 999, 99999, 999),  # more than the sale: capped at the commission
        (10000, 0, 5000, 0),  # a zero commission has nothing to reverse
    ],
)
def test_the_reversed_share_is_the_refunded_share_of_the_stored_sale_rounded_half_up(
    sale, commission_cents, refunded, expected
):
    commission = CommissionFactory(sale_amount_cents=sale, amount_cents=commission_cents)

    assert _target(commission, refunded) == expected


def test_partial_refunds_in_steps_end_where_one_refund_of_the_total_ends():
    """Cumulative totals, each rounded once: the odd cents never accumulate."""
    stepped = CommissionFactory(sale_amount_cents=9999, amount_cents=999)
    at_once = CommissionFactory(sale_amount_cents=9999, amount_cents=999)

    total = 0
    for step in (1, 1, 1, 3333, 17, 4999):
        total += step
        services.reverse_commission(sale_id=stepped.sale_id, refunded_cents_total=total)
    services.reverse_commission(sale_id=at_once.sale_id, refunded_cents_total=total)

    stepped.refresh_from_db()
    at_once.refresh_from_db()
    assert stepped.reversed_cents == at_once.reversed_cents == _target(at_once, total)


def test_the_stored_sale_amount_decides_not_the_callers():
    """A commission recorded on 100.00 of a 249.50 course (say a grant paid the rest): half of
    the 100.00 refunded reverses half the commission."""
    commission = CommissionFactory(sale_amount_cents=10000, amount_cents=1000)

    services.reverse_commission(sale_id=commission.sale_id, refunded_cents_total=5000)

    commission.refresh_from_db()
    assert commission.reversed_cents == 500


def test_additional_cents_is_what_is_left_to_reverse_and_never_negative():
    commission = CommissionFactory(sale_amount_cents=10000, amount_cents=1000, reversed_cents=600)

    def additional(refunded):
        return selectors.commission_reversal_for(
            commission, refunded_cents_total=refunded
        ).additional_cents

    assert additional(5000) == 0  # 500 implied, 600 already reversed
    assert additional(7000) == 100
    assert additional(10000) == 400


@pytest.mark.parametrize("refunded", [1, 5, 6, 3333, 4999, 5000, 9998, 9999, 10_000])
def test_reverse_commission_stores_exactly_what_the_rule_says(refunded):
    commission = CommissionFactory(sale_amount_cents=9999, amount_cents=999)
    expected = selectors.commission_reversal_for(commission, refunded_cents_total=refunded)

    services.reverse_commission(sale_id=commission.sale_id, refunded_cents_total=refunded)

    commission.refresh_from_db()
    assert commission.reversed_cents == expected.target_cents
    assert (commission.status == Commission.Status.REVERSED) == expected.full
