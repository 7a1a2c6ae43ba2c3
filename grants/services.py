"""Writes for grants: applying, staff decisions, and the coupon's life at checkout.

Every state change is one conditional UPDATE whose WHERE names the state it expects, and whose
row count says whether it happened; or an INSERT guarded by a unique constraint. Nothing reads a
row, decides in Python and writes it back. E-mails leave through Celery tasks enqueued on commit.

The coupon at checkout (``enrollments`` calls these; ``grants`` never imports ``enrollments``):

- ``find_coupon_for_checkout`` checks every rule and returns the grant, or raises
  ``CouponRefused``. It decides nothing for good: the following update does.
- 10–99% off: ``reserve_coupon`` (until the Checkout Session expires, plus a grace for late
  webhooks) → ``redeem_coupon`` when the payment succeeds, ``release_coupon`` when the session
  expires or fails, ``hold_coupon_until_payment_result`` while a delayed (ACH) payment settles.
- 100% off: ``claim_coupon_for_free_enrollment`` claims the coupon, calls back to create the paid
  enrollment and marks the coupon redeemed for it, in one transaction.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, TextField, Value, When
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from accounts.models import User, normalize_email
from accounts.selectors import verified_email_of
from common.mail import send_templated_email
from common.money import format_money
from common.queue import enqueue, enqueue_on_commit
from courses.models import Course

from . import selectors, tasks
from .coupons import (
    coupon_price_cents,
    generate_coupon_code,
    normalize_coupon_code,
    normalize_legacy_coupon_code,
)
from .models import MAX_DISCOUNT_PERCENT, MIN_DISCOUNT_PERCENT, Grant

logger = logging.getLogger(__name__)

# A 79-bit code collides practically never; the unique index decides and we draw again.
_CODE_ATTEMPTS = 5
# The 100% claim lives inside one transaction and is never committed on its own; this end is
# only there so the row is valid while the transaction runs.
_FREE_CLAIM_SECONDS = 120


class GrantError(Exception):
    """A grant operation refused; ``message`` is written for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DuplicateApplication(GrantError):
    """A pending application for this e-mail and course already exists."""


