"""A learner's own data: the JSON export and the deletion of their account.

This lives here because ``enrollments`` is the app that knows the others (accounts, grants,
affiliates); the LMS hears of a deletion through ``signals.account_erased``. What deletion
keeps, and why, is in docs/privacy.md: the sales records the law requires (amounts, dates,
course, Stripe ids, grant coupon codes, affiliate commissions and payouts) stay, linked to an
undeliverable placeholder address instead of the person.

Deletion runs as a sequence of steps that are each safe to re-run alone, ending with the one
that anonymises the account itself: until that last step has run the learner can still log in
and try again, and whatever an interrupted run did is done again as a no-op.
"""

import logging

from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ERASED_EMAIL_DOMAIN, erased_email
from accounts.selectors import verified_email_of
from affiliates import selectors as affiliate_selectors
from affiliates import services as affiliate_services
from common import outbox
from grants import selectors as grant_selectors
from grants import services as grant_services

from ..models import Enrollment, StripeEvent
from ..selectors import orders_of
from ..signals import account_data_requested, account_erased
from .checkout import (
    AlreadyEnrolled,
    CheckoutError,
    PaymentInProgress,
    close_pending,
)

logger = logging.getLogger(__name__)

Status = Enrollment.Status


class DeletionRefused(Exception):
    """The account cannot be deleted now; ``message`` says why and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- Export -----------------------------------------------------------------------------------


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def _lms_progress_of(enrollment_ids: list[int]) -> dict[int, float | None]:
    """Progress per enrollment, as the apps that keep it answer ``account_data_requested``
    (``lms_sync``); enrollments does not import them."""
    progress: dict[int, float | None] = {}
    for _, answer in account_data_requested.send(sender=Enrollment, enrollment_ids=enrollment_ids):
        progress.update((answer or {}).get("lms_progress", {}))
    return progress


def export_account_data(user) -> dict:
    """Everything we hold about the signed-in learner, as plain JSON-able data."""
    email = verified_email_of(user)
    orders = orders_of(user)
    lms_progress = _lms_progress_of([order.pk for order in orders])
    grants = list(grant_selectors.grants_of(email)) if email else []
    affiliate, commissions, payouts = affiliate_selectors.affiliate_record_of(user)
    return {
        "exported_at": timezone.now().isoformat(),
        "account": {
            "email": user.email,
            "email_verified": email is not None,
            "name": user.name,
            "date_joined": _when(user.date_joined),
            "last_login": _when(user.last_login),
        },
        "orders": [
            {
                "order": str(order.pk),  # JSON has no ObjectId
                "date": _when(order.paid_at or order.created_at),
                "course": order.course.title,
                "email": order.email,
                "currency": order.currency,
                "list_price_cents": order.list_price_cents,
                "grant_discount_cents": order.discount_cents,
                "amount_paid_cents": order.amount_due_cents,
                "tax_included_cents": order.tax_cents,
                "amount_refunded_cents": order.amount_refunded_cents,
                "status": order.order_status,
                "receipt_url": order.invoice_url or None,
                "receipt_pdf_url": order.invoice_pdf_url or None,
                "lms_progress_percent": lms_progress.get(order.pk),
            }
            for order in orders
        ],
        "grants": [
            {
                "course": grant.course.title,
                "applied_at": _when(grant.created_at),
                "name": grant.name,
                "organisation": grant.organisation,
                "country": grant.country,
                "statement": grant.statement,
                "status": grant.status,
                "discount_percent": grant.discount_percent,
                "coupon_code": grant.coupon_code,
                "coupon_state": grant.coupon_state or None,
                "coupon_expires_at": _when(grant.coupon_expires_at),
            }
            for grant in grants
        ],
        "affiliate": None
        if affiliate is None
        else {
            "referral_code": affiliate.referral_code,
            "status": affiliate.status,
            "rate_percent": affiliate.rate_percent,
            "joined_at": _when(affiliate.created_at),
            "payout_method": affiliate.payout_method,
            "paypal_email": affiliate.paypal_email,
            "bank_account_holder": affiliate.bank_account_holder,
            "bank_account": affiliate.bank_account,
            "bank_name": affiliate.bank_name,
            "bank_swift": affiliate.bank_swift,
            "commissions": [
                {
                    "sold_at": _when(commission.sold_at),
                    "course": commission.course.title,
                    "buyer": commission.buyer_email_masked,
                    "currency": commission.currency,
                    "sale_amount_cents": commission.sale_amount_cents,
                    "rate_percent": commission.rate_percent,
                    "amount_cents": commission.amount_cents,
                    "reversed_cents": commission.reversed_cents,
                    "status": commission.status,
                }
                for commission in commissions
            ],
            "payouts": [
                {
                    "paid_at": _when(payout.created_at),
                    "currency": payout.currency,
                    "amount_cents": payout.amount_cents,
                    "method": payout.method,
                    "reference": payout.reference,
                }
                for payout in payouts
            ],
        },
    }


# --- Deletion ---------------------------------------------------------------------------------


def delete_account(user) -> None:
    """Delete the learner's account (see the module docstring); raises ``DeletionRefused``.

    The caller re-authenticated the learner and logs them out afterwards.
    """
    if user.is_staff:
        raise DeletionRefused("Staff accounts are removed by another administrator.")
    if affiliate_selectors.owes_affiliate(user):
        raise DeletionRefused(
            "Your affiliate account still has commission to be paid out. Once it is paid "
            "(or if you wish to give it up), contact us and we will delete your account."
        )
    email = user.email
    placeholder = erased_email(user.pk)
    mine = Enrollment.objects.filter(Q(email=email) | Q(user_id=user.pk))
    _close_open_checkouts(mine)
    # The LMS erasure job is recorded while we still know the address.
    account_erased.send(sender=Enrollment, user_id=user.pk, email=email)
    # E-mails still owed to the learner (grant, affiliate, order e-mails) are never sent.
    outbox.forget_recipient(email)
    grant_services.forget_applicant(email=email, erased_email=placeholder)
    affiliate_services.forget_affiliate(user_id=user.pk, erased_email=placeholder)
    sales = list(mine.values_list("pk", flat=True))
    affiliate_services.forget_buyer(sale_ids=sales)
    _forget_stripe_event_details(mine)
    _forget_enrollments(mine, ERASED_EMAIL_DOMAIN)
    account_services.erase_user(user_id=user.pk, email=email)
    logger.info("event=account.deleted user_id=%s orders=%s", user.pk, len(sales))


def _close_open_checkouts(mine) -> None:
    """Open checkouts end (at Stripe too, so they can no longer be paid)."""
    for enrollment in mine.filter(status=Status.PENDING, needs_review=False):
        try:
            close_pending(enrollment)
        except AlreadyEnrolled:
            continue  # paid a moment ago: it is now an order like the others
        except PaymentInProgress:
            raise DeletionRefused(
                "A payment of yours is still being confirmed by your bank. Please try again "
                "once it has completed."
            )
        except CheckoutError:
            raise DeletionRefused(
                "Our payment provider could not be reached to close your open checkout. "
                "Nothing was deleted; please try again in a few minutes."
            )


def _forget_enrollments(mine, placeholder_domain: str) -> None:
    """The sales records stay, under the placeholder address, and e-mails not sent yet never
    will be. (LMS enrol jobs that have not run yet were stopped by ``lms_sync`` when it heard
    ``account_erased``: the LMS user is being removed.)"""
    now = timezone.now()
    for address in set(mine.values_list("email", flat=True)):
        outbox.forget_recipient(address)
    # One placeholder per order: two paid orders of one course (bought under two addresses)
    # must stay distinct for the one-paid-per-address constraint.
    mine.update(
        email=Concat(
            Value("deleted-order-"), Cast("pk", CharField()), Value(f"@{placeholder_domain}")
        ),
        checkout_url="",
        visitor_hash="",
        updated_at=now,
    )


# Personal fields in stored Stripe payloads (Checkout Session, Charge): e-mail, name, address.
_STRIPE_PERSONAL = ("customer_details", "customer_email", "billing_details", "receipt_email")


def _forget_stripe_event_details(mine) -> None:
    """The stored webhook payloads of the learner's payments lose their personal fields (the
    amounts and ids stay: they are part of the sales record)."""
    sessions = [s for s in mine.values_list("stripe_session_id", flat=True) if s]
    intents = [i for i in mine.values_list("stripe_payment_intent_id", flat=True) if i]
    if not sessions and not intents:
        return
    events = StripeEvent.objects.filter(
        Q(payload__data__object__id__in=sessions)
        | Q(payload__data__object__payment_intent__in=intents)
    )
    for event_id, payload in events.values_list("pk", "payload"):
        obj = payload.get("data", {}).get("object", {})
        if not any(obj.get(field) for field in _STRIPE_PERSONAL):
            continue
        for field in _STRIPE_PERSONAL:
            if field in obj:
                obj[field] = None
        StripeEvent.objects.filter(pk=event_id).update(payload=payload)
