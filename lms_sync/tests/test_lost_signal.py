"""A paid enrollment without a sync job cannot last past one sweep.

The enrollment becomes paid in one transaction (``enrollments``); its LMS job is inserted by
``lms_sync`` when it hears ``enrollment_paid``, after that commit. A process killed between the
two leaves a paid enrollment and no job. Here a real process is killed (SIGKILL) right after the
paid update commits, before any receiver runs; one run of the minute sweep then creates the job
and the learner is enrolled in the (fake) LMS.
"""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connection

from common.testing.backends import worker_database_url
from enrollments.models import Enrollment
from enrollments.tests.factories import EnrollmentFactory
from lms_sync import selectors, tasks
from lms_sync.models import LmsSyncJob

from .conftest import COURSE

BASE_DIR = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="needs PostgreSQL or MongoDB: a child cannot see SQLite's in-memory test database",
    ),
    pytest.mark.django_db(transaction=True),
]

# Runs in the child: fulfil the checkout, and die (SIGKILL) right after the paid update commits,
# where the enrollment_paid signal (and so lms_sync's receiver) would run. The fault is injected
# at that exact point by wrapping the function that registers the after-commit announcements.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import django
    django.setup()
    from django.db import transaction
    from enrollments.services import fulfilment

    def die_after_commit(enrollment_id, **kwargs):
        transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))

    fulfilment.announce_paid_on_commit = die_after_commit
    fulfilment.fulfil_checkout_session({
        "id": sys.argv[1],
        "object": "checkout.session",
        "status": "complete",
        "payment_status": "paid",
        "amount_total": int(sys.argv[2]),
        "currency": sys.argv[3],
        "payment_intent": "pi_killed",
    })
    print("the receiver ran: the kill did not happen", flush=True)
    """
)


def pay_and_die(enrollment: Enrollment) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "maaledu.settings.test",
        "DATABASE_URL": worker_database_url(),
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            enrollment.stripe_session_id,
            str(enrollment.amount_due_cents),
            enrollment.currency,
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_process_killed_between_the_paid_update_and_the_job_insert_is_repaired_by_one_sweep(
    fake, course
):
    enrollment = EnrollmentFactory(course=course, email="ada@example.com")

    child = pay_and_die(enrollment)

    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.PAID  # the paid update committed
    assert not LmsSyncJob.objects.filter(enrollment=enrollment).exists()  # no job: killed
    assert selectors.enrollments_missing_a_job(limit=10) == [enrollment.pk]

    tasks.sweep_due_jobs()  # one run (tasks run in-process in the tests)

    [job] = LmsSyncJob.objects.filter(enrollment=enrollment)
    assert (job.action, job.status) == (LmsSyncJob.Action.ENROL, LmsSyncJob.Status.SYNCED)
    [lms_enrollment] = fake.enrollments.values()
    assert (lms_enrollment["member"], lms_enrollment["course"]) == ("ada@example.com", COURSE)
    assert selectors.enrollments_missing_a_job(limit=10) == []


def test_the_sweep_creates_every_job_a_lost_signal_missed_and_nothing_else(fake, course):
    """Paid without an enrol job, disputed without a suspend job, refunded after access without
    an unenrol job: one sweep creates each; checkouts, refunds that never had access, and jobs
    that exist are left alone."""
    paid = EnrollmentFactory(course=course, status=Enrollment.Status.PAID)
    disputed = EnrollmentFactory(
        course=course, status=Enrollment.Status.PAID, dispute_status=Enrollment.Dispute.OPEN
    )
    revoked = EnrollmentFactory(course=course, status=Enrollment.Status.REFUNDED)
    LmsSyncJob.objects.create(enrollment=revoked, status=LmsSyncJob.Status.SYNCED)
    never_had_access = EnrollmentFactory(course=course, status=Enrollment.Status.REFUNDED)
    checkout = EnrollmentFactory(course=course)
    already = EnrollmentFactory(course=course, status=Enrollment.Status.PAID)
    LmsSyncJob.objects.create(enrollment=already, status=LmsSyncJob.Status.FAILED)

    tasks.sweep_due_jobs()

    def actions(enrollment):
        return sorted(
            LmsSyncJob.objects.filter(enrollment=enrollment)
            .exclude(status=LmsSyncJob.Status.SUPERSEDED)
            .values_list("action", flat=True)
        )

    assert actions(paid) == ["enrol"]
    assert actions(disputed) == ["suspend"]
    assert actions(revoked) == ["unenrol"]
    assert actions(never_had_access) == []
    assert actions(checkout) == []
    assert actions(already) == ["enrol"]
    assert LmsSyncJob.objects.get(enrollment=already).status == LmsSyncJob.Status.FAILED
    assert selectors.enrollments_missing_a_job(limit=10) == []
