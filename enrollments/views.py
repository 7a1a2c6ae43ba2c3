import logging
import secrets

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import verified_email_of
from affiliates.selectors import referral_code_from_request
from common.ratelimits import RateLimitUnavailable, over_ip_or_email_limit, over_limit, rate_limited
from courses.selectors import published_course

from . import selectors, services, stripe_gateway
from .forms import CheckoutForm

logger = logging.getLogger(__name__)

VISITOR_CHECKOUTS_KEY = "checkout_enrollment_ids"
VISITOR_TOKEN_KEY = "checkout_visitor_token"  # noqa: S105 (a session key name)
COUPON_CHECKS_DOWN = (
    "Coupon codes cannot be checked right now. Please try again in a few minutes, or continue "
    "without a coupon."
)


def _course_or_404(slug: str):
    course = published_course(slug)
    if course is None:
        raise Http404("No such course")
    return course


def _visitor_token(request: HttpRequest) -> str:
    """A random token for this browser's session, set when the checkout page is first shown, so
    a double-clicked submit carries the same one."""
    token = request.session.get(VISITOR_TOKEN_KEY)
    if not token:
        token = request.session[VISITOR_TOKEN_KEY] = secrets.token_urlsafe(24)
    return token


def _remember_checkout(request: HttpRequest, enrollment_id: int) -> None:
    """Let this browser see its own checkout pages later (and nobody else's)."""
    ids = [i for i in request.session.get(VISITOR_CHECKOUTS_KEY, []) if i != enrollment_id]
    request.session[VISITOR_CHECKOUTS_KEY] = [*ids[-19:], enrollment_id]


def _too_many_checkouts(request: HttpRequest) -> int:
    return over_ip_or_email_limit(
        request,
        group="checkout",
        ip_rate=settings.CHECKOUT_RATE_PER_IP,
        email_rate=settings.CHECKOUT_RATE_PER_EMAIL,
    )


def _coupon_attempts_exceeded(request: HttpRequest) -> int:
    """Brute-force guard on coupon codes, per account and per IP; fails closed. 0, or the
    seconds until the limits let a coupon through again."""
    limits = [("ip", settings.COUPON_RATE_PER_IP)]
    if request.user.is_authenticated:
        limits.append(("user", settings.COUPON_RATE_PER_USER))
    return max(
        over_limit(request, group=f"coupon-{key}", key=key, rate=rate, fail_closed=True)
        for key, rate in limits
    )


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, slug: str) -> HttpResponse:
    course = _course_or_404(slug)
    verified_email = verified_email_of(request.user)
    form = CheckoutForm(
        request.POST if request.method == "POST" else None,
        initial={"coupon": request.GET.get("coupon", "")[:40]},
        fixed_email=verified_email,
    )
    referral_code = referral_code_from_request(request)
    visitor_token = _visitor_token(request)
    context = {
        "course": course,
        "form": form,
        "payments_configured": stripe_gateway.is_configured(),
    }
    if request.method == "POST" and (wait := _too_many_checkouts(request)):
        return rate_limited(request, retry_after=wait)
    # Set by the two buttons that answer GrantCheckoutOpen (outside the form's own fields).
    grant_choice = request.POST.get("grant_choice", "") if request.method == "POST" else ""
    grant_choice = grant_choice if grant_choice in services.GRANT_CHOICES else ""
    context["grant_choice"] = grant_choice
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["coupon"] and (wait := _coupon_attempts_exceeded(request)):
                return rate_limited(request, retry_after=wait)
            enrollment = services.start_checkout(
                course=course,
                email=data["email"],
                user=request.user,
                visitor_token=visitor_token,
                coupon_code=data["coupon"],
                referral_code=referral_code,
                referral_refusal_seen=data["referral_acknowledged"],
                grant_choice=grant_choice,
            )
        except RateLimitUnavailable:
            context["error"] = COUPON_CHECKS_DOWN
        except services.GrantCheckoutOpen as notice:
            context["grant_checkout"] = notice
        except services.ReferralNotApplied as notice:
            context["referral_notice"] = notice.message
            form.data = form.data.copy()
            form.data["referral_acknowledged"] = "True"
        except services.AlreadyEnrolled as error:
            context.update(error=error.message, already_enrolled=True)
        except services.CheckoutFailed as error:
            logger.error("event=checkout.failed course_id=%s", course.pk)
            return render(
                request,
                "enrollments/checkout_error.html",
                {"course": course, "error": error.message},
                status=503,
            )
        except services.CheckoutError as error:
            context["error"] = error.message
        else:
            _remember_checkout(request, enrollment.pk)
            if enrollment.status == enrollment.Status.PAID:  # a 100% grant: no payment step
                return redirect("enrollments:enrollment_status", enrollment_id=enrollment.pk)
            # 303: the browser must GET Stripe's page, never re-POST our form there.
            response = HttpResponseRedirect(enrollment.checkout_url)
            response.status_code = 303
            return response
    # The price shown with the form (a submitted coupon is priced by start_checkout).
    context["quote"] = selectors.quote_checkout(
        course=course, email=verified_email or "", user=request.user, referral_code=referral_code
    )
    status = 400 if request.method == "POST" else 200
    if "grant_checkout" in context:
        status = 409  # nothing was wrong with the form: the learner has a choice to make
    return render(request, "enrollments/checkout.html", context, status=status)


def _visible_enrollment(request: HttpRequest, **lookup):
    enrollment = selectors.enrollment_for_visitor(
        user=request.user,
        visitor_enrollment_ids=request.session.get(VISITOR_CHECKOUTS_KEY, []),
        **lookup,
    )
    if enrollment is None:
        raise Http404("No such checkout")
    if services.refresh_from_stripe(enrollment) is not None:
        enrollment.refresh_from_db()
    return enrollment


@require_GET
def checkout_success(request: HttpRequest) -> HttpResponse:
    enrollment = _visible_enrollment(request, session_id=request.GET.get("session_id", ""))
    return render(request, "enrollments/success.html", {"enrollment": enrollment})


@require_GET
def enrollment_status(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    enrollment = _visible_enrollment(request, enrollment_id=enrollment_id)
    return render(request, "enrollments/success.html", {"enrollment": enrollment})


@require_GET
def enrollment_status_fragment(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    """The live part of the status page, polled by htmx until payment and access settle."""
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
