"""The errors grant operations raise, and the refusal messages a learner reads at checkout.

Shared by ``grants.services`` (the writes) and ``grants.selectors`` (the checkout rules)."""

from datetime import UTC, datetime

from .models import Grant


class GrantError(Exception):
    """A grant operation refused; ``message`` is written for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DuplicateApplication(GrantError):
    """A pending application for this e-mail and course already exists."""


class CouponRefused(GrantError):
    """A coupon cannot be used for this checkout.

    ``reason`` is a short code for logs, tests and branching: ``not_found``, ``email_mismatch``,
    ``login_required``, ``unverified``, ``wrong_course``, ``expired``, ``redeemed``, ``held``.
    ``message`` is what the learner reads. ``not_found`` and ``email_mismatch`` share one message
    on purpose, so a code that belongs to someone else reads exactly like a code that does not
    exist: show ``message``, never ``reason``. (There is no ``not_approved``: a code exists only
    once its grant is approved; the only later state, ``expired``, has its own reason.)
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_UNKNOWN_CODE = (
    "This coupon code is not valid for your account. Check the code, and that you are logged in "
    "with the e-mail address you applied with and entered it at checkout."
)


def refused(reason: str, grant: Grant | None = None) -> CouponRefused:
    messages = {
        "not_found": _UNKNOWN_CODE,
        "email_mismatch": _UNKNOWN_CODE,
        "login_required": (
            "Log in with the e-mail address you applied with to use a grant coupon."
        ),
        "unverified": (
            "Verify your e-mail address before using a grant coupon: open the link we e-mailed "
            "you, or ask for a new one on your account page."
        ),
        "wrong_course": "This coupon is for another course"
        + (f": {grant.course.title}." if grant is not None else "."),
        "expired": "This coupon has expired"
        + (f" (on {_day(grant.coupon_expires_at)})." if grant is not None else "."),
        "redeemed": "This coupon has already been used.",
        "held": (
            "This coupon is in use in another checkout that has not finished. Complete or cancel "
            "that checkout, or try again in a little while."
        ),
    }
    return CouponRefused(reason, messages[reason])


def _day(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%B %Y}, UTC"
