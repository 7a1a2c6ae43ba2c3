"""Reading the old MaalEdu's documents: the fields each collection may have, and how a value
becomes ours (money, e-mails, dates, ids). Every parser raises ``Skip`` with a reason code
when a value cannot be imported as declared; nothing here guesses.

The collections and fields are those of the old Mongoose models (``/shared/seed``). Fields in
``KNOWN`` but not used (old OpenEdX sync fields, cached counters) are ignored on purpose; any
other field is counted in the report as unknown.
"""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import normalize_email
from common.money import CURRENCIES

AMOUNT_UNITS = ("cents", "dollars")
# What a missing currency means: the old system sold in US dollars only.
DEFAULT_CURRENCY = "usd"

_COMMON = {"_id", "__v", "createdAt", "updatedAt"}
KNOWN = {
    "users": _COMMON
    | {
        "email",
        "name",
        "password",
        "emailVerified",
        "isVerified",
        "role",
        "image",
        # Cached in the old system and wrong there (seed: "User.totalSpent vs actual spending");
        # enrollments and LMS progress are the source of truth here.
        "purchasedCourses",
        "progress",
        "totalSpent",
        "verificationToken",
        "verificationTokenExpires",
        "resetPasswordToken",
        "resetPasswordExpires",
        "lastLogin",
    },
    "courses": _COMMON
    | {
        "courseId",
        "title",
        "description",
        "price",
        "currency",
        "level",
        "duration",
        "features",
        "image",
        "isActive",
        "totalEnrollments",  # a cached count (seed: "Enrollment Count Mismatch")
        "instructor",
        "category",
        "frappeCourseId",
    },
    "enrollments": _COMMON
    | {
        "email",
        "userId",
        "courseId",
        "amount",
        "currency",
        "status",
        "paymentId",
        "stripeSessionId",
        "stripePaymentIntentId",
        "enrollmentType",
        "couponCode",
        "grantId",
        "grantData",
        "affiliateData",
        "frappeSync",
        "openedxSync",  # the OpenEdX era, before FrappeLMS
        "lmsStatus",
        "paidAt",
        "refundedAt",
        "progress",
        "metadata",
    },
    "affiliates": _COMMON
    | {
        "email",
        "userId",
        "name",
        "affiliateId",
        "status",
        "commissionRate",
        "paymentMethod",
        "payoutMode",
        "totalPaid",
        "pendingCommissions",
        "stats",
        "lastPayoutAt",
        "statsLastUpdated",
    },
    "grants": _COMMON
    | {
        "name",
        "email",
        "courseId",
        "status",
        "reason",
        "statement",
        "organization",
        "organisation",
        "country",
        "discountPercentage",
        "couponCode",
        "couponUsed",
        "couponUsedAt",
        "couponUsedBy",
        "enrollmentId",
        "couponMetadata",
        "adminNotes",
        "reviewedBy",
        "reviewedAt",
        "userId",
    },
    "retryjobs": _COMMON
    | {
        "jobType",
        "enrollmentId",
        "payload",
        "attempts",
        "maxAttempts",
        "nextRetryAt",
        "status",
        "lastError",
    },
}


class Skip(Exception):
    """This document is not imported: ``reason`` is a short code, ``detail`` for people."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def legacy_id(doc: dict) -> str:
    return str(doc.get("_id"))


def unknown_fields(collection: str, doc: dict) -> list[str]:
    return sorted(str(key) for key in doc if key not in KNOWN[collection])


def sub(doc: dict, key: str) -> dict:
    """A sub-document, or an empty one when missing or not a document."""
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def text(value, default: str = "") -> str:
    return " ".join(value.split()) if isinstance(value, str) else default


def email_of(value, *, field: str = "email") -> str:
    """Trimmed and lower-cased (as the old system compared them), and a valid address."""
    email = normalize_email(value) if isinstance(value, str) else ""
    if not email:
        raise Skip("missing_email", f"no {field}")
    try:
        validate_email(email)
    except ValidationError as error:
        raise Skip("invalid_email", f"{field} is not an e-mail address") from error
    return email


def moment(value) -> datetime | None:
    """A BSON date (naive UTC, as pymongo returns it) or an ISO string, as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def created_at(doc: dict) -> datetime:
    """When the document was created: ``createdAt``, else the time inside its ObjectId."""
    when = moment(doc.get("createdAt"))
    if when is not None:
        return when
    generation_time = getattr(doc.get("_id"), "generation_time", None)
    return generation_time or datetime(1970, 1, 1, tzinfo=UTC)


# Our amount columns are PositiveIntegerField: 0 to 2**31 - 1 on every database.
MAX_AMOUNT_CENTS = 2**31 - 1


def minor_units(value, unit: str, *, field: str) -> int:
    """An old amount in integer minor units, read in the declared ``unit``.

    ``dollars``: 49.9 → 4990 (the decimal text of the number, never float arithmetic);
    ``cents``: 4990 → 4990. A value with a fraction of a cent, negative, too large for our
    columns, or not a number is refused with ``Skip``.
    """
    if value is None:
        raise Skip("missing_amount", f"no {field}")
    if isinstance(value, bool):
        raise Skip("invalid_amount", f"{field} is {value!r}")
    to_decimal = getattr(value, "to_decimal", None)  # bson.Decimal128
    try:
        number = to_decimal() if to_decimal else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as error:
        raise Skip("invalid_amount", f"{field} is {value!r}") from error
    if not number.is_finite():
        raise Skip("invalid_amount", f"{field} is {value!r}")
    if number < 0:
        raise Skip("negative_amount", f"{field} is {value!r}")
    cents = number * 100 if unit == "dollars" else number
    if cents != cents.to_integral_value():
        raise Skip("fractional_cents", f"{field} is {value!r}, not a whole number of cents")
    if cents > MAX_AMOUNT_CENTS:  # refused here, so a dry run reports what the real run does
        raise Skip("amount_too_large", f"{field} is {value!r}, more than an amount column holds")
    return int(cents)


def currency_of(doc: dict, default: str = DEFAULT_CURRENCY) -> str:
    value = doc.get("currency")
    if value in (None, ""):
        return default
    currency = str(value).strip().lower()
    if currency not in CURRENCIES:
        raise Skip("unknown_currency", f"currency {value!r}")
    return currency


def percent(value, *, field: str, default: int | None = None) -> int | None:
    """A whole percentage 0–100 (10 or 10.0); ``default`` when missing."""
    if value is None or value == "":
        return default
    try:
        number = Decimal(str(value))
    except InvalidOperation as error:
        raise Skip("invalid_percentage", f"{field} is {value!r}") from error
    if number != number.to_integral_value() or not 0 <= number <= 100:
        raise Skip("invalid_percentage", f"{field} is {value!r}")
    return int(number)


def truthy(value) -> bool:
    """Mongoose booleans, and NextAuth's ``emailVerified`` date (set = verified)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)
