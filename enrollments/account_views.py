"""The learner's account page: their data as JSON, and deleting the account."""

import json
import logging

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.exceptions import Ratelimited

from accounts.selectors import verified_email_of
from affiliates.selectors import affiliate_for_user
from common.ratelimits import RateLimitUnavailable, over_limit, rate_limited

from .forms import DeleteAccountForm
from .services import privacy

logger = logging.getLogger(__name__)

CHECKS_DOWN = (
    "Your account cannot be deleted right now: we cannot check the request. Nothing was "
    "changed; please try again in a few minutes."
)


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    context = {
        "verified": verified_email_of(request.user) is not None,
        "affiliate": affiliate_for_user(request.user),
    }
    return render(request, "enrollments/account.html", context)


@never_cache
@login_required
@require_POST
def export_data(request: HttpRequest) -> HttpResponse:
    """The learner's data as a JSON download (POST: CSRF-protected, never cached)."""
    if over_limit(request, group="account-export", key="user", rate=settings.ACCOUNT_EXPORT_RATE):
        return rate_limited(request, Ratelimited())
    data = privacy.export_account_data(request.user)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    filename = f"maaledu-data-{timezone.now():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    logger.info("event=account.exported user_id=%s", request.user.pk)
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None, user=request.user)
    error = None
    if request.method == "POST":
        try:
            # Guards the password check against guessing; fails closed.
            limited = over_limit(
                request,
                group="account-delete",
                key="user",
                rate=settings.ACCOUNT_DELETE_RATE,
                fail_closed=True,
            )
        except RateLimitUnavailable:
            context = {"form": form, "error": CHECKS_DOWN}
            return render(request, "enrollments/delete_account.html", context, status=503)
        if limited:
            return rate_limited(request, Ratelimited())
        if form.is_valid():
            try:
                privacy.delete_account(request.user)
            except privacy.DeletionRefused as refusal:
                error = refusal.message
            else:
                logout(request)
                return redirect("enrollments:account_deleted")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "enrollments/delete_account.html", {"form": form, "error": error}, status=status
    )


@require_GET
def account_deleted(request: HttpRequest) -> HttpResponse:
    return render(request, "enrollments/account_deleted.html")
