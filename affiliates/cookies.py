"""The two first-party cookies of referral tracking.

``maaledu_ref`` holds the referral code and the click time, signed with Django's signing so a
visitor can neither forge a referral nor stretch its window. ``maaledu_vid`` is a random visitor
id, stored only as an HMAC, so a click is counted once per visitor and day.
"""

import re
import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .models import REFERRAL_CODE_ALPHABET

REFERRAL_COOKIE = "maaledu_ref"
VISITOR_COOKIE = "maaledu_vid"
_SALT = "affiliates.referral-cookie"
_CODE = re.compile(rf"^[{REFERRAL_CODE_ALPHABET}]{{4,32}}$")
_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
VISITOR_COOKIE_MAX_AGE = 365 * 24 * 60 * 60


def normalize_code(raw: str | None) -> str | None:
    """The code as we store it, or None when it cannot be one (garbage never reaches a query)."""
    code = (raw or "").strip().lower()
    return code if _CODE.match(code) else None


def attribution_window() -> timedelta:
    return timedelta(days=settings.AFFILIATE_COOKIE_DAYS)


def encode_referral(code: str, clicked_at: datetime) -> str:
    return signing.dumps({"code": code, "clicked_at": int(clicked_at.timestamp())}, salt=_SALT)


def decode_referral(value: str | None, *, now: datetime | None = None) -> str | None:
    """The code of a genuine cookie whose click is inside the attribution window, else None."""
    if not value:
        return None
    window = attribution_window()
    try:
        payload = signing.loads(value, salt=_SALT, max_age=window)
        clicked_at = datetime.fromtimestamp(int(payload["clicked_at"]), tz=UTC)
        code = normalize_code(payload["code"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError):
        return None
    now = now or timezone.now()
    if not now - window <= clicked_at <= now + timedelta(minutes=5):
        return None
    return code


def visitor_id_from(value: str | None) -> tuple[str, bool]:
    """The visitor id from the cookie, or a new one; and whether it is new (to be set)."""
    if value and _VISITOR_ID.match(value):
        return value, False
    return secrets.token_urlsafe(24), True


def visitor_key(visitor_id: str) -> str:
    return salted_hmac("affiliates.visitor", visitor_id).hexdigest()
