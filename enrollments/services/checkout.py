"""Checkout: the price the server decides, the one open checkout per learner and course, and
the Stripe Checkout Session (or, for a 100% grant, the paid enrollment straight away)."""

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import normalize_email
from accounts.selectors import verified_email_of
from common.money import format_money
from common.transactions import guarded_insert
from courses.models import Course
from grants import services as grant_services
from grants.models import Grant

from .. import stripe_gateway
from ..errors import CheckoutError, CouponNotAccepted
from ..models import Enrollment
from ..selectors import Quote, quote_checkout
from .fulfilment import (
    ALREADY_FULFILLED,
    FULFILLED,
    RESERVATION_GRACE,
    announce_paid_on_commit,
    fulfil_checkout_session,
    paid_fields,
    release_reservation,
)
from .transitions import transition

logger = logging.getLogger(__name__)

Status = Enrollment.Status

# A pending checkout this close to its expiry is not handed out again.
REUSE_MARGIN = timedelta(minutes=5)


class AlreadyEnrolled(CheckoutError):
    message = "You are already enrolled in this course."

    def page_context(self) -> dict:
        return {"error": self.message, "already_enrolled": True}


class PaymentsUnavailable(CheckoutError):
    message = (
        "Paid checkout is not set up on this site yet. An administrator must set "
        "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET (see the README)."
    )


class CheckoutFailed(CheckoutError):
    message = (
        "Our payment provider could not be reached, so nothing was charged. "
        "Please try again in a few minutes."
    )
    status = 503


class PaymentInProgress(CheckoutError):
    message = (
        "A payment for this course is still being confirmed. We will e-mail you as soon as "
        "it completes; there is no need to pay again."
    )


class CheckoutOpenElsewhere(CheckoutError):
    message = (
        "A checkout for this course and e-mail is already open in another browser. Finish it "
        "there, or try again once it expires (within about an hour)."
    )


class ReferralNotApplied(CheckoutError):
    """The buyer is the referring affiliate: they must see why before paying without it (the
    form's next submit acknowledges it)."""

    def page_context(self) -> dict:
        return {"referral_notice": self.message}


# What the learner chose after ``GrantCheckoutOpen``: go back to the checkout priced with their
# grant coupon, or knowingly drop it for this checkout.
KEEP_GRANT = "keep"
DROP_GRANT = "drop"
GRANT_CHOICES = (KEEP_GRANT, DROP_GRANT)


class GrantCheckoutOpen(CheckoutError):
    """The learner's own open checkout holds their grant coupon and this one would drop it
    (cancel the discounted session, give the coupon back, charge more). Nothing was changed:
    they must choose (``KEEP_GRANT`` or ``DROP_GRANT``)."""

    message = "You already have a checkout open for this course with your grant coupon."
    status = 409  # nothing was wrong with the form: the learner has a choice to make

    def __init__(self, *, open_checkout: "Enrollment", quote: "Quote"):
        super().__init__()
        self.open_checkout = open_checkout
        self.quote = quote

    def page_context(self) -> dict:
        return {"grant_checkout": self}

    @property
    def discount_percent(self) -> int:
        return self.open_checkout.grant.discount_percent

    @property
    def discounted_display(self) -> str:
        return self.open_checkout.amount_due_display

    @property
    def new_price_display(self) -> str:
        return format_money(self.quote.amount_due_cents, self.quote.currency)


def open_checkout_of(*, course: Course, email: str) -> Enrollment | None:
    return Enrollment.objects.filter(
        email=normalize_email(email), course=course, status=Status.PENDING
    ).first()


def visitor_hash_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest() if token else ""


def _opened_by_caller(enrollment: Enrollment, *, user, visitor_hash: str) -> bool:
    """The browser that opened this checkout, or the account it belongs to, is asking."""
    if visitor_hash and enrollment.visitor_hash == visitor_hash:
        return True
    if user is None or not user.is_authenticated:
        return False
    return enrollment.user_id == user.pk or enrollment.email == verified_email_of(user)


def _check_open_checkout(existing: Enrollment | None, *, user, visitor_hash: str) -> None:
    """Someone else's live checkout is neither handed over nor canceled (typing a learner's
    e-mail must not take over or disturb their payment)."""
    if existing is None or _opened_by_caller(existing, user=user, visitor_hash=visitor_hash):
        return
    if existing.expires_at is None:
        raise PaymentInProgress()
    if existing.expires_at > timezone.now():
        raise CheckoutOpenElsewhere()


def _own_grant_checkout(
    existing: Enrollment | None, *, user, visitor_hash: str
) -> Enrollment | None:
    """The caller's own open checkout priced with a grant coupon (its grant loaded), or None."""
    if existing is None or existing.grant_id is None or existing.expires_at is None:
        return None
    if not _opened_by_caller(existing, user=user, visitor_hash=visitor_hash):
        return None
    existing.grant = Grant.objects.get(pk=existing.grant_id)
    return existing


