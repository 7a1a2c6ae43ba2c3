"""Reads for enrollments: a learner's orders and courses, the checkout quote, the staff refund
preview, and lookups for Stripe reconciliation. Nothing here writes."""

import logging
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts.models import normalize_email
from accounts.selectors import verified_email_of
from affiliates import selectors as affiliate_selectors
from affiliates.models import Affiliate
from common.metrics import record_coupon_refusal
from common.money import format_money
from common.refund_policy import refund_policy
from common.routes import primary_key_or_none
from courses.models import Course
from grants import errors as grant_errors
from grants import selectors as grant_selectors
from grants.coupons import coupon_price_cents
from grants.models import Grant

from .errors import CouponNotAccepted, RefundError
from .models import Enrollment, RefundRequest

logger = logging.getLogger(__name__)

Status = Enrollment.Status


def with_course_title(enrollments: QuerySet[Enrollment]) -> QuerySet[Enrollment]:
    """Each enrollment with ``course_title``, the one course field the confirmation e-mail
    shows: joined in, cheaper to build and read than the course row (``select_related``)."""
    return enrollments.annotate(course_title=F("course__title"))


def pk_or_none(value):
    """An enrollment's primary key from an untrusted string (metadata, client_reference_id):
    an int on SQL databases, an ObjectId on MongoDB; None for anything else, never an error."""
    return primary_key_or_none(value, Enrollment._meta.pk)


def enrollments_of_checkout_sessions(sessions: list[dict]) -> dict[str, Enrollment]:
    """Our enrollment of each Stripe Checkout Session, keyed by session id (one query). Found
    by the session id we saved, else by the ``client_reference_id`` we gave Stripe (our process
    may have died before saving the id); a session we never created is missing."""
    ids = [session["id"] for session in sessions]
    refs = {
        session["id"]: ref
        for session in sessions
        if (ref := pk_or_none(session.get("client_reference_id"))) is not None
    }
    rows = list(
        Enrollment.objects.filter(Q(stripe_session_id__in=ids) | Q(pk__in=set(refs.values())))
    )
    by_session = {e.stripe_session_id: e for e in rows if e.stripe_session_id}
    by_pk = {e.pk: e for e in rows}
    found = {}
    for session_id in ids:
        enrollment = by_session.get(session_id) or by_pk.get(refs.get(session_id))
        if enrollment is not None:
            found[session_id] = enrollment
    return found


def paid_enrollments_of(email: str) -> QuerySet[Enrollment]:
    """A learner's courses: paid enrollments of their e-mail, newest first (one query)."""
    return (
        Enrollment.objects.filter(email=email, status=Enrollment.Status.PAID)
        .select_related("course")
        .order_by("-paid_at")
    )


def _orders_filter(user) -> Q:
    """A signed-in learner's purchases: made from their account or with their verified e-mail.

    A purchase is an enrollment that was paid (and perhaps refunded since), or one whose
    payment staff must look at (an amount mismatch, a second payment)."""
    email = verified_email_of(user)
    owner = Q(user=user) | Q(email=email) if email else Q(user=user)
    purchased = Q(status__in=[Enrollment.Status.PAID, Enrollment.Status.REFUNDED]) | Q(
        needs_review=True
    )
    return owner & purchased


def orders_of(user) -> list[Enrollment]:
    """ "My orders", newest first (two queries: the verified e-mail, then the orders)."""
    return list(
        Enrollment.objects.filter(_orders_filter(user))
        .select_related("course")
        .order_by("-paid_at", "-created_at")
    )


def order_of(user, enrollment_id: int) -> Enrollment | None:
    """One of the learner's own orders, or None (another learner's looks missing)."""
    return (
        Enrollment.objects.filter(_orders_filter(user), pk=enrollment_id)
        .select_related("course")
        .first()
    )


def enrollment_for_visitor(
    *, user, visitor_enrollment_ids, session_id: str | None = None, enrollment_id: int | None = None
) -> Enrollment | None:
    """The enrollment behind a success/status page, only if this visitor may see it.

    An id in the URL is not enough on its own: the browser that started the checkout (its
    session remembers the enrollment) or the owning account must be asking.
    """
    if session_id and "\x00" not in session_id:
        lookup = {"stripe_session_id": session_id[:255]}
    elif enrollment_id:
        lookup = {"pk": enrollment_id}
    else:
        return None
    enrollment = Enrollment.objects.select_related("course").filter(**lookup).first()
    if enrollment is None:
        return None
    if str(enrollment.pk) in {str(i) for i in visitor_enrollment_ids or ()}:
        return enrollment
    if user.is_authenticated and (
        enrollment.user_id == user.pk or enrollment.email == verified_email_of(user)
    ):
        return enrollment
    return None


def refund_made(*, enrollment: Enrollment, refunded_total_cents: int) -> bool:
    """A staff refund to this total is done (Stripe confirmed it, or nothing was due to the
    card). A request Stripe never answered is not: confirming again retries it safely."""
    return (
        RefundRequest.objects.filter(
            enrollment=enrollment, refunded_total_cents=refunded_total_cents
        )
        .exclude(amount_cents__gt=0, stripe_refund_id="")
        .exists()
    )


