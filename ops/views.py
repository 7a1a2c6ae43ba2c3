import hmac
import ipaddress

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from common.client_ip import client_ip
from common.metrics import live_registry
from common.routes import primary_key_or_none

from . import charts, selectors, services
from .collectors import BUSINESS_REGISTRY

# --- /metrics ----------------------------------------------------------------------------------


def _ip_allowed(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(entry, strict=False)
        for entry in settings.METRICS_ALLOWED_IPS
    )


def _token_ok(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.METRICS_TOKEN.encode()
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition. Off (404) unless METRICS_TOKEN or METRICS_ALLOWED_IPS is set; each
    one that is set must be satisfied."""
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_IPS:
        raise Http404
    if settings.METRICS_ALLOWED_IPS and not _ip_allowed(request):
        raise PermissionDenied
    if settings.METRICS_TOKEN and not _token_ok(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = generate_latest(live_registry()) + generate_latest(BUSINESS_REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


# --- /admin/ops/ (wrapped in admin.site.admin_view in ops.urls: staff only) ---------------------


def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    lms_backlog_chart, webhook_chart = charts.last_day_charts(now=now)
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "now": now,
        "lms_jobs": selectors.lms_jobs_needing_attention(now=now),
        "stripe_events": selectors.stripe_events_needing_attention(now=now),
        "needs_review": selectors.enrollments_needing_review(),
        "stale_checkouts": selectors.stale_pending_checkouts(now=now),
        "today": selectors.today(now=now),
        "lms_backlog_chart": lms_backlog_chart,
        "webhook_chart": webhook_chart,
        "incidents": selectors.open_incidents(),
        "reconciliation": selectors.latest_reconciliation(),
        "lms_pending_minutes": settings.ALERT_LMS_PENDING_MINUTES,
        "can_retry_lms": request.user.has_perm("enrollments.change_enrollment"),
        "can_reprocess": request.user.has_perm("enrollments.change_stripeevent"),
    }
    return render(request, "ops/dashboard.html", context)


def _selected_ids(request: HttpRequest, field: str) -> list:
    """The row ids the buttons post, as primary keys of this backend's type (integers on SQL,
    ObjectIds on MongoDB); anything else is dropped, never a 500 (``primary_key_or_none``)."""
    ids = (primary_key_or_none(value) for value in request.POST.getlist(field))
    return [pk for pk in ids if pk is not None]


@require_POST
def retry_lms(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("enrollments.change_enrollment"):
        raise PermissionDenied
    ids = _selected_ids(request, "job_id")
    if not ids:
        messages.warning(request, "Select the LMS sync jobs to retry.")
        return redirect("ops:dashboard")
    retried = services.retry_lms_syncs(job_ids=ids, staff_id=request.user.pk)
    messages.success(
        request, f"{retried} LMS sync job(s) are due now and were started; refresh in a minute."
    )
    return redirect("ops:dashboard")


@require_POST
def reprocess_events(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("enrollments.change_stripeevent"):
        raise PermissionDenied
    ids = _selected_ids(request, "event_id")
    if not ids:
        messages.warning(request, "Select the Stripe events to reprocess.")
        return redirect("ops:dashboard")
    result = services.reprocess_stripe_events(event_ids=ids, staff_id=request.user.pk)
    messages.success(request, f"Reprocessed {result.processed} Stripe event(s).")
    if result.failed:
        messages.error(
            request, f"{result.failed} event(s) failed again: see their error below and the logs."
        )
    return redirect("ops:dashboard")
