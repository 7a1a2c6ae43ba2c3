"""Every write to an Enrollment goes through these services.

- ``checkout``: the server-side price (grant coupons, affiliate attribution), the one open
  checkout per learner and course, the Stripe Checkout Session, and 100% grant enrollments.
- ``fulfilment``: payment → paid (coupon redemption, commission, ``enrollment_paid``), failed and
  expired checkouts, refunds and disputes, reconciliation with Stripe.
- ``refunds``: one refund policy for staff refunds and Stripe's refund events; disputes.
- ``stripe_events``: the webhook inbox and the dispatch of each event type to its handler.

Each state change is one conditional ``UPDATE … WHERE <expected state>`` (row count checked) or
an insert guarded by a unique constraint, so repeats and races end as a single delivery would.
"""

from .checkout import (
    GRANT_CHOICES,
    AlreadyEnrolled,
    CheckoutError,
    CheckoutFailed,
    CheckoutOpenElsewhere,
    CouponNotAccepted,
    GrantCheckoutOpen,
    PaymentInProgress,
    PaymentsUnavailable,
    Quote,
    ReferralNotApplied,
    quote_checkout,
    start_checkout,
)
from .fulfilment import (
    ALREADY_FULFILLED,
    AMOUNT_MISMATCH,
    AWAITING_PAYMENT,
    DUPLICATE_PAYMENT,
    FULFILLED,
    UNKNOWN_SESSION,
    expire_stale_checkouts,
    fulfil_checkout_session,
    reconcile_completed_sessions,
    record_commission_for,
    refresh_from_stripe,
)
from .refunds import (
    RefundError,
    RefundPreview,
    apply_refund,
    preview_refund,
    refund_enrollment,
    refundable_cents,
)
from .stripe_events import (
    DONE_OUTCOMES,
    ReprocessResult,
    process_stripe_event,
    record_stripe_event,
    reprocess_stripe_events,
)

__all__ = [
    "ALREADY_FULFILLED",
    "AMOUNT_MISMATCH",
    "AWAITING_PAYMENT",
    "DONE_OUTCOMES",
    "DUPLICATE_PAYMENT",
    "FULFILLED",
    "GRANT_CHOICES",
    "UNKNOWN_SESSION",
    "AlreadyEnrolled",
    "CheckoutError",
    "CheckoutFailed",
    "CheckoutOpenElsewhere",
    "CouponNotAccepted",
    "GrantCheckoutOpen",
    "PaymentInProgress",
    "PaymentsUnavailable",
    "Quote",
    "ReferralNotApplied",
    "RefundError",
    "RefundPreview",
    "ReprocessResult",
    "apply_refund",
    "expire_stale_checkouts",
    "fulfil_checkout_session",
    "preview_refund",
    "process_stripe_event",
    "quote_checkout",
    "reconcile_completed_sessions",
    "record_commission_for",
    "record_stripe_event",
    "refresh_from_stripe",
    "refund_enrollment",
    "refundable_cents",
    "reprocess_stripe_events",
    "start_checkout",
]
