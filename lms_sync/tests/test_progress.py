"""The periodic progress pull: list calls per course, bounded batches, a pinned query budget."""

from datetime import timedelta

import pytest
from django.utils import timezone

from courses.tests.factories import CourseFactory
from enrollments.models import Enrollment
from lms_sync import services, tasks
from lms_sync.models import LmsSyncJob

from .conftest import ENROLMENTS_PATH, hook_first_client, paid_job, reload

pytestmark = pytest.mark.django_db

LmsStatus = LmsSyncJob.Status


def synced_job(course, fake, progress: float | None, **fields) -> LmsSyncJob:
    job = paid_job(course, lms_status=LmsStatus.SYNCED, lms_next_attempt_at=None, **fields)
    if progress is not None:
        fake.add_enrollment(job.enrollment.email, course.frappe_course, progress=progress)
    return job


def list_calls(fake) -> int:
    return sum(1 for r in fake.requests if r.method == "GET" and r.path == ENROLMENTS_PATH)


def test_progress_is_read_with_one_list_call_per_course_and_a_fixed_number_of_queries(
    fake, course, django_assert_num_queries
):
    courses = [course]
    for name in ("aws-architect", "k8s-admin"):
        fake.add_course(name)
        courses.append(CourseFactory(frappe_course=name))
    jobs = [synced_job(c, fake, progress=10.0 * n) for c in courses for n in range(1, 9)]
    gone_from_lms = synced_job(course, fake, progress=None, lms_progress=40.0)
    refunded = synced_job(course, fake, progress=90.0, status=Enrollment.Status.REFUNDED)
    not_synced = paid_job(course)

    with django_assert_num_queries(2):
        read = services.pull_progress(batch_size=100)

    assert read == len(jobs) + 1
    assert list_calls(fake) == 3
    assert [reload(job).progress for job in jobs] == [10.0 * n for n in range(1, 9)] * 3
    gone_from_lms = reload(gone_from_lms)
    assert gone_from_lms.progress == 40.0  # kept: the LMS has no enrolment to read
    assert gone_from_lms.progress_at is not None
    assert reload(refunded).progress is None
    assert reload(not_synced).progress is None


def test_each_pull_reads_a_bounded_batch_least_recently_read_first(fake, course, settings):
    now = timezone.now()
    ages = {"never": None, "1h": 1, "3h": 3, "2h": 2, "fresh": 0}
    jobs = {
        label: synced_job(
            course,
            fake,
            progress=55.0,
            lms_progress_at=None if hours is None else now - timedelta(hours=hours),
        )
        for label, hours in ages.items()
    }
    settings.LMS_PROGRESS_BATCH = 3

    assert tasks.pull_progress() == 3

    read = {label for label, job in jobs.items() if reload(job).progress == 55.0}
    assert read == {"never", "3h", "2h"}
    assert list_calls(fake) == 1


def test_a_failing_lms_stops_the_pull_keeping_what_was_read(fake, course, monkeypatch):
    fake.add_course("aws-architect")
    second = CourseFactory(frappe_course="aws-architect")
    first_job = synced_job(course, fake, progress=20.0)
    second_job = synced_job(second, fake, progress=30.0)
    hook_first_client(monkeypatch, lambda: fake.fail_next(502, count=5))

    assert services.pull_progress(batch_size=10) == 1

    assert reload(first_job).progress == 20.0
    assert reload(second_job).progress_at is None  # read again by the next pull
    assert list_calls(fake) == 2  # stopped instead of hammering a failing LMS


def test_progress_pull_does_nothing_while_the_lms_is_not_configured(fake, course, settings):
    job = synced_job(course, fake, progress=20.0)
    settings.FRAPPE_URL = ""

    assert services.pull_progress(batch_size=10) == 0

    assert reload(job).progress is None
    assert fake.requests == []


def test_nothing_to_read_makes_no_request(fake, course):
    paid_job(course)

    assert services.pull_progress(batch_size=10) == 0
    assert fake.requests == []
