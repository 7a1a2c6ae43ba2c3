from django.conf import settings
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.encoding import escape_uri_path

from common.ratelimits import Limit

from . import referral_codes, services
from .cookies import (
    REFERRAL_COOKIE,
    VISITOR_COOKIE,
    VISITOR_COOKIE_MAX_AGE,
    attribution_window,
    encode_referral,
    normalize_code,
    visitor_id_from,
    visitor_key,
)
from .selectors import active_affiliate_by_old_link

# ?ref= visits that may record a click, per client IP. Not a view: the middleware counts it.
REFERRAL_CLICKS = Limit("affiliates.referral_click", key="ip", rate="REFERRAL_CLICK_RATE")


class ReferralMiddleware:
    """A GET with ``?ref=<code>`` of an active affiliate records a click (once per visitor and
    day) and sets the signed ``maaledu_ref`` cookie: the latest valid click wins. An old MaalEdu
    link (``?ref=<affiliate e-mail>``) counts the same while ``LEGACY_REF_LINKS_UNTIL`` lasts,
    as the affiliate's code (the address goes nowhere), and the visitor is redirected to the same
    page without it, so the address is not echoed by what copies the URL (a login's ``?next=``).
    Anything else (unknown, suspended, malformed, rate limited) is ignored and the page renders
    as usual."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        click = self._click(request) if request.method == "GET" and "ref" in request.GET else None
        response = self.get_response(request)
        if click is not None:
            self._set_cookies(request, response, *click)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # In process_view, after RequestInputMiddleware's: junk (NUL) still gets its 400 first.
        if request.method == "GET" and "@" in request.GET.get("ref", ""):
            return _without_ref(request)
        return None

    def _click(self, request):
        raw = request.GET.get("ref")
        code = normalize_code(raw)
        if code is None and ("@" not in (raw or "") or settings.LEGACY_REF_LINKS_UNTIL is None):
            return None
        # Without a visitor cookie every request is a new visitor: the per-IP limit bounds that.
        # Fails open: with the cache down we would rather count a click than break the page.
        if REFERRAL_CLICKS.wait(request):
            return None
        if code is not None:
            affiliate_id = referral_codes.active_affiliate_id(code)
        else:
            # An old MaalEdu link names the affiliate by e-mail: from here on it is their code.
            affiliate = active_affiliate_by_old_link(raw)
            affiliate_id = affiliate.pk if affiliate is not None else None
            code = affiliate.referral_code if affiliate is not None else None
        if affiliate_id is None:
            return None
        now = timezone.now()
        visitor_id, new_visitor = visitor_id_from(request.COOKIES.get(VISITOR_COOKIE))
        services.record_referral_click(
            affiliate_id=affiliate_id,
            visitor_key=visitor_key(visitor_id),
            day=timezone.localdate(now),
        )
        # Checkout on this very request (a ?ref= link straight to it) sees the new referral.
        request.affiliate_referral_code = code
        return code, now, visitor_id if new_visitor else None

    def _set_cookies(self, request, response, code, clicked_at, new_visitor_id) -> None:
        secure = request.is_secure()
        response.set_cookie(
            REFERRAL_COOKIE,
            encode_referral(code, clicked_at),
            max_age=int(attribution_window().total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=secure,
        )
        if new_visitor_id is not None:
            response.set_cookie(
                VISITOR_COOKIE,
                new_visitor_id,
                max_age=VISITOR_COOKIE_MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=secure,
            )


def _without_ref(request) -> HttpResponseRedirect:
    """This page's own address without ``ref``: an old link's e-mail goes no further. Always a
    path on this site ("//host" is collapsed, so it is never an open redirect)."""
    query = request.GET.copy()
    query.pop("ref", None)
    path = "/" + escape_uri_path(request.path).lstrip("/")
    return HttpResponseRedirect(f"{path}?{query.urlencode()}" if query else path)