def start_checkout(
    *,
    course: Course,
    email: str,
    user=None,
    visitor_token: str = "",
    coupon_code: str = "",
    referral_code: str | None = None,
    referral_refusal_seen: bool = False,
    grant_choice: str = "",
) -> Enrollment:
    """Open (or reuse) the learner's checkout; a 100% grant enrols them at once.

    ``visitor_token`` identifies the browser (its session), so a double click reuses its own
    checkout while another browser typing the same e-mail cannot take it over.

    Returns the enrollment: ``paid`` for a full grant, else ``pending`` with the
    ``checkout_url`` where the learner pays. Raises, with nothing changed,
    ``GrantCheckoutOpen`` when this checkout would drop the grant coupon of the learner's own
    open checkout (``grant_choice`` answers it), and ``ReferralNotApplied`` for a self-referral
    the learner has not yet been told about.
    """
    email = normalize_email(email)
    visitor_hash = visitor_hash_of(visitor_token)
    existing = _open_checkout_unless_enrolled(course=course, email=email)
    _check_open_checkout(existing, user=user, visitor_hash=visitor_hash)
    grant_checkout = _own_grant_checkout(existing, user=user, visitor_hash=visitor_hash)
    if grant_checkout is not None and grant_choice == KEEP_GRANT and not coupon_code.strip():
        coupon_code = grant_checkout.grant.coupon_code or ""
    quote = quote_checkout(
        course=course,
        email=email,
        user=user,
        coupon_code=coupon_code,
        referral_code=referral_code,
        holder_enrollment_id=existing.pk if existing else None,
    )
    if (
        grant_checkout is not None
        and (quote.grant is None or quote.grant.pk != grant_checkout.grant_id)
        and grant_choice != DROP_GRANT
    ):
        raise GrantCheckoutOpen(open_checkout=grant_checkout, quote=quote)
    if quote.referral_refusal and not referral_refusal_seen:
        raise ReferralNotApplied(quote.referral_refusal)
    if quote.kind == Enrollment.Kind.FULL_GRANT:
        return _enrol_with_full_grant(course=course, email=email, user=user, quote=quote)
    if not stripe_gateway.is_configured():
        raise PaymentsUnavailable()
    enrollment = _pending_enrollment(
        course=course,
        email=email,
        user=user,
        quote=quote,
        visitor_hash=visitor_hash,
        existing=existing,
    )
    if enrollment.grant_id:
        _reserve_coupon(enrollment)
    if enrollment.checkout_url:
        return enrollment
    return _attach_checkout_session(enrollment, course)


def _open_checkout_unless_enrolled(*, course: Course, email: str) -> Enrollment | None:
    """The learner's open checkout for the course, if any; ``AlreadyEnrolled`` if they paid.

    One query for both: the unique constraints allow one paid and one pending row at most.
    """
    rows = Enrollment.objects.filter(
        email=email, course=course, status__in=(Status.PAID, Status.PENDING)
    ).order_by()
    existing = None
    for enrollment in rows:
        if enrollment.status == Status.PAID:
            raise AlreadyEnrolled()
        existing = enrollment
    return existing


def _user_or_none(user):
    return user if user is not None and user.is_authenticated else None


def _pending_enrollment(
    *,
    course: Course,
    email: str,
    user,
    quote: Quote,
    visitor_hash: str,
    existing: Enrollment | None,
) -> Enrollment:
    """The one open checkout for (email, course): reused if its terms still hold, else replaced.

    ``existing`` is the open checkout the caller found (and checked) just before. The partial
    unique constraint on pending enrollments decides between concurrent requests: the loser of
    the insert looks again and reuses the winner's row.
    """
    for attempt in range(3):
        if attempt:
            existing = open_checkout_of(course=course, email=email)
            _check_open_checkout(existing, user=user, visitor_hash=visitor_hash)
        if existing is not None:
            if _reusable(existing, quote):
                return existing
            close_pending(existing)
            continue
        try:
            with guarded_insert():
                return Enrollment.objects.create(
                    email=email,
                    user=_user_or_none(user),
                    course=course,
                    kind=quote.kind,
                    list_price_cents=quote.list_price_cents,
                    discount_cents=quote.discount_cents,
                    amount_due_cents=quote.amount_due_cents,
                    currency=quote.currency,
                    grant=quote.grant,
                    affiliate=quote.affiliate,
                    visitor_hash=visitor_hash,
                    expires_at=timezone.now()
                    + timedelta(minutes=settings.CHECKOUT_SESSION_MINUTES),
                )
        except IntegrityError:
            continue
    raise CheckoutFailed()


def _reusable(enrollment: Enrollment, quote: Quote) -> bool:
    if enrollment.expires_at is None:
        # Checkout completed with a delayed payment method: the bank has not answered yet.
        raise PaymentInProgress()
    return quote.matches(enrollment) and enrollment.expires_at > timezone.now() + REUSE_MARGIN


