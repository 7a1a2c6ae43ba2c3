"""Sync jobs against the fake Frappe LMS over real HTTP: claim, outcomes, backoff, alerts."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import UserFactory
from common.testing.backends import skip_on_mongodb
from common.testing.concurrency import RunBefore, postgresql_only, race  # noqa: F401 - a fixture
from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from fakes.frappe_server import FrappeError
from lms_sync import services, tasks
from lms_sync.frappe import FrappeClient
from lms_sync.models import LmsSyncJob

from .conftest import (
    COURSE,
    enrolment_posts,
    hook_first_client,
    opened_emails,
    paid_job,
    refund,
    reload,
)

pytestmark = pytest.mark.django_db

LmsStatus = LmsSyncJob.Status


def lease() -> timedelta:
    return timedelta(seconds=django_settings.LMS_SYNC_LEASE_SECONDS)


# -- success ------------------------------------------------------------------------------------


def test_paid_enrollment_is_enrolled_in_the_lms_and_marked_synced(fake, course):
    job = paid_job(course, email="ada@example.com")

    outcome = services.run_job(job_id=job.pk)

    job = reload(job)
    assert outcome == services.SYNCED
    assert job.status == LmsStatus.SYNCED
    assert job.attempts == 1
    assert job.synced_at is not None
    assert job.lease_token == "" and job.lease_until is None
    assert fake.enrollments[job.lms_enrollment_name]["member"] == "ada@example.com"
    assert fake.enrollments[job.lms_enrollment_name]["course"] == COURSE


def test_a_synced_job_is_not_run_again(fake, course):
    job = paid_job(course)
    services.run_job(job_id=job.pk)

    assert services.run_job(job_id=job.pk) == services.NOT_CLAIMED
    assert len(enrolment_posts(fake)) == 1
    assert reload(job).attempts == 1


def test_learner_name_is_sent_when_the_enrollment_has_an_account(fake, course):
    user = UserFactory(email="grace@example.com", name="Grace Hopper")
    job = paid_job(course, email=user.email, user=user)

    services.run_job(job_id=job.pk)

    assert fake.users["grace@example.com"]["full_name"] == "Grace Hopper"


# -- claims and leases --------------------------------------------------------------------------


def test_a_leased_job_cannot_be_claimed_again_until_the_lease_expires(course):
    job = paid_job(course)
    now = timezone.now()

    first = services.claim_job(job_id=job.pk, now=now)
    second = services.claim_job(job_id=job.pk, now=now + lease() - timedelta(seconds=1))
    taken_over = services.claim_job(job_id=job.pk, now=now + lease() + timedelta(seconds=1))

    assert first is not None
    assert second is None
    assert taken_over not in (None, first)
    job = reload(job)
    assert job.lease_token == taken_over
    assert job.attempts == 2


def test_a_due_job_waits_while_another_job_of_its_enrollment_holds_a_lease(course):
    """Refunded while its enrol call runs: the unenrol call waits for the enrol call's lease."""
    enrol = paid_job(course)
    now = timezone.now()
    assert services.claim_job(job_id=enrol.pk, now=now) is not None
    unenrol = LmsSyncJob.objects.create(
        enrollment=enrol.enrollment, action=LmsSyncJob.Action.UNENROL, next_attempt_at=now
    )

    assert services.claim_job(job_id=unenrol.pk, now=now + timedelta(seconds=1)) is None
    assert services.claim_job(job_id=unenrol.pk, now=now + lease() + timedelta(seconds=1))


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="another connection's view of an open transaction needs PostgreSQL",
)
@skip_on_mongodb(
    "no transaction on a standalone server: the new job and the superseding commit one by one",
    proven_by=(
        "lms_sync/tests/test_jobs.py::"
        "test_two_jobs_of_one_enrollment_claimed_at_once_never_both_hold_a_lease"
    ),
)
@pytest.mark.django_db(transaction=True)
def test_no_moment_shows_two_pending_jobs_of_one_enrollment(course):
    """The new job and the superseding of the others commit together: a worker looking between
    the two never sees (and so never claims) two jobs of one enrollment at once."""
    enrol = paid_job(course)
    Enrollment.objects.filter(pk=enrol.enrollment_id).update(status=Enrollment.Status.REFUNDED)
    seen_elsewhere = []

    def count_pending_from_another_connection(*args, **kwargs):
        [pending] = race(
            lambda: LmsSyncJob.objects.filter(
                enrollment_id=enrol.enrollment_id, status=LmsSyncJob.Status.PENDING
            ).count(),
            1,
        )
        seen_elsewhere.append(pending)

    # Just before the others are superseded: the new job is inserted, the old still pending.
    with RunBefore(
        "django.db.models.query.QuerySet.update",
        count_pending_from_another_connection,
        when=lambda queryset, **fields: fields.get("status") == LmsSyncJob.Status.SUPERSEDED,
    ):
        services.schedule(enrollment_id=enrol.enrollment_id, start=False)

    assert seen_elsewhere == [1]  # the enrol job alone: the unenrol job is not committed yet
    statuses = dict(
        LmsSyncJob.objects.filter(enrollment_id=enrol.enrollment_id).values_list("action", "status")
    )
    assert statuses == {"enrol": "superseded", "unenrol": "pending"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql_only")
@pytest.mark.parametrize("attempt", range(3))
def test_two_jobs_of_one_enrollment_claimed_at_once_never_both_hold_a_lease(course, attempt):
    """Both due at once (a refund armed the unenrol job before the enrol job was superseded,
    as on a server without transactions): claimed by racing workers, at most one of the two
    holds a lease, so one enrollment never has two Frappe calls in flight."""
    enrol = paid_job(course)
    unenrol = LmsSyncJob.objects.create(
        enrollment=enrol.enrollment,
        action=LmsSyncJob.Action.UNENROL,
        next_attempt_at=enrol.next_attempt_at,
    )
    now = timezone.now()

    tokens = race(
        lambda job_id: services.claim_job(job_id=job_id, now=now), args=[enrol.pk, unenrol.pk] * 4
    )

    assert len({token for token in tokens if token}) <= 1
    leased = LmsSyncJob.objects.filter(enrollment=enrol.enrollment, lease_until__gte=now)
    assert leased.count() == len({token for token in tokens if token})


def test_a_job_not_due_yet_is_not_claimed(course):
    job = paid_job(course, lms_next_attempt_at=timezone.now() + timedelta(minutes=5))

    assert services.claim_job(job_id=job.pk) is None


def test_the_old_workers_late_result_is_discarded_after_its_lease_was_taken_over(
    fake, course, monkeypatch
):
    """Worker A stalls past its lease after its first Frappe answer; worker B takes the job
    over; then A's next call fails. A must record nothing: the job is B's."""
    job = paid_job(course)
    later = timezone.now() + lease() + timedelta(seconds=1)
    tokens = {}

    def worker_b_takes_over() -> None:
        tokens["b"] = services.claim_job(job_id=job.pk, now=later)
        fake.fail_next(503)  # A's next request fails: A would record a retry

    hook_first_client(monkeypatch, worker_b_takes_over)

    assert services.run_job(job_id=job.pk) == services.DISCARDED

    job = reload(job)
    assert tokens["b"] is not None
    assert (job.status, job.lease_token) == (LmsStatus.IN_PROGRESS, tokens["b"])
    assert job.last_error == ""
    assert job.attempts == 2


def test_a_refund_during_the_enrol_call_wins_and_its_unenrol_can_start_at_once(
    fake, course, monkeypatch
):
    job = paid_job(course)
    unenrol_while_enrolling = []

    def refunded_meanwhile() -> None:
        unenrol = refund(job)
        # The unenrol job is due, but must not call Frappe while the enrol call is running.
        unenrol_while_enrolling.append((unenrol, services.run_job(job_id=unenrol.pk)))

    hook_first_client(monkeypatch, refunded_meanwhile)

    assert services.run_job(job_id=job.pk) == services.DISCARDED
    [(unenrol, outcome)] = unenrol_while_enrolling
    assert outcome == services.NOT_CLAIMED
    assert reload(job).status == LmsStatus.SUPERSEDED
    assert reload(job).lease_until is None  # released: the unenrol may start at once
    unenrol = reload(unenrol)
    assert (unenrol.status, unenrol.action) == (LmsStatus.PENDING, LmsSyncJob.Action.UNENROL)

    assert services.run_job(job_id=unenrol.pk) == services.SYNCED
    assert fake.enrollments == {}


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="real concurrent claims need PostgreSQL or MongoDB (SQLite serialises every writer)",
)
@pytest.mark.django_db(transaction=True)
def test_the_same_job_run_five_times_at_once_reaches_frappe_once(fake, course):
    job = paid_job(course)
    fake.slow_seconds = 0.2  # each Frappe answer takes a while: the runs overlap
    outcomes = race(lambda: services.run_job(job_id=job.pk), 5)

    assert sorted(outcomes) == [services.NOT_CLAIMED] * 4 + [services.SYNCED]
    assert len(enrolment_posts(fake)) == 1
    assert len(fake.enrollments) == 1
    assert reload(job).attempts == 1