class CouponRefused(GrantError):
    """A coupon cannot be used for this checkout.

    ``reason`` is a short code for logs, tests and branching: ``not_found``, ``email_mismatch``,
    ``login_required``, ``unverified``, ``wrong_course``, ``expired``, ``redeemed``, ``held``.
    ``message`` is what the learner reads. ``not_found`` and ``email_mismatch`` share one message
    on purpose, so a code that belongs to someone else reads exactly like a code that does not
    exist: show ``message``, never ``reason``. (There is no ``not_approved``: a code exists only
    once its grant is approved; the only later state, ``expired``, has its own reason.)
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_UNKNOWN_CODE = (
    "This coupon code is not valid for your account. Check the code, and that you are logged in "
    "with the e-mail address you applied with and entered it at checkout."
)


def _refused(reason: str, grant: Grant | None = None) -> CouponRefused:
    messages = {
        "not_found": _UNKNOWN_CODE,
        "email_mismatch": _UNKNOWN_CODE,
        "login_required": (
            "Log in with the e-mail address you applied with to use a grant coupon."
        ),
        "unverified": (
            "Verify your e-mail address before using a grant coupon: open the link we e-mailed "
            "you, or ask for a new one on your account page."
        ),
        "wrong_course": "This coupon is for another course"
        + (f": {grant.course.title}." if grant is not None else "."),
        "expired": "This coupon has expired"
        + (f" (on {_day(grant.coupon_expires_at)})." if grant is not None else "."),
        "redeemed": "This coupon has already been used.",
        "held": (
            "This coupon is in use in another checkout that has not finished. Complete or cancel "
            "that checkout, or try again in a little while."
        ),
    }
    return CouponRefused(reason, messages[reason])


def _day(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%B %Y}, UTC"


# --- Applying -------------------------------------------------------------------------------


def apply_for_grant(
    *,
    name: str,
    email: str,
    course: Course,
    statement: str,
    organisation: str = "",
    country: str = "",
) -> Grant:
    """Record a pending application and e-mail the applicant and staff (after commit).

    Raises ``DuplicateApplication`` when this e-mail already has a pending application for the
    course; nothing is created then.
    """
    grant = Grant(
        name=name.strip(),
        email=normalize_email(email),
        course=course,
        statement=statement.strip(),
        organisation=organisation.strip(),
        country=country.strip(),
    )
    try:
        with transaction.atomic():
            grant.save(force_insert=True)
    except IntegrityError:
        # A new pending grant has no coupon fields, and foreign keys are checked at commit, so
        # the one constraint this insert can break is "one pending per e-mail and course".
        raise DuplicateApplication(
            "You have already applied for a grant for this course and we are still reviewing "
            "that application. We will e-mail you our decision; there is no need to apply again."
        )
    enqueue_on_commit(tasks.send_grant_received_email, grant.pk)
    enqueue_on_commit(tasks.send_grant_staff_notice, grant.pk)
    logger.info("event=grant.applied grant_id=%s course_id=%s", grant.pk, course.pk)
    return grant


# --- Staff decisions ------------------------------------------------------------------------


def approve_grants(
    *, grant_ids: Iterable[int], reviewer: User, discount_percent: int, valid_days: int
) -> int:
    """Approve each pending grant among ``grant_ids`` with a fresh coupon; return how many.

    A grant that is no longer pending (approved, rejected, expired) is left exactly as it is and
    gets no e-mail. Each approval e-mails the applicant once, after commit.
    """
    if not MIN_DISCOUNT_PERCENT <= discount_percent <= MAX_DISCOUNT_PERCENT:
        raise GrantError(
            f"The discount must be between {MIN_DISCOUNT_PERCENT} and {MAX_DISCOUNT_PERCENT}%."
        )
    if valid_days < 1:
        raise GrantError("The coupon must be valid for at least one day.")
    now = timezone.now()
    expires_at = now + timedelta(days=valid_days)
    approved = 0
    with transaction.atomic():
        for grant_id in sorted(set(grant_ids)):
            if _approve_one(
                grant_id=grant_id,
                reviewer=reviewer,
                discount_percent=discount_percent,
                expires_at=expires_at,
                now=now,
            ):
                approved += 1
                enqueue_on_commit(tasks.send_grant_decision_email, grant_id)
    logger.info("event=grant.approved count=%s reviewer_id=%s", approved, reviewer.pk)
    return approved


def _approve_one(
    *, grant_id: int, reviewer: User, discount_percent: int, expires_at: datetime, now: datetime
) -> bool:
    for _attempt in range(_CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                updated = Grant.objects.filter(pk=grant_id, status=Grant.Status.PENDING).update(
                    status=Grant.Status.APPROVED,
                    discount_percent=discount_percent,
                    coupon_code=generate_coupon_code(),
                    coupon_expires_at=expires_at,
                    coupon_state=Grant.CouponState.AVAILABLE,
                    reviewed_by=reviewer,
                    reviewed_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            logger.warning("event=grant.coupon_code_collision grant_id=%s", grant_id)
            continue
        return updated == 1
    raise GrantError("Could not generate a unique coupon code. Please try again.")


def reject_grants(*, grant_ids: Iterable[int], reviewer: User, note: str) -> int:
    """Reject each pending grant among ``grant_ids``; return how many.

    ``note`` is internal: it is appended to the admin notes and not sent. The applicant gets a
    polite notice, once, after commit. Grants that are no longer pending are left alone.
    """
    note = note.strip()
    notes = (
        Case(
            When(admin_notes="", then=Value(note)),
            default=Concat(F("admin_notes"), Value("\n\n" + note), output_field=TextField()),
            output_field=TextField(),
        )
        if note
        else F("admin_notes")
    )
    now = timezone.now()
    rejected = 0
    with transaction.atomic():
        for grant_id in sorted(set(grant_ids)):
            updated = Grant.objects.filter(pk=grant_id, status=Grant.Status.PENDING).update(
                status=Grant.Status.REJECTED,
                admin_notes=notes,
                reviewed_by=reviewer,
                reviewed_at=now,
                updated_at=now,
            )
            if updated:
                rejected += 1
                enqueue_on_commit(tasks.send_grant_decision_email, grant_id)
    logger.info("event=grant.rejected count=%s reviewer_id=%s", rejected, reviewer.pk)
    return rejected


def update_admin_notes(*, grant_id: int, admin_notes: str) -> bool:
    """Replace the staff's internal notes on a grant; False if the grant does not exist."""
    updated = Grant.objects.filter(pk=grant_id).update(
        admin_notes=admin_notes, updated_at=timezone.now()
    )
    return updated == 1


