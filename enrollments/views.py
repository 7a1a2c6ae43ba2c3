import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import verified_email_of
from courses.selectors import published_course

from . import selectors, services, stripe_gateway
from .forms import CheckoutForm

logger = logging.getLogger(__name__)

VISITOR_CHECKOUTS_KEY = "checkout_enrollment_ids"


def _course_or_404(slug: str):
    course = published_course(slug)
    if course is None:
        raise Http404("No such course")
    return course


def _remember_checkout(request: HttpRequest, enrollment_id: int) -> None:
    """Let this browser see its own success page later (and nobody else's)."""
    ids = [i for i in request.session.get(VISITOR_CHECKOUTS_KEY, []) if i != enrollment_id]
    request.session[VISITOR_CHECKOUTS_KEY] = [*ids[-19:], enrollment_id]


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, slug: str) -> HttpResponse:
    course = _course_or_404(slug)
    verified_email = verified_email_of(request.user)
    form = CheckoutForm(request.POST or None, fixed_email=verified_email)
    context = {
        "course": course,
        "form": form,
        "payments_configured": stripe_gateway.is_configured(),
    }
    if request.method == "POST" and form.is_valid():
        try:
            enrollment = services.start_checkout(
                course=course, email=form.cleaned_data["email"], user=request.user
            )
        except services.AlreadyEnrolled as error:
            context.update(error=error.message, already_enrolled=True)
        except services.CheckoutFailed as error:
            logger.error("event=checkout.failed course=%s", course.slug)
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
            # 303: the browser must GET Stripe's page, never re-POST our form there.
            response = HttpResponseRedirect(enrollment.checkout_url)
            response.status_code = 303
            return response
    status = 400 if request.method == "POST" else 200
    return render(request, "enrollments/checkout.html", context, status=status)


def _checkout_page_enrollment(request: HttpRequest, session_id: str):
    enrollment = selectors.enrollment_for_checkout_page(
        session_id=session_id,
        user=request.user,
        visitor_enrollment_ids=request.session.get(VISITOR_CHECKOUTS_KEY, []),
    )
    if enrollment is None:
        raise Http404("No such checkout")
    if services.refresh_from_stripe(enrollment) is not None:
        enrollment.refresh_from_db()
    return enrollment


@require_GET
def checkout_success(request: HttpRequest) -> HttpResponse:
    enrollment = _checkout_page_enrollment(request, request.GET.get("session_id", ""))
    return render(request, "enrollments/success.html", {"enrollment": enrollment})


@require_GET
def checkout_status(request: HttpRequest) -> HttpResponse:
    """The success page's live part, polled by htmx until the payment settles."""
    enrollment = _checkout_page_enrollment(request, request.GET.get("session_id", ""))
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


@csrf_exempt  # Stripe cannot send a CSRF token; the signature authenticates the request.
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > settings.STRIPE_WEBHOOK_MAX_BYTES:
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