# -- transient failures: backoff, then failed ---------------------------------------------------


def test_frappe_down_for_a_while_then_back_syncs_after_backoff(fake, course):
    job = paid_job(course)
    fake.down = True
    now = timezone.now()
    delays = []

    for attempt in (1, 2, 3):
        assert services.run_job(job_id=job.pk, now=now) == services.RETRY
        job = reload(job)
        assert job.status == LmsStatus.PENDING
        assert job.attempts == attempt
        assert "connection failed" in job.last_error
        delays.append(job.next_attempt_at - now)
        # Not due before its time.
        assert services.run_job(job_id=job.pk, now=now + delays[-1] / 2) == (services.NOT_CLAIMED)
        now = job.next_attempt_at

    fake.down = False
    assert services.run_job(job_id=job.pk, now=now) == services.SYNCED

    job = reload(job)
    assert job.attempts == 4
    assert job.last_error == ""
    base = django_settings.LMS_SYNC_BASE_DELAY_SECONDS
    for attempt, delay in enumerate(delays, start=1):
        nominal = base * 2 ** (attempt - 1)
        assert 0.75 * nominal <= delay.total_seconds() <= nominal
    assert delays[0] < delays[1] < delays[2]
    assert len(enrolment_posts(fake)) == 1


def test_backoff_doubles_from_the_base_to_the_cap_with_jitter_below_the_nominal_delay():
    base = django_settings.LMS_SYNC_BASE_DELAY_SECONDS
    cap = django_settings.LMS_SYNC_MAX_DELAY_SECONDS

    for attempt in range(1, 40):
        nominal = min(cap, base * 2 ** (attempt - 1))
        delays = {services.backoff_delay(attempt).total_seconds() for _ in range(20)}
        assert all(0.75 * nominal <= delay <= nominal for delay in delays)
        assert len(delays) > 1  # jittered