# --- The coupon at checkout -----------------------------------------------------------------


def find_coupon_for_checkout(
    *, code: str, course: Course, email: str, user, enrollment_id: int | None = None
) -> Grant:
    """The approved grant whose coupon this checkout may use, or ``CouponRefused``.

    Accepted only when: the learner is logged in with a verified e-mail; the code exists; its
    grant's e-mail equals both the checkout e-mail and that verified e-mail (case-insensitively);
    it is for ``course``; it is not redeemed; it has not expired by ``coupon_expires_at`` (whether
    or not ``expire_coupons`` has run); and no other unexpired checkout holds it. A hold by
    ``enrollment_id`` (this checkout's own pending enrollment, if it has one) does not count.

    Ownership is checked before anything about the coupon is revealed. Two queries.
    """
    if not user.is_authenticated:
        raise _refused("login_required")
    verified_email = verified_email_of(user)
    if verified_email is None:
        raise _refused("unverified")
    # An old MaalEdu code (kept by the import) is looked up as that system stored it.
    canonical = normalize_coupon_code(code) or normalize_legacy_coupon_code(code)
    grant = selectors.grant_by_coupon_code(canonical) if canonical else None
    if grant is None:
        raise _refused("not_found")
    if grant.email != normalize_email(email) or grant.email != normalize_email(verified_email):
        raise _refused("email_mismatch")
    if grant.course_id != course.pk:
        raise _refused("wrong_course", grant)
    if grant.coupon_state == Grant.CouponState.REDEEMED:
        raise _refused("redeemed", grant)
    now = timezone.now()
    if grant.status == Grant.Status.EXPIRED or grant.coupon_expires_at <= now:
        raise _refused("expired", grant)
    held_by_another = (
        grant.coupon_state == Grant.CouponState.RESERVED
        and (enrollment_id is None or grant.holder_enrollment_id != enrollment_id)
        and (grant.reserved_until is None or grant.reserved_until > now)
    )
    if held_by_another:
        raise _refused("held", grant)
    return grant


def _usable(grant_id: int, now: datetime) -> Q:
    """Approved, unexpired, and free: available, or reserved by a hold that has run out."""
    return Q(pk=grant_id, status=Grant.Status.APPROVED, coupon_expires_at__gt=now) & (
        Q(coupon_state=Grant.CouponState.AVAILABLE)
        | Q(coupon_state=Grant.CouponState.RESERVED, reserved_until__lt=now)
    )


def _refusal_after_lost_update(grant_id: int, now: datetime) -> CouponRefused:
    """Why a conditional update on the coupon matched no row (read after the fact, for the
    message only: the update already decided)."""
    grant = selectors.grant_with_course(grant_id)
    if grant is None or grant.coupon_code is None:
        return _refused("not_found")
    if grant.coupon_state == Grant.CouponState.REDEEMED:
        return _refused("redeemed", grant)
    if grant.status == Grant.Status.EXPIRED or grant.coupon_expires_at <= now:
        return _refused("expired", grant)
    return _refused("held", grant)


