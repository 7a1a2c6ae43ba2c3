"""Course outlines: read from the (fake) Frappe LMS by the periodic task into the courses app,
shown on the course page without calling the LMS."""

import pytest
from django.conf import settings

from courses.models import CourseOutline
from courses.tests.factories import CourseFactory
from fakes.frappe_server import FakeFrappe
from lms_sync import tasks
from lms_sync.frappe import FrappeClient, LmsMappingError

from .conftest import COURSE

pytestmark = pytest.mark.django_db


def write_course(fake: FakeFrappe) -> None:
    fake.add_chapter(COURSE, "Getting started", [("Why Django", True), "Your first project"])
    fake.add_chapter(COURSE, "Models", ["Fields", "Migrations", "Queries"])
    fake.add_instructor(COURSE, "Grace@Example.com", "Grace Hopper")


def test_client_reads_chapters_lessons_and_instructors_in_course_order(fake):
    write_course(fake)
    client = FrappeClient.from_settings()

    content = client.course_content(COURSE)

    assert [chapter["title"] for chapter in content.chapters] == ["Getting started", "Models"]
    assert content.chapters[0]["lessons"] == [
        {"title": "Why Django", "preview": True},
        {"title": "Your first project", "preview": False},
    ]
    assert content.instructors == [{"name": "grace@example.com", "full_name": "Grace Hopper"}]
    paths = [request.path for request in fake.requests]
    assert "/api/method/lms.lms.utils.get_course_outline" in paths
    assert "/api/method/lms.lms.utils.get_course_details" in paths


def test_client_reports_an_unknown_lms_course_as_a_mapping_error(fake):
    # get_course_outline answers [] for it: an empty outline must not pass for the course's.
    with pytest.raises(LmsMappingError):
        FrappeClient.from_settings().course_content("no-such-course")


def test_task_stores_the_outline_and_the_course_page_shows_it_without_calling_the_lms(fake, client):
    course = CourseFactory(frappe_course=COURSE)
    write_course(fake)

    assert tasks.sync_course_outlines.delay().get() == 1
    before = len(fake.requests)
    response = client.get(course.get_absolute_url())

    assert len(fake.requests) == before  # the page never calls Frappe
    assert "Course outline" in response.text
    assert "Getting started" in response.text and "Your first project" in response.text
    assert "Free preview" in response.text
    assert "2 chapters · 5 lessons" in response.text
    assert "Grace Hopper" in response.text


def test_a_change_in_the_lms_reaches_the_cached_page_at_the_next_run(fake, client):
    course = CourseFactory(frappe_course=COURSE)
    write_course(fake)
    tasks.sync_course_outlines.delay().get()
    assert "Deployment" not in client.get(course.get_absolute_url()).text  # now cached

    fake.add_chapter(COURSE, "Deployment", ["Gunicorn behind a proxy"])
    changed = tasks.sync_course_outlines.delay().get()

    assert changed == 1
    assert "Gunicorn behind a proxy" in client.get(course.get_absolute_url()).text


def test_an_unchanged_outline_is_not_rewritten_and_keeps_the_cached_pages(fake):
    CourseFactory(frappe_course=COURSE)
    write_course(fake)
    tasks.sync_course_outlines.delay().get()
    synced_at = CourseOutline.objects.get().synced_at

    assert tasks.sync_course_outlines.delay().get() == 0
    assert CourseOutline.objects.get().synced_at == synced_at


def test_no_outline_section_without_a_mapping(fake, client):
    course = CourseFactory(frappe_course="")
    write_course(fake)

    tasks.sync_course_outlines.delay().get()

    assert not CourseOutline.objects.exists()
    assert "Course outline" not in client.get(course.get_absolute_url()).text


def test_a_remapped_course_hides_and_then_drops_the_old_outline(fake, client):
    course = CourseFactory(frappe_course=COURSE)
    write_course(fake)
    tasks.sync_course_outlines.delay().get()

    course.frappe_course = "another-course"  # not in the LMS
    course.save()

    assert "Course outline" not in client.get(course.get_absolute_url()).text
    tasks.sync_course_outlines.delay().get()
    assert not CourseOutline.objects.exists()


def test_a_course_deleted_in_the_lms_loses_its_outline(fake):
    CourseFactory(frappe_course=COURSE)
    write_course(fake)
    tasks.sync_course_outlines.delay().get()

    del fake.courses[COURSE]
    tasks.sync_course_outlines.delay().get()

    assert not CourseOutline.objects.exists()


def test_an_unreachable_lms_keeps_the_stored_outline(fake):
    CourseFactory(frappe_course=COURSE)
    write_course(fake)
    tasks.sync_course_outlines.delay().get()

    fake.fail_next(502, count=10)
    assert tasks.sync_course_outlines.delay().get() == 0

    assert CourseOutline.objects.get().lesson_count == 5


def test_without_lms_settings_the_task_does_nothing(settings):
    CourseFactory(frappe_course=COURSE)
    settings.FRAPPE_URL = ""

    assert tasks.sync_course_outlines.delay().get() == 0


def test_lesson_titles_are_stored_as_plain_text(fake, client):
    course = CourseFactory(frappe_course=COURSE)
    chapter = fake.add_chapter(COURSE, "Basics", ["Intro"])
    fake.rename_lesson(
        next(iter(fake.chapters[chapter]["lessons"]))["lesson"],
        "<b>Bold</b> <script>x</script>move",
    )

    tasks.sync_course_outlines.delay().get()

    outline = CourseOutline.objects.get(course=course)
    assert outline.chapters[0]["lessons"][0]["title"] == "Bold x move"
    assert "<script>" not in client.get(course.get_absolute_url()).text


def test_the_outline_task_runs_periodically():
    entry = settings.CELERY_BEAT_SCHEDULE["lms-sync-course-outlines"]

    assert entry["task"] == "lms_sync.tasks.sync_course_outlines"
    assert entry["schedule"] == settings.LMS_OUTLINE_SYNC_SECONDS


def test_course_page_with_an_outline_stays_within_its_query_budget(
    fake, client, django_assert_max_num_queries
):
    course = CourseFactory(frappe_course=COURSE)
    write_course(fake)
    tasks.sync_course_outlines.delay().get()

    with django_assert_max_num_queries(1):
        client.get(course.get_absolute_url())
