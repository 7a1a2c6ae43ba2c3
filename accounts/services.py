"""Writes for accounts: the last step of deleting one."""

import logging

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password

from .models import User, erased_email

logger = logging.getLogger(__name__)


def erase_user(*, user_id: int, email: str) -> bool:
    """Anonymise the account: its e-mail becomes an undeliverable placeholder, its name goes,
    it can no longer log in, and every session it has ends (the session auth hash derives from
    the password, which becomes unusable). The row stays as the anchor of the financial records
    that point at it. One conditional update on the expected e-mail; True when it happened."""
    erased = User.objects.filter(pk=user_id, email=email).update(
        email=erased_email(user_id),
        name="",
        password=make_password(None),
        is_active=False,
        is_staff=False,
        is_superuser=False,
    )
    EmailAddress.objects.filter(user_id=user_id).delete()
    if erased:
        logger.info("event=account.erased user_id=%s", user_id)
    return bool(erased)