def reserve_coupon(*, grant_id: int, enrollment_id: int, until: datetime) -> None:
    """Reserve the coupon for a partial-discount checkout until ``until``.

    One UPDATE: approved, not expired, and available, or held by a reservation that ran out, or
    already held by this same enrollment (a retry). Set ``until`` a little after the Checkout
    Session expires so a late webhook still finds its reservation. Raises ``CouponRefused``
    (``held``, ``redeemed``, ``expired`` or ``not_found``) when the coupon is not free.
    """
    now = timezone.now()
    mine = Q(
        pk=grant_id,
        status=Grant.Status.APPROVED,
        coupon_expires_at__gt=now,
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=enrollment_id,
    )
    updated = Grant.objects.filter(_usable(grant_id, now) | mine).update(
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=enrollment_id,
        reserved_until=until,
        updated_at=now,
    )
    if updated != 1:
        raise _refusal_after_lost_update(grant_id, now)
    logger.info("event=grant.coupon_reserved grant_id=%s enrollment_id=%s", grant_id, enrollment_id)


def _held_by(grant_id: int, enrollment_id: int):
    """The coupon, if this enrollment's checkout holds its reservation."""
    return Grant.objects.filter(
        pk=grant_id,
        status=Grant.Status.APPROVED,
        coupon_state=Grant.CouponState.RESERVED,
        holder_enrollment_id=enrollment_id,
    )


def hold_coupon_until_payment_result(*, grant_id: int, enrollment_id: int) -> bool:
    """Keep this enrollment's reservation with no end while a delayed (ACH) payment settles.

    The learner completed the checkout while the reservation was valid, so the hold stands even
    if the coupon's own expiry passes meanwhile. Idempotent. False when this enrollment does not
    hold the coupon (released or taken over after its reservation ran out): the caller decides.
    """
    updated = _held_by(grant_id, enrollment_id).update(
        reserved_until=None, updated_at=timezone.now()
    )
    return updated == 1


def redeem_coupon(*, grant_id: int, enrollment_id: int) -> bool:
    """Mark the coupon used by the enrollment that reserved it (the payment succeeded).

    A reservation made before the coupon expired is honoured after expiry: the learner paid the
    discounted price. Idempotent: True again when this enrollment already redeemed it; False in
    every other case (never reserved by it, released, taken over).
    """
    now = timezone.now()
    updated = _held_by(grant_id, enrollment_id).update(
        coupon_state=Grant.CouponState.REDEEMED,
        redeemed_enrollment_id=enrollment_id,
        redeemed_at=now,
        holder_enrollment_id=None,
        reserved_until=None,
        updated_at=now,
    )
    if updated == 1:
        logger.info(
            "event=grant.coupon_redeemed grant_id=%s enrollment_id=%s", grant_id, enrollment_id
        )
        return True
    return Grant.objects.filter(
        pk=grant_id, coupon_state=Grant.CouponState.REDEEMED, redeemed_enrollment_id=enrollment_id
    ).exists()


def _approved_unless_expired(now: datetime) -> Case:
    """A coupon given back is usable again, unless its own date passed meanwhile."""
    return Case(
        When(coupon_expires_at__lte=now, then=Value(Grant.Status.EXPIRED)),
        default=Value(Grant.Status.APPROVED),
    )


def release_coupon(*, grant_id: int, enrollment_id: int) -> bool:
    """Give back the reservation of an enrollment whose payment expired or failed.

    The coupon becomes available again, or the grant becomes ``expired`` if the coupon's expiry
    passed meanwhile. True when this call released it; False when this enrollment held nothing
    (already released, redeemed, or taken over) — repeating the call changes nothing.
    """
    now = timezone.now()
    updated = _held_by(grant_id, enrollment_id).update(
        coupon_state=Grant.CouponState.AVAILABLE,
        holder_enrollment_id=None,
        reserved_until=None,
        status=_approved_unless_expired(now),
        updated_at=now,
    )
    if updated == 1:
        logger.info(
            "event=grant.coupon_released grant_id=%s enrollment_id=%s", grant_id, enrollment_id
        )
    return updated == 1