# --- The checkout quote ----------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """What this learner pays for this course, decided on the server, and who referred them."""

    list_price_cents: int
    currency: str
    discount_cents: int = 0
    kind: str = Enrollment.Kind.PURCHASE
    grant: Grant | None = None
    affiliate: Affiliate | None = None
    referral_refusal: str | None = None

    @property
    def amount_due_cents(self) -> int:
        return self.list_price_cents - self.discount_cents

    def matches(self, enrollment: Enrollment) -> bool:
        return (
            enrollment.kind == self.kind
            and enrollment.amount_due_cents == self.amount_due_cents
            and enrollment.currency == self.currency
            and enrollment.grant_id == (self.grant.pk if self.grant else None)
            and enrollment.affiliate_id == (self.affiliate.pk if self.affiliate else None)
        )


def quote_checkout(
    *,
    course: Course,
    email: str,
    user,
    coupon_code: str = "",
    referral_code: str | None = None,
    holder_enrollment_id: int | None = None,
) -> Quote:
    """The price and attribution for a checkout; raises ``CouponNotAccepted``.

    ``holder_enrollment_id`` is the learner's own open checkout, whose coupon hold is theirs.
    """
    email = normalize_email(email)
    grant = None
    if coupon_code.strip():
        try:
            grant = grant_selectors.find_coupon_for_checkout(
                code=coupon_code,
                course=course,
                email=email,
                user=user,
                enrollment_id=holder_enrollment_id,
            )
        except grant_errors.CouponRefused as refusal:
            logger.info("event=coupon.refused course_id=%s reason=%s", course.pk, refusal.reason)
            record_coupon_refusal(refusal.reason)
            raise CouponNotAccepted(refusal)
    attribution = affiliate_selectors.resolve_attribution(
        referral_code=referral_code, buyer_email=email, buyer_user=user
    )
    kind, discount = Enrollment.Kind.PURCHASE, 0
    if grant is not None:
        amount_due = coupon_price_cents(
            price_cents=course.price_cents, discount_percent=grant.discount_percent
        )
        discount = course.price_cents - amount_due
        kind = Enrollment.Kind.FULL_GRANT if amount_due == 0 else Enrollment.Kind.PARTIAL_GRANT
    return Quote(
        list_price_cents=course.price_cents,
        currency=course.currency,
        discount_cents=discount,
        kind=kind,
        grant=grant,
        affiliate=attribution.affiliate,
        referral_refusal=attribution.refusal,
    )


# --- The staff refund preview ---------------------------------------------------------------


@dataclass(frozen=True)
class RefundPreview:
    enrollment: Enrollment
    amount_cents: int
    refunded_total_cents: int
    revoke_access: bool
    restore_coupon: bool
    commission_reversal_cents: int
    within_window: bool

    @property
    def full(self) -> bool:
        return self.refunded_total_cents >= self.enrollment.amount_due_cents

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_cents, self.enrollment.currency)

    @property
    def refunded_total_display(self) -> str:
        return format_money(self.refunded_total_cents, self.enrollment.currency)

    @property
    def commission_reversal_display(self) -> str:
        return format_money(self.commission_reversal_cents, self.enrollment.currency)


def refundable_cents(enrollment: Enrollment) -> int:
    return enrollment.amount_due_cents - enrollment.amount_refunded_cents


def preview_refund(
    *, enrollment: Enrollment, amount_cents: int, revoke_access: bool, restore_coupon: bool
) -> RefundPreview:
    """Exactly what a refund will do, or ``RefundError`` saying why it cannot be made."""
    if enrollment.status not in (Status.PAID, Status.REFUNDED):
        raise RefundError("Only a paid enrollment can be refunded.")
    remaining = refundable_cents(enrollment)
    if enrollment.amount_due_cents == 0:
        if amount_cents != 0:
            raise RefundError("Nothing was paid for this enrollment: the amount must be 0.")
        if enrollment.status != Status.PAID:
            raise RefundError("Access to this free enrollment is already revoked.")
    elif not 0 < amount_cents <= remaining:
        raise RefundError(
            f"The amount must be between 0.01 and {format_money(remaining, enrollment.currency)}."
        )
    total = enrollment.amount_refunded_cents + amount_cents
    full = total >= enrollment.amount_due_cents
    commission = affiliate_selectors.commission_for_sale(enrollment.pk)
    reversal = 0
    if commission is not None:
        reversal = affiliate_selectors.commission_reversal_for(
            commission, refunded_cents_total=total, charged_cents=enrollment.amount_due_cents
        ).additional_cents
    policy = refund_policy()
    return RefundPreview(
        enrollment=enrollment,
        amount_cents=amount_cents,
        refunded_total_cents=total,
        revoke_access=policy.revokes_access(full=full, staff_chose_to_revoke=revoke_access),
        restore_coupon=policy.gives_coupon_back(
            used_a_coupon=enrollment.grant_id is not None, staff_chose_to_restore=restore_coupon
        ),
        commission_reversal_cents=reversal,
        within_window=policy.within_window(enrollment.paid_at, timezone.now()),
    )
