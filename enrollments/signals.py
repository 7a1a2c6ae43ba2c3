"""Events the enrollments app announces to the apps below it (they must not import us back).

Both are sent after the transaction that caused them has committed, with ``enrollment_id``.
The database row stays the source of truth: receivers that enqueue work (``lms_sync``) are
backed by periodic sweeps, so a receiver that fails or a lost message delays work, never loses it.
"""

from django.dispatch import Signal

# The enrollment became paid (by Stripe or by a 100% grant): access should be granted.
enrollment_paid = Signal()

# The enrollment's access must be revoked (full refund): access should be removed.
enrollment_revoked = Signal()

# A dispute opened: access is suspended, and may come back (won) with the learner's progress.
enrollment_suspended = Signal()