def claim_coupon_for_free_enrollment(*, grant_id: int, create_enrollment: Callable[[], int]) -> int:
    """Use a 100% coupon: claim it, create the paid enrollment, mark it redeemed for it.

    ``create_enrollment`` creates the paid ``full_grant`` enrollment (amount 0) and returns its
    id; its after-commit work (confirmation, LMS sync) runs only if everything succeeds. The
    three steps share one transaction: the claim is one conditional UPDATE that locks the row, so
    a concurrent claim waits and then finds the coupon redeemed; if anything after the claim
    raises, the rollback releases the claim and the exception propagates. Raises
    ``CouponRefused`` when the coupon is not free. Returns the enrollment id.
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = Grant.objects.filter(_usable(grant_id, now)).update(
            coupon_state=Grant.CouponState.RESERVED,
            holder_enrollment_id=None,
            reserved_until=now + timedelta(seconds=_FREE_CLAIM_SECONDS),
            updated_at=now,
        )
        if claimed != 1:
            raise _refusal_after_lost_update(grant_id, now)
        enrollment_id = create_enrollment()
        # Our claim holds the row lock until commit: only the callback itself could have
        # touched the row since. If it did, undo everything rather than leave it half done.
        redeemed = Grant.objects.filter(
            pk=grant_id, coupon_state=Grant.CouponState.RESERVED, holder_enrollment_id=None
        ).update(
            coupon_state=Grant.CouponState.REDEEMED,
            redeemed_enrollment_id=enrollment_id,
            redeemed_at=now,
            reserved_until=None,
            updated_at=now,
        )
        if redeemed != 1:
            raise GrantError("The coupon changed while the enrollment was being created.")
    logger.info(
        "event=grant.coupon_redeemed_free grant_id=%s enrollment_id=%s", grant_id, enrollment_id
    )
    return enrollment_id


def restore_coupon(*, grant_id: int, enrollment_id: int) -> bool:
    """After a refund, staff may give the learner their coupon back: redeemed by this
    enrollment → available again (or ``expired`` if its date has passed). Idempotent."""
    now = timezone.now()
    updated = Grant.objects.filter(
        pk=grant_id,
        coupon_state=Grant.CouponState.REDEEMED,
        redeemed_enrollment_id=enrollment_id,
    ).update(
        coupon_state=Grant.CouponState.AVAILABLE,
        redeemed_enrollment_id=None,
        redeemed_at=None,
        status=_approved_unless_expired(now),
        updated_at=now,
    )
    if updated:
        logger.info(
            "event=grant.coupon_restored grant_id=%s enrollment_id=%s", grant_id, enrollment_id
        )
    return updated == 1


def expire_coupons(*, now: datetime | None = None) -> int:
    """Mark approved, unused, unreserved coupons past their expiry ``expired``; return how many.

    Idempotent. Checkout does not depend on it: it compares ``coupon_expires_at`` itself.
    """
    now = now or timezone.now()
    expired = Grant.objects.filter(
        status=Grant.Status.APPROVED,
        coupon_state=Grant.CouponState.AVAILABLE,
        coupon_expires_at__lte=now,
    ).update(status=Grant.Status.EXPIRED, updated_at=now)
    if expired:
        logger.info("event=grant.coupons_expired count=%s", expired)
    return expired


# --- E-mails (called by grants.tasks) --------------------------------------------------------


def send_application_received_email(*, grant_id: int) -> bool:
    """Confirm receipt to the applicant. Sends at most once; False if already sent."""
    return _send_once(
        grant_id=grant_id,
        sent_field="received_email_sent_at",
        compose=lambda grant: ([grant.email], "grant_received", {"grant": grant}),
    )


def send_staff_notice(*, grant_id: int) -> bool:
    """Tell staff (``STAFF_NOTIFICATION_EMAILS``) a new application awaits review. At most once."""
    recipients = list(settings.STAFF_NOTIFICATION_EMAILS)
    if not recipients:
        return False
    return _send_once(
        grant_id=grant_id,
        sent_field="staff_notified_at",
        compose=lambda grant: (recipients, "grant_staff_notice", {"grant": grant}),
    )


def send_decision_email(*, grant_id: int) -> bool:
    """E-mail the applicant the approval (with the coupon) or the rejection. At most once."""
    return _send_once(
        grant_id=grant_id,
        sent_field="decision_email_sent_at",
        only_if=Q(status__in=[Grant.Status.APPROVED, Grant.Status.REJECTED]),
        compose=_compose_decision,
    )


# A message younger than this may still be on its way; older, it was lost (Redis down).
RESEND_AFTER = timedelta(minutes=5)
# Owed e-mails older than this are not sent any more: a late "we received your application"
# weeks after the fact helps nobody.
RESEND_WITHIN = timedelta(days=7)


def resend_unsent_emails(*, now: datetime | None = None) -> int:
    """Enqueue again every grant e-mail still owed whose message was lost; return how many.

    The ``*_sent_at`` columns are the truth (each send claims its own), so an e-mail enqueued
    here and by its original message as well is still sent once. Beat runs it every 10 minutes.
    """
    now = now or timezone.now()
    recent = Grant.objects.filter(
        created_at__lt=now - RESEND_AFTER, created_at__gte=now - RESEND_WITHIN
    )
    pending = recent.filter(status=Grant.Status.PENDING)
    owed = [(tasks.send_grant_received_email, pending.filter(received_email_sent_at=None))]
    if settings.STAFF_NOTIFICATION_EMAILS:
        owed.append((tasks.send_grant_staff_notice, pending.filter(staff_notified_at=None)))
    decided = Grant.objects.filter(
        status__in=[Grant.Status.APPROVED, Grant.Status.REJECTED],
        decision_email_sent_at=None,
        reviewed_at__lt=now - RESEND_AFTER,
        reviewed_at__gte=now - RESEND_WITHIN,
    )
    owed.append((tasks.send_grant_decision_email, decided))
    enqueued = 0
    for task, grants in owed:
        for grant_id in grants.values_list("pk", flat=True)[:200]:
            enqueued += enqueue(task, grant_id)
    if enqueued:
        logger.warning("event=grant.emails_resent count=%s", enqueued)
    return enqueued


def _compose_decision(grant: Grant) -> tuple[list[str], str, dict]:
    if grant.status == Grant.Status.REJECTED:
        return [grant.email], "grant_rejected", {"grant": grant}
    course = grant.course
    price_cents = coupon_price_cents(
        price_cents=course.price_cents, discount_percent=grant.discount_percent
    )
    # The checkout page lives in enrollments; grants only knows its public address.
    checkout_url = f"{settings.SITE_URL}/courses/{course.slug}/checkout/?" + urlencode(
        {"coupon": grant.coupon_code}
    )
    context = {
        "grant": grant,
        "list_price": course.price_display,
        "you_pay": format_money(price_cents, course.currency),
        "checkout_url": checkout_url,
    }
    return [grant.email], "grant_approved", context


def _send_once(
    *,
    grant_id: int,
    sent_field: str,
    compose: Callable[[Grant], tuple[list[str], str, dict]],
    only_if: Q | None = None,
) -> bool:
    claimed_at = timezone.now()
    claimed = Grant.objects.filter(
        only_if or Q(), pk=grant_id, **{f"{sent_field}__isnull": True}
    ).update(**{sent_field: claimed_at})
    if claimed != 1:
        return False
    grant = selectors.grant_with_course(grant_id)
    to, template, context = compose(grant)
    try:
        send_templated_email(to=to, template=template, context=context)
    except Exception:
        # Give the claim back so the task's retry sends it.
        Grant.objects.filter(pk=grant_id, **{sent_field: claimed_at}).update(**{sent_field: None})
        raise
    logger.info("event=grant.email_sent grant_id=%s template=%s", grant_id, template)
    return True


# --- Deleted accounts ---------------------------------------------------------------------------


def forget_applicant(*, email: str, erased_email: str) -> int:
    """A learner deleted their account: their grants keep what the sales records need (course,
    status, discount, coupon code, dates) and lose the rest. Safe to re-run.

    Pending applications are withdrawn without a decision e-mail; an unused coupon expires now
    (checkout refuses it; the expiry sweep marks it expired); no e-mail about any of them is
    sent to the old address any more. Returns how many grants were anonymised.
    """
    email = normalize_email(email)
    now = timezone.now()
    mine = Grant.objects.filter(email=email)
    mine.filter(status=Grant.Status.PENDING).update(
        status=Grant.Status.REJECTED,
        reviewed_at=now,
        admin_notes="Withdrawn: the applicant deleted their account.",
    )
    mine.filter(
        status=Grant.Status.APPROVED,
        coupon_state=Grant.CouponState.AVAILABLE,
        coupon_expires_at__gt=now,
    ).update(coupon_expires_at=now)
    forgotten = mine.update(
        email=normalize_email(erased_email),
        name="",
        statement="",
        organisation="",
        country="",
        received_email_sent_at=Coalesce("received_email_sent_at", Value(now)),
        staff_notified_at=Coalesce("staff_notified_at", Value(now)),
        decision_email_sent_at=Coalesce("decision_email_sent_at", Value(now)),
    )
    if forgotten:
        logger.info("event=grant.applicant_forgotten grants=%s", forgotten)
    return forgotten


# --- Import from the old MaalEdu (the legacy app calls this; safe to re-run) ------------------


def import_grant(
    *,
    name: str,
    email: str,
    course: Course,
    statement: str,
    status: str,
    discount_percent: int | None = None,
    coupon_code: str | None = None,
    coupon_expires_at: datetime | None = None,
    redeemed_enrollment_id: int | None = None,
    redeemed_at: datetime | None = None,
    admin_notes: str = "",
) -> tuple[Grant, bool]:
    """A grant as the old system left it, inserted directly in its final state (a used coupon is
    never available, not even for a moment); and whether this call created it.

    ``status``: ``pending``/``rejected`` (no coupon), ``approved`` (available, or redeemed when
    ``redeemed_enrollment_id`` is given), ``expired`` (never used, past its end). Found again by
    its coupon code, or for a grant without one by e-mail, course, status and statement.
    """
    email = normalize_email(email)
    if coupon_code:
        existing = Grant.objects.filter(coupon_code=coupon_code).first()
    else:
        existing = Grant.objects.filter(
            email=email, course=course, status=status, statement=statement, coupon_code=None
        ).first()
    if existing is not None:
        return existing, False
    fields = {"name": name[:150], "email": email, "course": course, "statement": statement}
    fields["admin_notes"] = admin_notes
    if status in (Grant.Status.APPROVED, Grant.Status.EXPIRED):
        if not (coupon_code and coupon_expires_at and discount_percent):
            raise ValueError("An approved grant needs a coupon code, an end and a discount.")
        if not MIN_DISCOUNT_PERCENT <= discount_percent <= MAX_DISCOUNT_PERCENT:
            raise ValueError(f"Discounts are {MIN_DISCOUNT_PERCENT}–{MAX_DISCOUNT_PERCENT}%.")
        fields.update(
            coupon_code=coupon_code,
            coupon_expires_at=coupon_expires_at,
            discount_percent=discount_percent,
            coupon_state=Grant.CouponState.AVAILABLE,
        )
        if redeemed_enrollment_id is not None:
            if status != Grant.Status.APPROVED:
                raise ValueError("Only an approved grant's coupon is redeemed.")
            fields.update(
                coupon_state=Grant.CouponState.REDEEMED,
                redeemed_enrollment_id=redeemed_enrollment_id,
                redeemed_at=redeemed_at or timezone.now(),
            )
    elif status not in (Grant.Status.PENDING, Grant.Status.REJECTED):
        raise ValueError(f"Unknown grant status {status!r}.")
    try:
        with transaction.atomic():
            # Received, notified (and decided) in the old system: no e-mail leaves for that now;
            # a pending one still gets its decision e-mail when staff decide here.
            now = timezone.now()
            grant = Grant.objects.create(
                status=status,
                received_email_sent_at=now,
                staff_notified_at=now,
                decision_email_sent_at=None if status == Grant.Status.PENDING else now,
                **fields,
            )
    except IntegrityError:
        again = Grant.objects.filter(coupon_code=coupon_code).first() if coupon_code else None
        if again is None:
            raise
        return again, False
    return grant, True
