import logging
import math
import time

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving; checks nothing else."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("event=readyz.database_down")
        return False
    return True


def _redis_ok() -> bool:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
    except redis.RedisError:
        logger.exception("event=readyz.redis_down")
        return False
    return True


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: the database answers and, when configured, so does Redis."""
    checks = {"database": _database_ok()}
    if settings.REDIS_URL:
        checks["redis"] = _redis_ok()
    failed = sorted(name for name, ok in checks.items() if not ok)
    body = {"status": "ok" if not failed else "unavailable", "failed": failed}
    return JsonResponse(body, status=503 if failed else 200)


# --- Error pages -------------------------------------------------------------------------------
# Django's default handlers are wrapped in ``requires_csrf_token``, which reads ``request.POST``:
# when the body itself is what failed (undecodable charset, too many fields), they fail again
# and the error escapes to the WSGI server as a bare 500 with a traceback per request. These
# never touch the request body.


def _error_page(request: HttpRequest, template: str, status: int) -> HttpResponse:
    """The page in the site's layout; if even that cannot render, the standalone 500 page."""
    try:
        return render(request, template, status=status)
    except Exception:
        logger.error("event=error_page.render_failed template=%s status=%s", template, status)
        return HttpResponse(loader.render_to_string("500.html"), status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, "400.html", 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, "403.html", 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, "404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Standalone page: no user, session or database, which may be what failed."""
    return HttpResponse(loader.render_to_string("500.html"), status=500)


# When the real wait cannot be known (django-ratelimit's own decorator): a minute.
DEFAULT_RETRY_AFTER = 60


def rate_limited(
    request: HttpRequest, exception: Exception | None = None, *, retry_after: int | None = None
):
    """A limited request: 429 in the site layout, or JSON, with ``Retry-After`` the seconds
    until the limit's window resets (``maaledu.ratelimits.over_limit`` gives them)."""
    seconds = retry_after or getattr(exception, "retry_after", None) or DEFAULT_RETRY_AFTER
    if "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse(
            {"error": "rate_limited", "detail": "Too many requests. Try again later."}, status=429
        )
    else:
        context = {"retry_after": seconds, "wait": _wait_in_words(seconds)}
        response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def _wait_in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = -(-seconds // 60)  # rounded up: never promise less than the wait
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


# allauth's actions by the URL name of the view that counts them.
_ALLAUTH_ACTIONS = {
    "account_login": "login",
    "account_signup": "signup",
    "account_reset_password": "reset_password",
    "account_reset_password_from_key": "reset_password_from_key",
}


def _allauth_wait(request: HttpRequest) -> int | None:
    """Seconds until allauth lets this request's action through again: for each of the action's
    rates that is full, until the oldest hit still counting leaves its sliding window. Reads
    allauth's counters through its internal module (no public API); None if that fails."""
    from allauth.core.internal import ratelimit as allauth_ratelimit
    from django.core.cache import cache

    match = getattr(request, "resolver_match", None)
    action = _ALLAUTH_ACTIONS.get(match.url_name if match else "")
    if action is None:
        return None
    try:
        waits = []
        now = time.time()
        for rate in allauth_ratelimit.get_rates(app="allauth.account", action=action):
            key = request.POST.get("email", "").lower() if rate.per == "key" else None
            if rate.per == "key" and not key:
                continue
            cache_key = allauth_ratelimit.get_cache_key(
                request, app="allauth.account", action=action, rate=rate, key=key
            )
            history = [hit for hit in cache.get(cache_key, []) if hit > now - rate.duration]
            if len(history) >= rate.amount:
                waits.append(history[rate.amount - 1] + rate.duration - now)
    except Exception:
        logger.warning("event=ratelimit.allauth_wait_unknown action=%s", action)
        return None
    return max(math.ceil(max(waits)), 1) if waits else None


def too_many_requests(request: HttpRequest, exception: Exception | None = None):
    """``handler429`` for allauth's own limits (login, signup, password reset)."""
    return rate_limited(request, exception, retry_after=_allauth_wait(request))
