"""``published_course``: each web process keeps the courses it read in memory and serves them
with no Redis round trip while the version feed proves the catalog version current; any course
change retires them at once. Real Redis, a real subscriber thread."""

import time

import pytest

from common.testing.feeds import live_version_feed
from courses import selectors
from courses.models import Course
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed(settings):
    selectors._local_courses.clear()
    with live_version_feed(settings) as live:
        yield live
    selectors._local_courses.clear()


def _cache_unreachable(settings) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "common.redis_cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }


def test_a_course_read_once_is_served_from_memory_without_redis_or_the_database(
    feed, settings, django_assert_num_queries
):
    course = CourseFactory(title="AWS Architect")
    selectors.published_course(course.slug)
    _cache_unreachable(settings)

    with django_assert_num_queries(0):
        assert selectors.published_course(course.slug).title == "AWS Architect"


def test_a_course_change_retires_the_copy_in_memory(feed):
    course = CourseFactory(title="Old title")
    assert selectors.published_course(course.slug).title == "Old title"

    course.title = "New title"
    course.save()  # bumps the catalog version, announced to every process

    assert selectors.published_course(course.slug).title == "New title"
    course.is_published = False
    course.save()
    assert selectors.published_course(course.slug) is None


def test_without_the_feed_every_read_asks_the_cache(settings):
    settings.VERSION_FEED = False
    course = CourseFactory(title="Old title")
    selectors.published_course(course.slug)

    course.title = "New title"
    course.save()

    assert selectors.published_course(course.slug).title == "New title"
    assert selectors._local_courses == {}


def test_a_change_whose_version_bump_was_lost_is_seen_once_the_copies_expire(feed, settings):
    """A price changed while Redis was unreachable leaves the catalog version as it was: the
    copy in memory, like the shared one, lives at most CATALOG_CACHE_SECONDS."""
    settings.CATALOG_CACHE_SECONDS = 1
    course = CourseFactory(price_cents=10_000)
    assert selectors.published_course(course.slug).price_cents == 10_000

    Course.objects.filter(pk=course.pk).update(price_cents=12_000)  # no version bump
    time.sleep(1.2)  # past both copies' lifetime; not a timing claim

    assert selectors.published_course(course.slug).price_cents == 12_000
