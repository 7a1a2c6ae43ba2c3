"""The learner's account page: their data as JSON, and deleting the account."""

import json
import logging

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import verified_email_of
from affiliates.selectors import affiliate_for_user
from common.ratelimits import Limit, rate_limit

from .forms import DeleteAccountForm
from .services import privacy

logger = logging.getLogger(__name__)

CHECKS_DOWN = (
    "Your account cannot be deleted right now: we cannot check the request. Nothing was "
    "changed; please try again in a few minutes."
)

# Data exports per user (fail open); deletion attempts per user, which guard the password check
# against guessing (fail closed).
EXPORTS = Limit("account-export", key="user", rate="ACCOUNT_EXPORT_RATE")
DELETION_ATTEMPTS = Limit(
    "account-delete", key="user", rate="ACCOUNT_DELETE_RATE", fail_closed=True
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
@rate_limit(EXPORTS)
def export_data(request: HttpRequest) -> HttpResponse:
    """The learner's data as a JSON download (POST: CSRF-protected, never cached)."""
    data = privacy.export_account_data(request.user)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    filename = f"maaledu-data-{timezone.now():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    logger.info("event=account.exported user_id=%s", request.user.pk)
    return response


def _deletion_checks_down(request: HttpRequest) -> HttpResponse:
    """The deletion attempts cannot be counted: nothing is checked or changed."""
    form = DeleteAccountForm(request.POST, user=request.user)
    context = {"form": form, "error": CHECKS_DOWN}
    return render(request, "enrollments/delete_account.html", context, status=503)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@rate_limit(DELETION_ATTEMPTS, unavailable=_deletion_checks_down)
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None, user=request.user)
    error = None
    if request.method == "POST" and form.is_valid():
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
