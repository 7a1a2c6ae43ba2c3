from allauth.account.decorators import verified_email_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache

from common.ratelimits import Limit, rate_limit

from . import charts, dashboard_cache
from .dashboard import affiliate_dashboard
from .forms import JoinForm
from .models import Affiliate
from .selectors import Dashboard, affiliate_for_user, payout_minimum_display
from .services import join_affiliate_programme


def _terms() -> dict:
    return {
        "rate_percent": settings.AFFILIATE_DEFAULT_RATE_PERCENT,
        "cookie_days": settings.AFFILIATE_COOKIE_DAYS,
        "refund_window_days": settings.COMMISSION_REFUND_WINDOW_DAYS,
        "payout_minimum": payout_minimum_display(),
    }


# Join posts per user; fails open (error logged).
JOIN_ATTEMPTS = Limit("affiliates.join", key="user", rate="AFFILIATE_JOIN_RATE")


@never_cache
@verified_email_required
@rate_limit(JOIN_ATTEMPTS)
def join(request: HttpRequest) -> HttpResponse:
    if affiliate_for_user(request.user) is not None:
        messages.info(request, "You are already an affiliate: here is your dashboard.")
        return redirect("affiliates:dashboard")
    form = JoinForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            join_affiliate_programme(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Welcome to the affiliate programme! Share your link.")
            return redirect("affiliates:dashboard")
    return render(request, "affiliates/join.html", {"form": form, "terms": _terms()})


# Where a whole dashboard page has its visitor's CSRF token: put in at every view, so a cached
# page serves everyone its own. An HTML comment: no escaped text can contain it.
CSRF_SLOT = mark_safe("<!--csrf-token-->")
_CSRF_SLOT_BYTES = CSRF_SLOT.encode()


def _shown(user, affiliate: Affiliate) -> tuple:
    """What the page shows beside the dashboard's cached figures: the affiliate's row (rate,
    payout details, status, link) and the staff link of the navigation."""
    return (
        user.is_staff,
        tuple(getattr(affiliate, field.attname) for field in Affiliate._meta.concrete_fields),
    )


def _page_shown(page) -> int:
    """Which page of sales the paginator shows for ``?page=``, as the cached page's key: the
    first for anything not a whole number, the last (0 here) for one below 1, else that one
    (the last when out of range; at most 10**6, past any real history)."""
    try:
        number = int(page)
    except (TypeError, ValueError):
        return 1
    return 0 if number < 1 else min(number, 10**6)


@never_cache
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The whole page from the cache while every figure it shows is current (one round trip);
    drawn again, and cached, after any change. A visitor with a message waiting gets it drawn
    for them alone. Kept as UTF-8 bytes: served without decoding or encoding its ~40 kB."""
    affiliate = affiliate_for_user(request.user)
    if affiliate is None:
        messages.info(request, "Join the affiliate programme to get your referral link.")
        return redirect("affiliates:join")
    page = request.GET.get("page", 1)
    if len(messages.get_messages(request)):
        keys, page_key, content = dashboard_cache.keys(affiliate.pk), None, None
    else:
        shown = _shown(request.user, affiliate)
        page_key = dashboard_cache.page_key(affiliate.pk, _page_shown(page))
        keys, content = dashboard_cache.page(affiliate.pk, page_key, shown)
    if content is None:
        data = affiliate_dashboard(affiliate=affiliate, page=page, keys=keys)
        content = render_to_string(
            "affiliates/dashboard.html",
            {
                "dashboard": data,
                "history": _history_html(request, data),
                "activity": _activity_html(data),
                "cookie_days": settings.AFFILIATE_COOKIE_DAYS,
                "csrf_token": CSRF_SLOT,
            },
            request,
        ).encode()
        if page_key is not None and keys is not None:
            dashboard_cache.put(page_key, (keys.page_stamp(shown), content))
    return HttpResponse(content.replace(_CSRF_SLOT_BYTES, get_token(request).encode()))


def _history_html(request: HttpRequest, data: Dashboard) -> str:
    """The dashboard's history tables, rendered once per version of the affiliate's sales
    figures and page of sales: they cost more than the rest of the request together."""
    html = data.history_html
    if html is None:
        html = render_to_string(
            "affiliates/includes/dashboard_history.html",
            {"dashboard": data, "earnings_charts": charts.earnings_charts(data)},
            request,
        )
        dashboard_cache.put(data.history_key, html)
    return html


def _activity_html(data: Dashboard) -> SafeString:
    """The clicks-and-sales chart, drawn once per version of the clicks and sales figures."""
    html = data.activity_html
    if html is None:
        html = charts.activity_chart(data)
        dashboard_cache.put(data.activity_key, html)
    return html
