"""Money is an integer amount of minor units (cents) plus an ISO 4217 currency code.

We sell only in currencies with two decimal places, so ``cents / 100`` is the major amount.
Percentages are applied with explicit half-up rounding on integers, never with floats.
"""

CURRENCIES = {
    "usd": "$",
    "eur": "€",
    "gbp": "£",
    "cad": "CA$",
    "aud": "A$",
    "inr": "₹",
}
CURRENCY_CHOICES = [(code, code.upper()) for code in CURRENCIES]


def format_money(cents: int, currency: str) -> str:
    """``format_money(49900, "usd") == "$499.00"``; negative amounts keep their sign in front."""
    symbol = CURRENCIES.get(currency.lower(), currency.upper() + " ")
    sign = "-" if cents < 0 else ""
    major, minor = divmod(abs(cents), 100)
    return f"{sign}{symbol}{major:,}.{minor:02d}"


def percent_of(cents: int, percent: int) -> int:
    """``percent``% of ``cents``, rounded half up to a whole cent (both arguments non-negative)."""
    if cents < 0 or percent < 0:
        raise ValueError("percent_of takes non-negative amounts")
    return (cents * percent + 50) // 100


def proportion_of(cents: int, numerator: int, denominator: int) -> int:
    """``cents × numerator / denominator`` rounded half up (for proportional refunds)."""
    if denominator <= 0 or cents < 0 or numerator < 0:
        raise ValueError("proportion_of takes non-negative amounts and a positive denominator")
    return (2 * cents * numerator + denominator) // (2 * denominator)
