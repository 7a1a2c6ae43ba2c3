import logging
import re
import time
import uuid

import redis
from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

from common.logging import request_id_var
from common.routes import method_label, route_name

logger = logging.getLogger(__name__)
request_logger = logging.getLogger("maaledu.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Take a well-formed ``X-Request-ID`` or make one; return it and put it on every log line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class PermissionsPolicyMiddleware:
    """Deny powerful browser features no page of ours uses."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


# Probes and scrapes arrive every few seconds; their lines go to DEBUG so INFO stays readable.
_QUIET_ROUTES = frozenset({"healthz", "readyz", "metrics"})


class RequestLogMiddleware:
    """One line per request: method, route name, status, duration and (from the filter) the
    request id. No path or query string, so no e-mail or token in a URL reaches the log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        route = route_name(request)
        if response.status_code >= 500:
            level = logging.WARNING  # django.request already logs the error with its traceback
        elif route in _QUIET_ROUTES:
            level = logging.DEBUG
        else:
            level = logging.INFO
        request_logger.log(
            level,
            "event=http.request method=%s route=%s status=%s duration_ms=%.1f",
            method_label(request),
            route,
            response.status_code,
            duration_ms,
        )
        return response


class CacheUnavailableMiddleware:
    """Redis down in the middle of a request that cannot do without it (allauth's login, signup
    and password-reset limits count there): a 503 in the site layout, never a 500. Reads that
    can do without the cache catch the error themselves and go to the database."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, redis.RedisError):
            return None
        logger.error("event=cache.unavailable path_name=%s", route_name(request))
        return render(request, "503.html", status=503)


# What parsing a form body can raise: a charset other than UTF-8 (BadRequest), too many or too
# large fields (SuspiciousOperation), a broken multipart body, bytes a declared charset cannot
# decode, a client that hung up mid-body.
_UNREADABLE_BODY = (
    BadRequest,
    SuspiciousOperation,
    MultiPartParserError,
    UnicodeDecodeError,
    UnreadablePostError,
)


def _holds_nul(data) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values) for key, values in data.lists()
    )


class RequestInputMiddleware:
    """Refuse, with the site's 400 page and one log line, input no view should ever see: a form
    body that cannot be decoded, and a NUL character in a query string or form field (no person
    types one, and PostgreSQL refuses it in text). Runs just before the CSRF check, which would
    otherwise be first to read the body and fail with a traceback.

    Views exempt from CSRF (the Stripe webhook) read their raw body themselves: not parsed here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if _holds_nul(request.GET):
            return self._refuse(request, "nul_in_query")
        if request.method != "POST" or getattr(view_func, "csrf_exempt", False):
            return None
        try:
            post = request.POST
        except _UNREADABLE_BODY as error:
            return self._refuse(request, f"unreadable_body:{type(error).__name__}")
        if _holds_nul(post):
            return self._refuse(request, "nul_in_form")
        return None

    def _refuse(self, request, reason: str):
        logger.info("event=http.input_refused route=%s reason=%s", route_name(request), reason)
        return render(request, "400.html", status=400)
