"""What a paid Checkout Session says about price and tax (Stripe Tax).

Prices are tax-inclusive: with ``STRIPE_AUTOMATIC_TAX`` on, every line item is sent with
``tax_behavior="inclusive"``, so the buyer pays exactly the price we show (EU consumer prices
must include VAT) and Stripe reports the tax inside it in ``total_details.amount_tax``. One
figure, the price, is therefore what is charged, refunded and reconciled; the tax only lowers
what the school earns, which is what an affiliate's commission is computed on
(``Enrollment.amount_before_tax_cents``).
"""


def _cents(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def price_paid(session: dict) -> int | None:
    """The price Stripe charged for the course, to compare with ours.

    ``amount_subtotal`` is the line items before any tax is added on top; it must also be the
    whole total. Tax added on top (an exclusive price) or a discount would charge another
    amount than our price, so then the total is returned and the payment goes to review.
    """
    subtotal, total = _cents(session.get("amount_subtotal")), _cents(session.get("amount_total"))
    if subtotal is None:
        return total  # a payload without a subtotal: only the total can be checked
    return subtotal if total == subtotal else total


def recorded_amounts(session: dict) -> dict:
    """The Enrollment fields that keep Stripe's subtotal, tax, total and receipt."""
    details = session.get("total_details")
    tax = _cents(details.get("amount_tax")) if isinstance(details, dict) else None
    invoice = session.get("invoice")
    if isinstance(invoice, dict):  # retrieved with expand=["invoice"]
        invoice = invoice.get("id")
    return {
        "stripe_subtotal_cents": _cents(session.get("amount_subtotal")),
        "tax_cents": tax or 0,
        "stripe_total_cents": _cents(session.get("amount_total")),
        "stripe_invoice_id": invoice if isinstance(invoice, str) else "",
    }
