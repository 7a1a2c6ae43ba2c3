import logging

import redis
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.static import serve

from common.ratelimits import allauth_wait, rate_limited

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
    """One cheap ORM read (a table every migrated database has), so it is the same check on
    SQL databases and MongoDB (which has no SQL cursor): the database answers and is migrated.
    On MongoDB a down server fails after the client's ``serverSelectionTimeoutMS`` (set it in
    ``DATABASE_URL``; pymongo's default is 30 s)."""
    try:
        ContentType.objects.order_by().values_list("pk", flat=True).first()
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


def too_many_requests(request: HttpRequest, exception: Exception | None = None):
    """``handler429`` for allauth's own limits (login, signup, password reset)."""
    return rate_limited(request, exception, retry_after=allauth_wait(request))
