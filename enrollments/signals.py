"""Events the enrollments app announces to the apps below it (they must not import us back).

Each is sent after the transaction that caused it has committed, with ``enrollment_id``.
The database row stays the source of truth: receivers that enqueue work (``lms_sync``) are
backed by periodic sweeps, so a receiver that fails or a lost message delays work, never loses it.
"""

from django.dispatch import Signal

# The enrollment became paid (by Stripe or by a 100% grant): access should be granted.
enrollment_paid = Signal()

# The enrollment's access must be revoked (full refund): access should be removed.
enrollment_revoked = Signal()

# A learner deleted their account (``enrollments.services.privacy``). Sent synchronously, inside
# the deletion and before the shop forgets the address, with ``user_id`` and ``email``: a
# receiver records whatever durable job it needs (``lms_sync`` erases the LMS user) with an
# idempotent insert; the deletion is re-run whole if anything fails, so receivers may be called
# again for the same account.
account_erased = Signal()

# The learner paid, but the payment cannot be fulfilled without a human (Stripe reports another
# amount or currency than we asked, or a second payment for a course they own). Sent once per
# new reason; ``ops`` opens an incident and e-mails staff.
payment_needs_review = Signal()

# A dispute opened: access is suspended, and may come back (won) with the learner's progress.
enrollment_suspended = Signal()
