"""Events the enrollments app announces to the apps above it in the layering (``lms_sync``,
``ops``). Those apps import this module to connect their receivers; enrollments never imports
them, so it names no receiver here and must not depend on any being connected.

Unless said otherwise each is sent after the transaction that caused it has committed, with
``enrollment_id``. The database row stays the source of truth: receivers that create or enqueue
work (``lms_sync``) are backed by periodic sweeps that read the enrollment's state, so a
receiver that fails, a lost message or a process killed before the receivers ran delays work,
never loses it. Receivers must be idempotent: a retry may send the same event again.
"""

from django.dispatch import Signal

# The enrollment became paid (by Stripe, by a 100% grant or an import), or a won dispute gave
# its access back: access should be granted.
enrollment_paid = Signal()

# The enrollment's access must be revoked: a refund the refund policy says removes access (full,
# or partial with staff choosing to revoke), or a lost dispute. Access should be removed.
enrollment_revoked = Signal()

# A learner deleted their account (``enrollments.services.privacy``). Sent synchronously, inside
# the deletion and before the shop forgets the address, with ``user_id`` and ``email``: a
# receiver records whatever durable job it needs (``lms_sync`` erases the LMS user and stops
# enrol jobs that have not run) with idempotent writes; the deletion is re-run whole if anything
# fails, so receivers may be called again for the same account.
account_erased = Signal()

# A learner's data export (``enrollments.services.privacy.export_account_data``). Sent
# synchronously with ``enrollment_ids``; a receiver returns a dict of what it keeps about those
# enrollments, today ``{"lms_progress": {enrollment_id: percent or None}}`` (``lms_sync``).
account_data_requested = Signal()

# The learner paid, but the payment cannot be fulfilled without a human (Stripe reports another
# amount or currency than we asked, or a second payment for a course they own). Sent once per
# new reason; ``ops`` opens an incident and e-mails staff.
payment_needs_review = Signal()

# A dispute opened on a paid enrollment: access is suspended, and may come back (won) with the
# learner's progress.
enrollment_suspended = Signal()
