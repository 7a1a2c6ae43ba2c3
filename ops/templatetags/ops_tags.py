from django import template

from common.logging import mask_email
from common.money import format_money

register = template.Library()

register.filter("mask_email", mask_email)


@register.filter
def money(cents: int, currency: str) -> str:
    """``{{ total.net_cents|money:total.currency }}`` → ``$1,234.00``."""
    return format_money(cents, currency)