def test_default_retry_budget_covers_at_least_three_days_even_with_the_shortest_jitter():
    base = django_settings.LMS_SYNC_BASE_DELAY_SECONDS
    cap = django_settings.LMS_SYNC_MAX_DELAY_SECONDS
    attempts = django_settings.LMS_SYNC_MAX_ATTEMPTS

    shortest = sum(0.75 * min(cap, base * 2 ** (n - 1)) for n in range(1, attempts))

    assert (base, cap) == (60, 6 * 3600)
    assert shortest >= timedelta(days=3).total_seconds()


def test_job_fails_after_the_last_attempt_and_staff_are_alerted_once(
    fake, course, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.LMS_SYNC_MAX_ATTEMPTS = 3
    jobs = [paid_job(course), paid_job(course)]
    fake.fail_next(502, count=100)
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        for job in jobs:
            outcomes = [
                services.run_job(job_id=job.pk, now=now + timedelta(days=day)) for day in range(3)
            ]
            assert outcomes == [services.RETRY, services.RETRY, services.FAILED]

    for job in jobs:
        job = reload(job)
        assert job.status == LmsStatus.FAILED
        assert job.attempts == 3
        assert job.next_attempt_at is None
        assert job.last_error.startswith("HTTP 502 with a non-JSON body")
        assert job.last_error.endswith("(after 3 attempts)")
    assert services.run_job(job_id=jobs[0].pk, now=now + timedelta(days=9)) == (
        services.NOT_CLAIMED
    )
    [email] = opened_emails(mailoutbox)  # one incident, one e-mail, for both jobs
    assert email.to == ["staff@maaledu.test"]
    assert "LMS sync jobs failed" in email.subject
    assert "Retry LMS sync now" in email.body


def test_a_worker_that_dies_on_every_attempt_stops_at_the_retry_budget(fake, course, settings):
    settings.LMS_SYNC_MAX_ATTEMPTS = 2
    job = paid_job(course)
    now = timezone.now()
    for _ in range(2):  # a worker claims, then dies before recording anything
        assert services.claim_job(job_id=job.pk, now=now)
        now += lease() + timedelta(seconds=1)

    assert services.run_job(job_id=job.pk, now=now) == services.FAILED

    job = reload(job)
    assert job.status == LmsStatus.FAILED
    assert "stopped mid-sync" in job.last_error
    assert fake.requests == []


def test_frappe_traceback_never_reaches_the_stored_error(fake, course):
    job = paid_job(course)
    fake.fail_next(500)  # a frappe 500: JSON with the server's traceback

    services.run_job(job_id=job.pk)

    job = reload(job)
    assert job.last_error == "HTTP 500 OperationalError"
    assert "Traceback" not in job.last_error


def test_a_request_frappe_rejects_for_good_fails_at_once_and_alerts(
    fake, course, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    def reject_email(body):
        raise FrappeError(
            417, "InvalidEmailAddressError", f"{body['email']} is not a valid Email Address"
        )

    monkeypatch.setattr(fake, "_insert_user", reject_email)
    job = paid_job(course, email="ada@intranet")

    with django_capture_on_commit_callbacks(execute=True):
        assert services.run_job(job_id=job.pk) == services.FAILED

    job = reload(job)
    assert job.last_error == (
        "HTTP 417 InvalidEmailAddressError: ada@intranet is not a valid Email Address"
    )
    assert job.attempts == 1
    [email] = opened_emails(mailoutbox)
    assert "LMS sync jobs failed" in email.subject


def test_an_unexpected_error_backs_off_instead_of_holding_the_lease(fake, course):
    job = paid_job(course, email="not-an-email")  # a bad row: the client refuses it

    assert services.run_job(job_id=job.pk) == services.RETRY

    job = reload(job)
    assert job.status == LmsStatus.PENDING
    assert job.last_error == "internal error (ValueError)"
    assert job.lease_until is None
    assert job.next_attempt_at > timezone.now()
    assert fake.requests == []


# -- configuration ------------------------------------------------------------------------------


def test_unconfigured_lms_makes_jobs_wait_then_they_run_once_configured(fake, course, settings):
    url = settings.FRAPPE_URL
    settings.FRAPPE_URL = ""
    job = paid_job(course)

    assert services.run_job(job_id=job.pk) == services.WAITING_CONFIG
    job = reload(job)
    assert job.status == LmsStatus.WAITING_CONFIG
    assert job.attempts == 0  # waiting is not an attempt
    assert "FRAPPE_URL" in job.last_error
    assert tasks.sweep_due_jobs() == 0  # nothing to start while the settings are missing

    settings.FRAPPE_URL = url
    assert tasks.sweep_due_jobs() == 1

    job = reload(job)
    assert job.status == LmsStatus.SYNCED
    assert job.attempts == 1
    assert len(fake.enrollments) == 1


def test_rejected_credentials_wait_alert_once_and_resume_after_the_fix(
    fake, course, settings, mailoutbox, django_capture_on_commit_callbacks, lms_alerts
):
    settings.FRAPPE_API_SECRET = "rotated-by-someone"
    jobs = [paid_job(course) for _ in range(4)]
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = [services.run_job(job_id=job.pk) for job in jobs]

    assert outcomes == [services.WAITING_CONFIG] * 4
    retry = django_settings.LMS_SYNC_CONFIG_RETRY_SECONDS
    for job in map(reload, jobs):
        assert job.status == LmsStatus.WAITING_CONFIG
        assert job.attempts == 0
        assert job.last_error == "HTTP 401 AuthenticationError"
        assert 0.75 * retry <= (job.next_attempt_at - now).total_seconds() <= retry + 5
    [email] = opened_emails(mailoutbox)
    assert "LMS credentials or site rejected" in email.subject
    assert "HTTP 401 AuthenticationError" in email.body
    assert "lms_check" in email.body
    assert tasks.sweep_due_jobs() == 0  # they retry slowly, not every minute

    # The secret is fixed; the next sync that succeeds closes the incident and wakes the rest.
    settings.FRAPPE_API_SECRET = "secret"
    newcomer = paid_job(course)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.run_job(job_id=newcomer.pk) == services.SYNCED
    assert tasks.sweep_due_jobs() == 4

    assert {reload(job).status for job in jobs} == {LmsStatus.SYNCED}
    assert len(fake.enrollments) == 5
    assert lms_alerts[0] == (
        "failing",
        {"reason": "config", "key": "site", "detail": "HTTP 401 AuthenticationError"},
    )
    assert ("recovered", {"course_id": course.pk}) in lms_alerts
    assert len(opened_emails(mailoutbox)) == 1
    assert [m.subject for m in mailoutbox][-1].startswith("[MaalEdu resolved]")

    # Broken again later: a new incident, a new alert.
    settings.FRAPPE_API_SECRET = "wrong-again"
    with django_capture_on_commit_callbacks(execute=True):
        services.run_job(job_id=paid_job(course).pk)
    assert len(opened_emails(mailoutbox)) == 2


# -- course mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frappe_course", "error"),
    [
        ("no-such-course", "LMS Course 'no-such-course' does not exist"),
        ("", "no LMS course name is mapped"),
    ],
)
def test_a_rejected_course_mapping_fails_the_jobs_and_alerts_once_per_course(
    fake, frappe_course, error, mailoutbox, django_capture_on_commit_callbacks, lms_alerts
):
    fake.add_course("draft-course", published=False)
    course = CourseFactory(frappe_course=frappe_course, title="Kubernetes Admin")
    jobs = [paid_job(course), paid_job(course)]
    LmsSyncJob.objects.update(updated_at=timezone.now() - timedelta(hours=3))
    started = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = [services.run_job(job_id=job.pk) for job in jobs]

    assert outcomes == [services.FAILED, services.FAILED]
    for job in map(reload, jobs):
        assert job.status == LmsStatus.FAILED
        assert job.last_error == error
        assert job.next_attempt_at is None  # waits for staff
        assert job.updated_at >= started  # the ops alerts count recent failures by it
    assert fake.enrollments == {}
    [email] = opened_emails(mailoutbox)
    assert "LMS course mapping rejected" in email.subject
    assert "Kubernetes Admin" in email.body
    assert {(reason["reason"], reason["key"]) for _, reason in lms_alerts} == {
        ("mapping", f"course-{course.pk}")
    }


def test_a_course_staff_unpublished_in_frappe_is_never_enrolled_the_job_waits_and_ops_see_why(
    fake, mailoutbox, django_capture_on_commit_callbacks, client, lms_alerts
):
    fake.add_course("draft-course", published=False)  # Frappe would accept our Moderator user
    course = CourseFactory(frappe_course="draft-course", title="Kubernetes Admin")
    jobs = [paid_job(course), paid_job(course)]
    Enrollment.objects.update(paid_at=timezone.now() - timedelta(hours=3))
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = [services.run_job(job_id=job.pk, now=now) for job in jobs]

    assert outcomes == [services.WAITING_CONFIG, services.WAITING_CONFIG]
    assert fake.enrollments == {}
    assert enrolment_posts(fake) == []
    for job in map(reload, jobs):
        assert job.status == LmsStatus.WAITING_CONFIG
        assert job.last_error == (
            "waiting: the LMS course 'draft-course' is not published in Frappe; the learner is "
            "enrolled once it is published (checked every 15 min)"
        )
        assert job.attempts == 0  # waiting does not use up the retry budget
        assert job.next_attempt_at > now
    [email] = opened_emails(mailoutbox)  # one incident for the course
    assert "LMS course mapping rejected" in email.subject
    assert "Kubernetes Admin" in email.body
    assert {(reason["reason"], reason["key"]) for _, reason in lms_alerts} == {
        ("mapping", f"course-{course.pk}")
    }
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    ops_page = client.get("/admin/ops/").content.decode()
    assert "is not published in Frappe" in ops_page

    fake.courses["draft-course"]["published"] = 1  # staff publish it again
    later = now + timedelta(seconds=django_settings.LMS_SYNC_CONFIG_RETRY_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert [services.run_job(job_id=job.pk, now=later) for job in jobs] == [
            services.SYNCED,
            services.SYNCED,
        ]
    assert len(fake.enrollments) == 2
    assert ("recovered", {"course_id": course.pk}) in lms_alerts
    assert "is not published in Frappe" not in client.get("/admin/ops/").content.decode()


def test_after_staff_fix_the_mapping_a_retry_syncs_and_closes_the_alert(
    fake, mailoutbox, django_capture_on_commit_callbacks, lms_alerts
):
    course = CourseFactory(frappe_course="k8s-admin")
    job = paid_job(course)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.run_job(job_id=job.pk) == services.FAILED

    fake.add_course("k8s-admin")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.retry_now(job_ids=[job.pk]) == 1

    job = reload(job)
    assert job.status == LmsStatus.SYNCED
    assert job.attempts == 1  # the retry started a fresh budget
    assert [heard for heard, _ in lms_alerts] == ["failing", "recovered"]
    assert len(opened_emails(mailoutbox)) == 1


def test_retry_now_leaves_synced_and_running_jobs_alone(fake, course):
    synced = paid_job(course)
    services.run_job(job_id=synced.pk)
    running = paid_job(course)
    token = services.claim_job(job_id=running.pk)

    assert services.retry_now(job_ids=[synced.pk, running.pk]) == 0

    assert reload(synced).status == LmsStatus.SYNCED
    assert reload(running).lease_token == token


# -- unenrol ------------------------------------------------------------------------------------


def test_refund_unenrols_and_repeating_the_unenrol_is_harmless(
    fake, course, django_capture_on_commit_callbacks, redis_down
):
    job = paid_job(course, email="ada@example.com")
    services.run_job(job_id=job.pk)
    fake.add_enrollment("ada@example.com", COURSE)  # a duplicate someone made by hand
    # The unenrol job's task message is lost (where on_commit runs at once, as on MongoDB, it
    # would otherwise run right away): the job waits, pending, for a worker.
    job = refund(job)
    redis_down.end()

    # A worker claims the unenrol, Frappe deletes the enrolments, and the worker dies.
    now = timezone.now()
    assert services.claim_job(job_id=job.pk, now=now)
    client = FrappeClient.from_settings()
    assert client.unenrol(email="ada@example.com", course=COURSE) == 2
    client.close()

    # After its lease, the job runs again and finds nothing left to delete.
    assert services.run_job(job_id=job.pk, now=now + lease() + timedelta(seconds=1)) == (
        services.SYNCED
    )

    job = reload(job)
    assert (job.status, job.action) == (LmsStatus.SYNCED, LmsSyncJob.Action.UNENROL)
    assert job.lms_enrollment_name == ""
    assert fake.enrollments == {}
