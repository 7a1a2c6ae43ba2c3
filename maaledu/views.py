import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.static import serve

logger = logging.getLogger(__name__)


def media(request: HttpRequest, path: str):
    """A file under MEDIA_ROOT (course covers), when the site serves media (SERVE_MEDIA)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


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


def rate_limited(request: HttpRequest, exception: Exception):
    """django-ratelimit's answer to a limited request: 429 in the site layout, or JSON."""
    retry_after = str(getattr(exception, "retry_after", 60))
    if "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse(
            {"error": "rate_limited", "detail": "Too many requests. Try again later."}, status=429
        )
    else:
        response = render(request, "429.html", {"retry_after": retry_after}, status=429)
    response["Retry-After"] = retry_after
    return response


def too_many_requests(request: HttpRequest, exception: Exception | None = None):
    """``handler429`` for allauth's own limits (login, signup, password reset)."""
    return rate_limited(request, exception or Exception())
