"""Real threads against PostgreSQL: overlapping outline and cover writes leave one right row."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from common.testing.concurrency import concurrent_database, race  # noqa: F401 - a fixture
from courses import services
from courses.models import Course, CourseOutline
from courses.tests.factories import CourseFactory
from courses.tests.test_covers import image_bytes

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("concurrent_database"),
]
THREADS = 6


def test_overlapping_outline_syncs_store_one_outline_and_report_one_change():
    course = CourseFactory(frappe_course="intro")
    chapters = [{"title": "Basics", "lessons": [{"title": "Hello", "preview": False}]}]

    results = race(
        lambda: services.store_outline(
            course_id=course.pk, lms_course="intro", chapters=chapters, instructors=[]
        ),
        THREADS,
    )

    assert CourseOutline.objects.filter(course=course).count() == 1
    assert results.count(True) == 1


def test_overlapping_cover_runs_record_one_set_of_thumbnails_and_leave_no_orphans():
    course = CourseFactory()
    name = default_storage.save("courses/race.png", ContentFile(image_bytes()))
    Course.objects.filter(pk=course.pk).update(image=name)

    results = race(lambda: services.refresh_cover(course.pk), THREADS)

    course.refresh_from_db()
    assert results.count(True) == 1
    assert course.cover_source == name and len(course.cover_thumbnails) == 2
    recorded = {t[key] for t in course.cover_thumbnails for key in ("webp", "fallback")}
    _dirs, files = default_storage.listdir("courses/thumbs")
    assert {f"courses/thumbs/{file}" for file in files} == recorded
