from django.db.models import Q, QuerySet

from accounts.selectors import verified_email_of

from .models import Enrollment, RefundRequest


def pk_or_none(value) -> int | None:
    """A primary key from an untrusted string (metadata, client_reference_id), or None."""
    text = str(value or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


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
    if enrollment.pk in set(visitor_enrollment_ids or ()):
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
