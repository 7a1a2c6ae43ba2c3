"""The hook that starts LMS sync jobs: ``enrollments.signals`` → ``sync_enrollment.delay``.

``enrollment_paid`` (Stripe payment or 100 % grant) and ``enrollment_revoked`` (full refund) are
sent by ``enrollments.services`` after the commit of the update that made the enrollment paid or
refunded, and that same update already wrote the sync job (``lms_status=pending`` with
``lms_action`` enrol or unenrol) on the row. These receivers only start it now rather than at
the next sweep: if the message is lost, ``lms_sync.tasks.sweep_due_jobs`` starts the job within
a minute. Connected in ``LmsSyncConfig.ready()``.
"""

from django.dispatch import receiver

from enrollments.signals import enrollment_paid, enrollment_revoked
from maaledu.queue import enqueue

from .tasks import sync_enrollment


@receiver([enrollment_paid, enrollment_revoked], dispatch_uid="lms_sync.start_sync")
def start_sync(sender, enrollment_id: int, **kwargs) -> None:
    enqueue(sync_enrollment, enrollment_id)
