"""The catalog and course pages that every anonymous visitor shares come from the cache."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

CATALOG = "/courses/"


def test_anonymous_visitors_share_cached_catalog_and_course_pages(
    client, django_assert_num_queries
):
    course = CourseFactory(title="Kubernetes Administrator")
    first_catalog = client.get(CATALOG, {"q": "kube"})
    first_course = client.get(course.get_absolute_url())

    with django_assert_num_queries(0):
        catalog = client.get(CATALOG, {"q": "kube", "utm_source": "newsletter"})
        detail = client.get(course.get_absolute_url())

    assert catalog.templates == [] and detail.templates == []  # nothing rendered again
    assert catalog.content == first_catalog.content
    assert detail.content == first_course.content
    assert "Kubernetes Administrator" in catalog.text
    assert catalog["Vary"] == first_catalog["Vary"] == "Cookie"


def test_each_search_filter_and_page_is_its_own_cached_page(client):
    CourseFactory(title="Kubernetes Administrator")
    CourseFactory(title="Scrum Master")
    client.get(CATALOG, {"q": "kube"})

    other = client.get(CATALOG, {"q": "scrum"})

    assert "Scrum Master" in other.text and "Kubernetes Administrator" not in other.text


def test_signed_in_visitors_get_the_page_with_their_own_navigation(client):
    course = CourseFactory()
    anonymous = client.get(course.get_absolute_url())
    client.force_login(UserFactory())

    signed_in = client.get(course.get_absolute_url())

    assert "Log out" not in anonymous.text
    assert "Log out" in signed_in.text
    assert signed_in.templates != []


def test_a_message_waiting_for_the_visitor_is_shown_on_a_cached_page(client, settings):
    client.get(CATALOG)  # the shared page is cached
    client.force_login(UserFactory())
    client.post(reverse("account_logout"))
    # The browser drops the session cookie that logging out expired; the message stays.
    del client.cookies[settings.SESSION_COOKIE_NAME]
    assert "messages" in client.cookies

    with_message = client.get(CATALOG)
    after = client.get(CATALOG)

    assert "You have signed out." in with_message.text
    assert "You have signed out." not in after.text


def test_pages_still_render_when_the_cache_is_down(client, redis_down):
    course = CourseFactory(title="Kubernetes Administrator")

    catalog = client.get(CATALOG)
    detail = client.get(course.get_absolute_url())

    assert catalog.status_code == detail.status_code == 200
    assert "Kubernetes Administrator" in catalog.text and "Kubernetes Administrator" in detail.text