def close_pending(enrollment: Enrollment) -> None:
    """Retire an open checkout that cannot be reused: expired ones expire, others are canceled.

    Its Stripe session is expired first, even in its last minutes, so it can never be paid
    alongside its replacement; if Stripe says it was paid a moment ago, that payment is
    fulfilled instead. Stripe unreachable: ``CheckoutFailed``, and nothing changes.
    """
    if enrollment.stripe_session_id:
        _expire_at_stripe(enrollment.stripe_session_id)
    expired = enrollment.expires_at is not None and enrollment.expires_at <= timezone.now()
    if transition(enrollment.pk, Status.PENDING, Status.EXPIRED if expired else Status.CANCELED):
        release_reservation(enrollment)


def _expire_at_stripe(session_id: str) -> None:
    try:
        stripe_gateway.expire_checkout_session(session_id)
        return
    except stripe_gateway.PaymentsNotConfigured:
        raise CheckoutFailed()
    except stripe_gateway.GatewayError:
        pass  # not open any more, or Stripe is down: ask what state it is in
    try:
        session = stripe_gateway.retrieve_checkout_session(session_id)
    except stripe_gateway.GatewayError:
        raise CheckoutFailed()
    if fulfil_checkout_session(session) in (FULFILLED, ALREADY_FULFILLED):
        raise AlreadyEnrolled()
    if session.get("status") != "expired":
        raise PaymentInProgress()


def _reserve_coupon(enrollment: Enrollment) -> None:
    try:
        grant_services.reserve_coupon(
            grant_id=enrollment.grant_id,
            enrollment_id=enrollment.pk,
            until=enrollment.expires_at + RESERVATION_GRACE,
        )
    except grant_services.CouponRefused as refusal:
        # Another checkout won the coupon between our check and our claim: this one ends.
        transition(enrollment.pk, Status.PENDING, Status.CANCELED)
        raise CouponNotAccepted(refusal)


def _attach_checkout_session(enrollment: Enrollment, course: Course) -> Enrollment:
    success_url = (
        settings.SITE_URL
        + reverse("enrollments:checkout_success")
        + "?session_id={CHECKOUT_SESSION_ID}"
    )
    cancel_url = settings.SITE_URL + reverse("enrollments:checkout_cancel", args=[course.slug])
    try:
        session = stripe_gateway.create_checkout_session(
            enrollment_id=enrollment.pk,
            course_title=course.title,
            amount_cents=enrollment.amount_due_cents,
            currency=enrollment.currency,
            customer_email=enrollment.email,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=enrollment.expires_at,
        )
    except stripe_gateway.GatewayError:
        if transition(
            enrollment.pk,
            Status.PENDING,
            Status.FAILED,
            only_if={"stripe_session_id__isnull": True},
        ):
            release_reservation(enrollment)
        raise CheckoutFailed()
    attached = (
        Enrollment.objects.filter(pk=enrollment.pk, status=Status.PENDING)
        .filter(Q(stripe_session_id__isnull=True) | Q(stripe_session_id=session.id))
        .update(
            stripe_session_id=session.id, checkout_url=session.url, expires_at=session.expires_at
        )
    )
    if not attached or not session.url:
        raise CheckoutFailed()  # canceled or given another session meanwhile
    enrollment.stripe_session_id = session.id
    enrollment.checkout_url = session.url
    enrollment.expires_at = session.expires_at
    logger.info(
        "event=checkout.created enrollment_id=%s kind=%s amount=%s currency=%s",
        enrollment.pk,
        enrollment.kind,
        enrollment.amount_due_cents,
        enrollment.currency,
    )
    return enrollment


def _enrol_with_full_grant(*, course: Course, email: str, user, quote: Quote) -> Enrollment:
    """A 100% coupon: no Stripe. The coupon is claimed and the paid enrollment created in one
    step (``grants.services.claim_coupon_for_free_enrollment``); if creating it fails (the
    learner already owns the course), the claim is released."""
    existing = open_checkout_of(course=course, email=email)
    if existing is not None:
        close_pending(existing)

    def create_paid_enrollment() -> int:
        enrollment = Enrollment.objects.create(
            email=email,
            user=_user_or_none(user),
            course=course,
            kind=Enrollment.Kind.FULL_GRANT,
            list_price_cents=quote.list_price_cents,
            discount_cents=quote.discount_cents,
            amount_due_cents=0,
            currency=quote.currency,
            grant=quote.grant,
            affiliate=quote.affiliate,
            **paid_fields(timezone.now()),
        )
        announce_paid_on_commit(enrollment.pk)
        return enrollment.pk

    try:
        enrollment_id = grant_services.claim_coupon_for_free_enrollment(
            grant_id=quote.grant.pk, create_enrollment=create_paid_enrollment
        )
    except grant_services.CouponRefused as refusal:
        raise CouponNotAccepted(refusal)
    except IntegrityError:
        raise AlreadyEnrolled()
    logger.info("event=checkout.full_grant enrollment_id=%s", enrollment_id)
    return Enrollment.objects.get(pk=enrollment_id)
