"""The hooks that create LMS sync jobs: ``enrollments.signals`` → ``services.schedule``.

``enrollment_paid`` (Stripe payment, 100 % grant or a won dispute), ``enrollment_revoked``
(refund that removes access, or a lost dispute) and ``enrollment_suspended`` (dispute opened) are
sent by ``enrollments.services`` after the commit of the update that changed the enrollment.
The receiver publishes one task, ``tasks.schedule_and_sync``, which in the worker inserts the
job the enrollment's state then asks for (guarded by the (enrollment, action) unique
constraint) and runs it: the request that changed the enrollment (a Stripe webhook) pays for one
publish, not for the job's queries. If the signal or the message is lost, or the process dies
before the receiver runs, ``lms_sync.tasks.sweep_due_jobs`` creates the job within a minute
(``services.create_missing_jobs``). Connected in ``LmsSyncConfig.ready()``.
"""

import logging

from django.dispatch import receiver

from common.queue import enqueue_on_commit
from enrollments.signals import (
    account_data_requested,
    account_erased,
    enrollment_paid,
    enrollment_revoked,
    enrollment_suspended,
)

from . import selectors, services

logger = logging.getLogger(__name__)


@receiver(
    [enrollment_paid, enrollment_revoked, enrollment_suspended], dispatch_uid="lms_sync.start_sync"
)
def start_sync(sender, enrollment_id: int, **kwargs) -> None:
    from .tasks import schedule_and_sync

    enqueue_on_commit(schedule_and_sync, enrollment_id)  # a failed publish: the sweep


@receiver(account_erased, dispatch_uid="lms_sync.erase_lms_user")
def record_user_erasure(sender, user_id: int, email: str, **kwargs) -> None:
    """A deleted account: record the LMS erasure job now, while the deletion still knows the
    address (``sweep_user_erasures`` starts it once due, after one lease period), and stop the
    learner's enrol jobs that have not run."""
    services.cancel_for_erased_account(user_id=user_id, email=email)
    services.request_user_erasure(email=email)


@receiver(account_data_requested, dispatch_uid="lms_sync.account_data")
def export_progress(sender, enrollment_ids: list[int], **kwargs) -> dict:
    """The learner's data export: the LMS progress kept for each of their enrollments."""
    access = selectors.lms_access(enrollment_ids)
    return {"lms_progress": {pk: state.progress for pk, state in access.items()}}
