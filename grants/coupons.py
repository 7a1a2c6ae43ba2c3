"""Grant coupon codes and coupon prices: pure functions, no database.

A code looks like ``MAAL-7KQ9-XW3M-P2RT-HC4N``: the fixed prefix ``MAAL`` and four groups of four
characters drawn with ``secrets`` from an alphabet without the look-alikes 0/O, 1/I/L.
"""

import math
import re
import secrets

from common.money import percent_of

PREFIX = "MAAL"
# Digits 2–9 and A–Z without I, L, O: 8 + 23 = 31 symbols, none easily misread.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
GROUPS = 4
GROUP_SIZE = 4
RANDOM_LENGTH = GROUPS * GROUP_SIZE
ENTROPY_BITS = RANDOM_LENGTH * math.log2(len(ALPHABET))

# Anything longer than a code with generous spacing is not worth normalising.
_MAX_INPUT_LENGTH = 64
_SEPARATORS = str.maketrans("", "", " -\t\r\n_")


def generate_coupon_code() -> str:
    """A fresh code in canonical form.

    Entropy: 16 characters, each chosen uniformly from 31 symbols by ``secrets.choice``, give
    16 × log2(31) = 16 × 4.954 ≈ 79.3 bits (31**16 ≈ 7.3 × 10**23 codes). The brief asks for at
    least 60 bits; three groups (12 characters, ≈ 59.4 bits) would fall just short, hence four.
    The ``MAAL`` prefix is constant and adds nothing.
    """
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return _group(random_part)


def normalize_coupon_code(raw: str) -> str | None:
    """The canonical form of what a learner typed, or None if it cannot be one of our codes.

    Surrounding and inner spaces and dashes are ignored, case does not matter and the ``MAAL``
    prefix may be left out: ``" maal7kq9 xw3m-p2rthc4n "`` → ``"MAAL-7KQ9-XW3M-P2RT-HC4N"``.
    """
    if not isinstance(raw, str) or len(raw) > _MAX_INPUT_LENGTH:
        return None
    compact = raw.translate(_SEPARATORS).upper()
    if len(compact) == len(PREFIX) + RANDOM_LENGTH and compact.startswith(PREFIX):
        compact = compact[len(PREFIX) :]
    if len(compact) != RANDOM_LENGTH or any(char not in ALPHABET for char in compact):
        return None
    return _group(compact)


# Codes of the old MaalEdu, kept valid after an import (legacy app): upper-cased as that system
# compared them, letters, digits and dashes, shorter than ours.
_LEGACY_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{3,31}$")


def normalize_legacy_coupon_code(raw) -> str | None:
    """An old MaalEdu code as stored on import (trimmed, upper case), or None if it cannot be
    one. Tried only after ``normalize_coupon_code``: our own codes never take this path."""
    if not isinstance(raw, str) or len(raw) > _MAX_INPUT_LENGTH:
        return None
    code = raw.strip().upper()
    return code if _LEGACY_CODE.match(code) else None


def is_current_format(code: str) -> bool:
    """Whether a stored code is one of ours (else an old MaalEdu code kept by the import)."""
    return normalize_coupon_code(code) == code


def _group(random_part: str) -> str:
    groups = [random_part[i : i + GROUP_SIZE] for i in range(0, RANDOM_LENGTH, GROUP_SIZE)]
    return "-".join([PREFIX, *groups])


def coupon_price_cents(*, price_cents: int, discount_percent: int) -> int:
    """What the learner pays: the list price minus the discount, in integer cents.

    The discount is rounded half up to a whole cent (``common.money.percent_of``), so any
    half cent goes to the learner: 49 900 × 50% → 24 950; 999 × 25% → discount 250, pays 749.
    A 100% coupon always costs 0.
    """
    return price_cents - percent_of(price_cents, discount_percent)
