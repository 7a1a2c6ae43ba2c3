import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import verified_email_of
from affiliates.selectors import referral_code_from_request
from common.ratelimits import Limit, posted_email_key, rate_limit, signed_in
from courses.selectors import published_course

from . import selectors, services, stripe_gateway
from .browser_checkouts import (
    keeps_checkout_cookie,
    remember_checkout,
    remembered_checkouts,
    visitor_token,
)
from .forms import CheckoutForm

logger = logging.getLogger(__name__)

COUPON_CHECKS_DOWN = (
    "Coupon codes cannot be checked right now. Please try again in a few minutes, or continue "
    "without a coupon."
)


def _course_or_404(slug: str):
    course = published_course(slug)
    if course is None:
        raise Http404("No such course")
    return course


def _buyer_email_key(group: str, request: HttpRequest) -> str:
    """The e-mail the checkout is for: a verified learner's own (their form does not post the
    field: it is fixed), else the one posted."""
    return verified_email_of(request.user) or posted_email_key(group, request)


# Checkout submissions per client IP, then per buyer e-mail (fail open); with a coupon, per IP
# and per signed-in user as well, against brute force of codes (fail closed).
CHECKOUTS_PER_IP = Limit("checkout-ip", key="ip", rate="CHECKOUT_RATE_PER_IP")
CHECKOUTS_PER_EMAIL = Limit("checkout-email", key=_buyer_email_key, rate="CHECKOUT_RATE_PER_EMAIL")
COUPON_ATTEMPTS_PER_IP = Limit("coupon-ip", key="ip", rate="COUPON_RATE_PER_IP", fail_closed=True)
COUPON_ATTEMPTS_PER_USER = Limit(
    "coupon-user", key="user", rate="COUPON_RATE_PER_USER", fail_closed=True, applies=signed_in
)


def _posts_a_coupon(request: HttpRequest) -> bool:
    return bool(request.POST.get("coupon", "").strip())


def _checkout_form(request: HttpRequest) -> CheckoutForm:
    return CheckoutForm(
        request.POST if request.method == "POST" else None,
        initial={"coupon": request.GET.get("coupon", "")[:40]},
        fixed_email=verified_email_of(request.user),
    )


def _grant_choice(request: HttpRequest) -> str:
    """Set by the two buttons that answer GrantCheckoutOpen (outside the form's own fields)."""
    choice = request.POST.get("grant_choice", "") if request.method == "POST" else ""
    return choice if choice in services.GRANT_CHOICES else ""


def _checkout_page(
    request: HttpRequest, course, form: CheckoutForm, *, status: int | None = None, **extra
) -> HttpResponse:
    """The checkout form, priced for this learner, with ``extra`` (an error, a notice)."""
    visitor_token(request)
    if "referral_notice" in extra:
        # The learner has now seen why the referral is not applied: the next submit goes ahead.
        form.data = form.data.copy()
        form.data["referral_acknowledged"] = "True"
    context = {
        "course": course,
        "form": form,
        "payments_configured": stripe_gateway.is_configured(),
        "grant_choice": _grant_choice(request),
        **extra,
        # The price shown with the form (a submitted coupon is priced by start_checkout).
        "quote": selectors.quote_checkout(
            course=course,
            email=form.fixed_email or "",
            user=request.user,
            referral_code=referral_code_from_request(request),
        ),
    }
    if status is None:
        status = 400 if request.method == "POST" else 200
    return render(request, "enrollments/checkout.html", context, status=status)


def _coupon_checks_down(request: HttpRequest, slug: str) -> HttpResponse:
    """The coupon attempts cannot be counted (the cache is down): no coupon is tried."""
    course = _course_or_404(slug)
    return _checkout_page(request, course, _checkout_form(request), error=COUPON_CHECKS_DOWN)


def _checkout_refused(
    request: HttpRequest, course, form: CheckoutForm, error: services.CheckoutError
) -> HttpResponse:
    if error.status >= 500:
        logger.error("event=checkout.failed course_id=%s", course.pk)
        context = {"course": course, "error": error.message}
        return render(request, "enrollments/checkout_error.html", context, status=error.status)
    return _checkout_page(request, course, form, status=error.status, **error.page_context())


