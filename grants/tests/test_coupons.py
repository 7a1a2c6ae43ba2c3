import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grants.coupons import (
    ALPHABET,
    ENTROPY_BITS,
    coupon_price_cents,
    generate_coupon_code,
    is_current_format,
    normalize_coupon_code,
    normalize_legacy_coupon_code,
)

CANONICAL = re.compile(r"^MAAL(-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}){4}$")


def test_codes_are_grouped_for_reading_and_use_no_ambiguous_characters():
    code = generate_coupon_code()

    assert CANONICAL.match(code), code
    assert not set("0O1IL") & set(code.replace("MAAL", ""))
    assert not set("0O1IL") & set(ALPHABET)


def test_codes_carry_at_least_60_bits_of_entropy():
    random_characters = len(generate_coupon_code().replace("MAAL", "").replace("-", ""))
    expected_bits = random_characters * math.log2(len(ALPHABET))

    assert pytest.approx(expected_bits) == ENTROPY_BITS
    assert ENTROPY_BITS >= 60


def test_generated_codes_do_not_repeat():
    codes = {generate_coupon_code() for _ in range(20_000)}

    assert len(codes) == 20_000


def test_generated_codes_use_the_whole_alphabet():
    used = set("".join(generate_coupon_code()[5:] for _ in range(2_000))) - {"-"}

    assert used == set(ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        "MAAL-7KQ9-XW3M-P2RT-HC4N",
        "maal-7kq9-xw3m-p2rt-hc4n",
        "  MAAL 7KQ9 XW3M P2RT HC4N  ",
        "MAAL7KQ9XW3MP2RTHC4N",
        "maal-7kq9xw3m-p2-rthc4n",
        "7KQ9-XW3M-P2RT-HC4N",
        "7kq9xw3mp2rthc4n",
    ],
)
def test_typed_codes_are_normalised_to_the_canonical_form(typed):
    assert normalize_coupon_code(typed) == "MAAL-7KQ9-XW3M-P2RT-HC4N"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "MAAL",
        "MAAL-7KQ9-XW3M-P2RT",  # a group short
        "MAAL-7KQ9-XW3M-P2RT-HC4N-AAAA",  # a group too many
        "MAAL-7KQ0-XW3M-P2RT-HC4N",  # 0 is not in the alphabet
        "MAAL-7KQO-XW3M-P2RT-HC4N",  # nor O
        "XXXX-7KQ9-XW3M-P2RT-HC4N",  # another prefix
        "MAAL-7KQ9-XW3M-P2RT-HC4N" + " " * 60,
        "' OR 1=1 --",
    ],
)
def test_anything_else_is_not_a_code(typed):
    assert normalize_coupon_code(typed) is None


@given(st.text(max_size=80))
def test_normalising_hostile_input_never_raises(typed):
    result = normalize_coupon_code(typed)

    assert result is None or CANONICAL.match(result)


@pytest.mark.parametrize(
    ("price", "percent", "pays"),
    [
        (49900, 50, 24950),
        (49900, 10, 44910),
        (49900, 100, 0),
        (999, 25, 749),  # discount 249.75 → 250 cents, rounded half up in the learner's favour
        (1, 50, 0),  # half a cent off goes to the learner
        (0, 30, 0),
    ],
)
def test_coupon_price_is_list_price_minus_the_discount_in_whole_cents(price, percent, pays):
    assert coupon_price_cents(price_cents=price, discount_percent=percent) == pays


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=10, max_value=100))
def test_coupon_price_stays_between_zero_and_the_list_price(price, percent):
    pays = coupon_price_cents(price_cents=price, discount_percent=percent)

    assert 0 <= pays <= price
    if percent == 100:
        assert pays == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" scholar-2024 ", "SCHOLAR-2024"), ("GRANT-AB12", "GRANT-AB12"), ("half-77", "HALF-77")],
)
def test_old_maaledu_codes_are_read_as_that_system_stored_them(raw, expected):
    assert normalize_legacy_coupon_code(raw) == expected
    assert not is_current_format(expected)


@pytest.mark.parametrize("raw", ["", "AB", "has space", "-LEADING", "x" * 40, None, 17])
def test_anything_else_is_not_an_old_code(raw):
    assert normalize_legacy_coupon_code(raw) is None
