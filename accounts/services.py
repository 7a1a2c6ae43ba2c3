"""Writes for accounts that no form owns: learners brought over from the old MaalEdu, and the
last step of deleting an account.

Sign-up, login and e-mail confirmation are allauth's. The import functions are each safe to
re-run: the user is found by e-mail (unique) before anything is inserted, and every later step
is a conditional UPDATE or a guarded insert. ``erase_user`` is one conditional UPDATE.
"""

import logging
import re
from datetime import datetime

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, make_password
from django.db import IntegrityError

from common.transactions import atomic

from . import user_versions
from .models import User, erased_email, normalize_email

logger = logging.getLogger(__name__)

# What bcrypt (bcryptjs, NextAuth credentials) stores: $2a$/$2b$/$2y$, cost, 22 + 31 characters.
LEGACY_BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")


def legacy_password(old_hash) -> str | None:
    """The old bcrypt hash in the form ``accounts.hashers.LegacyBCryptPasswordHasher`` reads,
    or None when it is not a bcrypt hash (the learner then sets a password by reset link)."""
    if isinstance(old_hash, str) and LEGACY_BCRYPT_HASH.match(old_hash):
        return f"bcrypt${old_hash}"
    return None


def import_user(
    *,
    email: str,
    name: str,
    password: str | None,
    verified: bool,
    is_staff: bool,
    date_joined: datetime,
) -> tuple[User, bool]:
    """The user with this e-mail, created if missing; and whether this call created it.

    ``password`` is an already encoded Django password (``legacy_password``) or None (unusable).
    An existing user (a duplicate of the same address, or a resumed run) only gains: a password
    if they had none usable, the verified address, staff if asked. Nothing is taken away.
    """
    email = normalize_email(email)
    user = User.objects.filter(email=email).first()
    created = False
    if user is None:
        user = User(email=email, name=name[:150], is_staff=is_staff, date_joined=date_joined)
        if password:
            user.password = password
        else:
            user.set_unusable_password()
        try:
            with atomic():
                user.save()
            created = True
        except IntegrityError:
            user = User.objects.get(email=email)
    if not created:
        gained = 0
        if password:
            # Only where no usable password exists ("!" marks an unusable one).
            unusable = {"password__startswith": UNUSABLE_PASSWORD_PREFIX}
            gained += User.objects.filter(pk=user.pk, **unusable).update(password=password)
        if is_staff:
            gained += User.objects.filter(pk=user.pk, is_staff=False).update(is_staff=True)
        if name:
            gained += User.objects.filter(pk=user.pk, name="").update(name=name[:150])
        if gained:
            user_versions.changed(user.pk)
    _record_address(user, verified=verified)
    return user, created


def _record_address(user: User, *, verified: bool) -> None:
    """The login address as allauth knows it, verified when the old system had verified it."""
    try:
        with atomic():
            EmailAddress.objects.create(
                user=user, email=user.email, verified=verified, primary=True
            )
    except IntegrityError:
        if verified:
            EmailAddress.objects.filter(user=user, email=user.email, verified=False).update(
                verified=True
            )


def ensure_demo_user(*, email: str, password: str, staff: bool = False) -> User:
    """A demo account (``seed_demo``, ``make demo``) with this password and a verified address,
    created or brought back to that state; a superuser when ``staff``. Safe to re-run."""
    user, _ = User.objects.get_or_create(email=email)
    user.is_staff = user.is_superuser = staff
    user.is_active = True
    user.set_password(password)
    user.save(update_fields=["is_staff", "is_superuser", "is_active", "password"])
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def ensure_demo_staff(*, email: str, password: str) -> User:
    """The demo's staff account (``seed_demo``)."""
    return ensure_demo_user(email=email, password=password, staff=True)


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
        user_versions.changed(user_id)
        logger.info("event=account.erased user_id=%s", user_id)
    return bool(erased)
