"""The hook that starts LMS sync jobs: ``enrollments.signals`` → ``sync_enrollment.delay``.

``enrollment_paid`` (Stripe payment, 100 % grant or a won dispute), ``enrollment_revoked`` (full
refund) and ``enrollment_suspended`` (dispute opened) are sent by ``enrollments.services`` after
the commit of the update that changed the enrollment, and that same update already wrote the
sync job (``lms_status=pending`` with ``lms_action`` enrol, unenrol or suspend) on the row.
These receivers only start it now rather than at the next sweep: if the message is lost,
``lms_sync.tasks.sweep_due_jobs`` starts the job within a minute. Connected in
``LmsSyncConfig.ready()``.
"""

from django.dispatch import receiver

from common.queue import enqueue
from enrollments.signals import (
    account_erased,
    enrollment_paid,
    enrollment_revoked,
    enrollment_suspended,
)

from . import services
from .tasks import sync_enrollment


@receiver(
    [enrollment_paid, enrollment_revoked, enrollment_suspended], dispatch_uid="lms_sync.start_sync"
)
def start_sync(sender, enrollment_id: int, **kwargs) -> None:
    enqueue(sync_enrollment, enrollment_id)


@receiver(account_erased, dispatch_uid="lms_sync.erase_lms_user")
def record_user_erasure(sender, user_id: int, email: str, **kwargs) -> None:
    """A deleted account: record the LMS erasure job now, while the deletion still knows the
    address. ``sweep_user_erasures`` starts it once due (after one lease period)."""
    services.request_user_erasure(email=email)
