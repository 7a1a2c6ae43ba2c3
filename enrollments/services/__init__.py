"""The enrollment's lifecycle: checkout, payment, refund and dispute are written here, and
every status change goes through ``transitions`` (its ``ALLOWED`` table is the status machine).

These services are not the only writers of an Enrollment row: the e-mail tasks
(``enrollments.tasks``) claim their ``*_sent_at`` columns; the LMS sync job columns
(``lms_*``) are also written by ``lms_sync.services`` (claim, progress, retry) and by the ops
reconciliation's requeue; and the admin's staff actions call the services here. Reads are in
``enrollments.selectors``.

- ``checkout``: the server-side price (grant coupons, affiliate attribution), the one open
  checkout per learner and course, the Stripe Checkout Session, and 100% grant enrollments.
- ``fulfilment``: payment → paid (coupon redemption, commission, ``enrollment_paid``), failed and
  expired checkouts; ``ops.reconciliation`` and the success page fulfil through it too.
- ``refunds``: one refund policy for staff refunds and Stripe's refund events; disputes.
- ``stripe_events``: the webhook inbox and the dispatch of each event type to its handler.
- ``transitions``: the status table and the conditional status UPDATE.
- ``privacy``, ``imports``, ``receipts``, ``tax``: account erasure and export, the legacy
  import, invoice links, Stripe Tax figures.

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
    ReferralNotApplied,
    start_checkout,
)
from .fulfilment import (
    ALREADY_FULFILLED,
    AMOUNT_MISMATCH,
    AWAITING_PAYMENT,
    DUPLICATE_PAYMENT,
    FULFILLED,
    UNKNOWN_SESSION,
    announce_paid,
    expire_stale_checkouts,
    fulfil_checkout_session,
    record_commission_for,
    refresh_from_stripe,
)
from .imports import (
    AlreadyOwned,
    ImportedSale,
    import_sale,
    link_imported_grant,
    owned_elsewhere,
)
from .refunds import (
    RefundError,
    apply_refund,
    refund_enrollment,
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
    "AlreadyOwned",
    "CheckoutError",
    "CheckoutFailed",
    "CheckoutOpenElsewhere",
    "CouponNotAccepted",
    "GrantCheckoutOpen",
    "ImportedSale",
    "PaymentInProgress",
    "PaymentsUnavailable",
    "ReferralNotApplied",
    "RefundError",
    "ReprocessResult",
    "announce_paid",
    "apply_refund",
    "expire_stale_checkouts",
    "fulfil_checkout_session",
    "import_sale",
    "link_imported_grant",
    "owned_elsewhere",
    "process_stripe_event",
    "record_commission_for",
    "record_stripe_event",
    "refresh_from_stripe",
    "refund_enrollment",
    "reprocess_stripe_events",
    "start_checkout",
]
