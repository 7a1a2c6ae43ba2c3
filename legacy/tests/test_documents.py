"""Reading old amounts: every value the old database may hold becomes cents or a reason."""

import pytest

from legacy.documents import MAX_AMOUNT_CENTS, Skip, minor_units


@pytest.mark.parametrize(
    ("value", "unit", "cents"),
    [(49.9, "dollars", 4990), ("49.90", "dollars", 4990), (4990, "cents", 4990), (0, "cents", 0)],
)
def test_old_amounts_become_integer_cents_in_the_declared_unit(value, unit, cents):
    assert minor_units(value, unit, field="amount") == cents


@pytest.mark.parametrize(
    ("value", "unit", "reason"),
    [
        (None, "cents", "missing_amount"),
        (True, "cents", "invalid_amount"),
        ("abc", "cents", "invalid_amount"),
        (float("nan"), "cents", "invalid_amount"),
        (-5, "cents", "negative_amount"),
        (49.9, "cents", "fractional_cents"),
        (0.001, "dollars", "fractional_cents"),
        (MAX_AMOUNT_CENTS + 1, "cents", "amount_too_large"),
        (10**12, "dollars", "amount_too_large"),
    ],
)
def test_amounts_that_do_not_fit_are_skipped_with_the_reason(value, unit, reason):
    with pytest.raises(Skip) as caught:
        minor_units(value, unit, field="amount")

    assert caught.value.reason == reason


def test_the_largest_amount_a_column_holds_is_read():
    assert minor_units(MAX_AMOUNT_CENTS, "cents", field="amount") == MAX_AMOUNT_CENTS
