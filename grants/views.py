from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from common.ratelimits import Limit, posted_email_key, rate_limit

from .forms import GrantApplicationForm
from .selectors import open_course_by_slug
from .services import DuplicateApplication, apply_for_grant

_APPLIED_SESSION_KEY = "grants:applied"


# Applications per client IP, then per applicant e-mail; both fail open (error logged).
APPLICATIONS_PER_IP = Limit("grants.apply-ip", key="ip", rate="GRANT_APPLY_RATE_PER_IP")
APPLICATIONS_PER_EMAIL = Limit(
    "grants.apply-email", key=posted_email_key, rate="GRANT_APPLY_RATE_PER_EMAIL"
)


@require_http_methods(["GET", "POST"])
@rate_limit(APPLICATIONS_PER_IP)
@rate_limit(APPLICATIONS_PER_EMAIL)
def apply(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = GrantApplicationForm(request.POST)
        if form.is_valid():
            try:
                grant = apply_for_grant(**form.cleaned_data)
            except DuplicateApplication as duplicate:
                form.add_error(None, duplicate.message)
            else:
                request.session[_APPLIED_SESSION_KEY] = {
                    "email": grant.email,
                    "course": grant.course.title,
                }
                return redirect("grants:thanks")
    else:
        form = GrantApplicationForm(initial=_initial(request))
    return render(request, "grants/apply.html", {"form": form})


def _initial(request: HttpRequest) -> dict:
    initial = {}
    if request.user.is_authenticated:
        initial.update(name=request.user.name, email=request.user.email)
    slug = request.GET.get("course", "")
    if slug:
        initial["course"] = open_course_by_slug(slug)
    return initial


@require_GET
def thanks(request: HttpRequest) -> HttpResponse:
    applied = request.session.get(_APPLIED_SESSION_KEY)
    if not applied:
        return redirect("grants:apply")
    return render(request, "grants/thanks.html", {"applied": applied})
