"""Payout details: a PayPal e-mail, or bank transfer (holder, IBAN or account number, bank, BIC).

One function, ``clean_payout_details``, validates and normalises them for the join form, the join
service and the admin alike, so the three can never disagree.
"""

import re

from django.core.exceptions import ValidationError

from common.mail import validate_deliverable_email

PAYPAL = "paypal"
BANK = "bank"

_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_ACCOUNT_NUMBER = re.compile(r"^[0-9]{4,34}$")
_SWIFT = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_SEPARATORS = re.compile(r"[\s-]+")


def _compact(value: str) -> str:
    return _SEPARATORS.sub("", value or "").upper()


def looks_like_iban(value: str) -> bool:
    """Two letters then two digits: an IBAN attempt (anything else is a plain account number)."""
    compact = _compact(value)
    return len(compact) >= 4 and compact[:2].isalpha() and compact[2:4].isdigit()


def iban_is_valid(value: str) -> bool:
    """ISO 13616: the right shape and ``int(BBAN + country + check digits) mod 97 == 1``."""
    iban = _compact(value)
    if not _IBAN_SHAPE.match(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def clean_payout_details(
    *,
    payout_method: str,
    paypal_email: str = "",
    bank_account_holder: str = "",
    bank_account: str = "",
    bank_name: str = "",
    bank_swift: str = "",
) -> dict[str, str]:
    """The normalised details for ``payout_method`` (the other method's fields emptied).

    Raises ``ValidationError`` with a message per field.
    """
    errors: dict[str, str] = {}
    cleaned = {
        "payout_method": payout_method,
        "paypal_email": "",
        "bank_account_holder": "",
        "bank_account": "",
        "bank_name": "",
        "bank_swift": "",
    }
    if payout_method == PAYPAL:
        email = (paypal_email or "").strip().lower()
        try:
            validate_deliverable_email(email)
        except ValidationError:
            errors["paypal_email"] = "Enter the e-mail address of your PayPal account."
        cleaned["paypal_email"] = email
    elif payout_method == BANK:
        holder = " ".join((bank_account_holder or "").split())
        name = " ".join((bank_name or "").split())
        account = _compact(bank_account)
        swift = _compact(bank_swift)
        if len(holder) < 2:
            errors["bank_account_holder"] = "Enter the account holder's full name."
        if len(name) < 2:
            errors["bank_name"] = "Enter the name of your bank."
        if swift and not _SWIFT.match(swift):
            errors["bank_swift"] = "A SWIFT/BIC code has 8 or 11 letters and digits, e.g. DEUTDEFF."
        if looks_like_iban(account):
            if not iban_is_valid(account):
                errors["bank_account"] = "This IBAN is not valid: check it for typos."
        elif _ACCOUNT_NUMBER.match(account):
            if not swift and "bank_swift" not in errors:
                errors["bank_swift"] = "Enter your bank's SWIFT/BIC code (needed without an IBAN)."
        else:
            errors["bank_account"] = "Enter an IBAN, or an account number of 4 to 34 digits."
        cleaned.update(
            bank_account_holder=holder, bank_account=account, bank_name=name, bank_swift=swift
        )
    else:
        errors["payout_method"] = "Choose PayPal or bank transfer."
    if errors:
        raise ValidationError(errors)
    return cleaned
