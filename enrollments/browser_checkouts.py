"""What a browser remembers of its own checkouts: a visitor token (so a double-clicked submit
opens one checkout, not two) and the enrollments it started (so it, and nobody else, may see
their pages later).

An anonymous visitor's live in a signed cookie of its own (``maaledu_checkout``), not in the
database session, so an anonymous checkout writes no session row; a signed-in visitor's live in
the session, which logging out ends. At sign-in what the cookie holds moves into the session
and the cookie is deleted (``enrollments.receivers``, ``enrollments.middleware``), so it never
outlives the signed-in session on a shared browser. Sessions from before the cookie are still
read.
"""

import functools
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.http import HttpRequest, HttpResponse

VISITOR_CHECKOUTS_KEY = "checkout_enrollment_ids"
VISITOR_TOKEN_KEY = "checkout_visitor_token"  # noqa: S105 (a session key name)
CHECKOUT_COOKIE = "maaledu_checkout"
_CHECKOUT_COOKIE_SALT = "enrollments.checkout-visitor"
REMEMBERED_CHECKOUTS = 20


@dataclass
class _BrowserCheckouts:
    """The checkout cookie of an anonymous browser: its visitor token and the enrollments it
    started, as ``str(pk)`` (an ObjectId on MongoDB)."""

    token: str = ""
    ids: list[str] = field(default_factory=list)
    changed: bool = False


def _cookie_checkouts(request: HttpRequest) -> _BrowserCheckouts:
    """This browser's checkout cookie, read once per request (empty when missing, forged or
    older than ``SESSION_COOKIE_AGE``)."""
    found = getattr(request, "_browser_checkouts", None)
    if found is None:
        value = request.get_signed_cookie(
            CHECKOUT_COOKIE,
            default="",
            salt=_CHECKOUT_COOKIE_SALT,
            max_age=settings.SESSION_COOKIE_AGE,
        )
        token, _, ids = value.partition(":")
        found = request._browser_checkouts = _BrowserCheckouts(token, ids.split(",") if ids else [])
    return found


def keeps_checkout_cookie(view):
    """Writes the checkout cookie when the view changed it."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        cookie = getattr(request, "_browser_checkouts", None)
        if cookie is not None and cookie.changed:
            response.set_signed_cookie(
                CHECKOUT_COOKIE,
                f"{cookie.token}:{','.join(cookie.ids)}",
                salt=_CHECKOUT_COOKIE_SALT,
                max_age=settings.SESSION_COOKIE_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    return wrapped


def visitor_token(request: HttpRequest) -> str:
    """A random token for this browser, set when the checkout page is first shown, so a
    double-clicked submit carries the same one: in the checkout cookie while anonymous, in the
    session once signed in (``move_checkouts_into_the_session`` carries it over)."""
    if request.user.is_authenticated:
        token = request.session.get(VISITOR_TOKEN_KEY)
        if not token:
            token = request.session[VISITOR_TOKEN_KEY] = secrets.token_urlsafe(24)
        return token
    cookie = _cookie_checkouts(request)
    if cookie.token:
        return cookie.token
    # A session from before the cookie keeps its own.
    token = request.session.get(VISITOR_TOKEN_KEY) or secrets.token_urlsafe(24)
    cookie.token, cookie.changed = token, True
    return token


def remember_checkout(request: HttpRequest, enrollment_id) -> None:
    """Let this browser see its own checkout pages later (and nobody else's): the last
    ``REMEMBERED_CHECKOUTS``, as ``str(pk)`` (JSON has no ObjectId; sessions from before hold
    ints; both are read)."""
    key = str(enrollment_id)
    if request.user.is_authenticated:
        ids = [i for i in request.session.get(VISITOR_CHECKOUTS_KEY, []) if str(i) != key]
        request.session[VISITOR_CHECKOUTS_KEY] = [*ids[1 - REMEMBERED_CHECKOUTS :], key]
        return
    cookie = _cookie_checkouts(request)
    ids = [i for i in cookie.ids if i != key]
    cookie.ids, cookie.changed = [*ids[1 - REMEMBERED_CHECKOUTS :], key], True


def remembered_checkouts(request: HttpRequest) -> list:
    """A signed-in browser's checkouts are in its session (logging out ends them); an
    anonymous one's in its cookie (and in a session from before the cookie)."""
    session_ids = request.session.get(VISITOR_CHECKOUTS_KEY, [])
    if request.user.is_authenticated:
        return session_ids
    return [*_cookie_checkouts(request).ids, *session_ids]


def move_checkouts_into_the_session(request: HttpRequest) -> None:
    """At sign-in: the anonymous checkout cookie's token and checkouts go into the session,
    which logging out flushes, and the cookie is deleted (``enrollments.middleware``), so they
    never outlive the signed-in session on a shared browser."""
    cookie = _cookie_checkouts(request)
    if cookie.token and not request.session.get(VISITOR_TOKEN_KEY):
        request.session[VISITOR_TOKEN_KEY] = cookie.token
    if cookie.ids:
        known = [str(i) for i in request.session.get(VISITOR_CHECKOUTS_KEY, [])]
        ids = [*known, *(i for i in cookie.ids if i not in known)]
        request.session[VISITOR_CHECKOUTS_KEY] = ids[-REMEMBERED_CHECKOUTS:]
    forget_checkout_cookie(request)


def forget_checkout_cookie(request: HttpRequest) -> None:
    if CHECKOUT_COOKIE in request.COOKIES:
        request.forget_checkout_cookie = True