@require_http_methods(["GET", "POST"])
@keeps_checkout_cookie
@rate_limit(CHECKOUTS_PER_IP)
@rate_limit(CHECKOUTS_PER_EMAIL)
@rate_limit(
    COUPON_ATTEMPTS_PER_IP,
    COUPON_ATTEMPTS_PER_USER,
    when=_posts_a_coupon,
    unavailable=_coupon_checks_down,
)
def checkout(request: HttpRequest, slug: str) -> HttpResponse:
    course = _course_or_404(slug)
    form = _checkout_form(request)
    if request.method != "POST" or not form.is_valid():
        return _checkout_page(request, course, form)
    data = form.cleaned_data
    try:
        enrollment = services.start_checkout(
            course=course,
            email=data["email"],
            user=request.user,
            visitor_token=visitor_token(request),
            coupon_code=data["coupon"],
            referral_code=referral_code_from_request(request),
            referral_refusal_seen=data["referral_acknowledged"],
            grant_choice=_grant_choice(request),
        )
    except services.CheckoutError as error:
        return _checkout_refused(request, course, form, error)
    remember_checkout(request, enrollment.pk)
    if enrollment.status == enrollment.Status.PAID:  # a 100% grant: no payment step
        return redirect("enrollments:enrollment_status", enrollment_id=enrollment.pk)
    # 303: the browser must GET Stripe's page, never re-POST our form there.
    response = HttpResponseRedirect(enrollment.checkout_url)
    response.status_code = 303
    return response


def _visible_enrollment(request: HttpRequest, **lookup):
    enrollment = selectors.enrollment_for_visitor(
        user=request.user,
        visitor_enrollment_ids=remembered_checkouts(request),
        **lookup,
    )
    if enrollment is None:
        raise Http404("No such checkout")
    return enrollment


def _success_page(request: HttpRequest, enrollment) -> HttpResponse:
    """The status page of a checkout. Loading it may ask Stripe about a pending checkout whose
    webhook is late (at most once per enrollment per STRIPE_REFRESH_COOLDOWN_SECONDS)."""
    if services.refresh_from_stripe(enrollment) is not None:
        enrollment.refresh_from_db()
    return render(request, "enrollments/success.html", {"enrollment": enrollment})


@require_GET
def checkout_success(request: HttpRequest) -> HttpResponse:
    session_id = request.GET.get("session_id", "")
    return _success_page(request, _visible_enrollment(request, session_id=session_id))


@require_GET
def enrollment_status(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    return _success_page(request, _visible_enrollment(request, enrollment_id=enrollment_id))


@require_GET
def enrollment_status_fragment(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    """The live part of the status page, polled by htmx every 3 s until payment and access
    settle: it reads our database only (the webhook moves the row), never Stripe."""
    enrollment = _visible_enrollment(request, enrollment_id=enrollment_id)
    return render(request, "enrollments/includes/checkout_status.html", {"enrollment": enrollment})


@require_GET
def checkout_cancel(request: HttpRequest, slug: str) -> HttpResponse:
    course = _course_or_404(slug)
    return render(request, "enrollments/cancel.html", {"course": course})


@login_required
@require_GET
def my_courses(request: HttpRequest) -> HttpResponse:
    email = verified_email_of(request.user)
    enrollments = list(selectors.paid_enrollments_of(email)) if email else []
    return render(
        request,
        "enrollments/my_courses.html",
        {"enrollments": enrollments, "verified": bool(email)},
    )


@login_required
@require_GET
def my_orders(request: HttpRequest) -> HttpResponse:
    orders = selectors.orders_of(request.user)
    return render(request, "enrollments/my_orders.html", {"orders": orders})


@login_required
@require_GET
def order_receipt(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    """Our receipt for an order: the only one for a free (100% grant) enrollment, a summary
    with links to Stripe's invoice for a paid one."""
    order = selectors.order_of(request.user, enrollment_id)
    if order is None:
        raise Http404("No such order")
    return render(request, "enrollments/receipt.html", {"order": order})


@csrf_exempt  # Stripe cannot send a CSRF token; the signature authenticates the request.
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if (
        not (declared.isascii() and declared.isdigit())
        or int(declared) > settings.STRIPE_WEBHOOK_MAX_BYTES
    ):
        return JsonResponse({"error": "body too large"}, status=413)
    try:
        event = stripe_gateway.parse_webhook(request.body, request.headers.get("Stripe-Signature"))
    except stripe_gateway.InvalidWebhook:
        logger.warning("event=webhook.rejected reason=invalid_signature_or_body")
        return JsonResponse({"error": "invalid signature or payload"}, status=400)
    stripe_event, created = services.record_stripe_event(event)
    if not created and stripe_event.outcome in services.DONE_OUTCOMES:
        return JsonResponse({"status": "duplicate"})
    try:
        result = services.process_stripe_event(stripe_event)
    except Exception:
        return JsonResponse({"status": "failed"}, status=500)
    return JsonResponse({"status": result})
