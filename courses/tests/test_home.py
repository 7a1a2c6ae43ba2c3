"""The home page: featured courses with covers, how grants work, the affiliate programme; cached
whole for anonymous visitors like the catalog, retired by any course change."""

import pytest

from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


def test_home_page_shows_featured_courses_grants_and_affiliates_with_meta(client, settings):
    settings.AFFILIATE_DEFAULT_RATE_PERCENT = 12
    CourseFactory(title="Featured Kubernetes", is_featured=True)
    CourseFactory(title="Plain course")
    CourseFactory(title="Featured draft", is_featured=True, is_published=False)

    response = client.get("/")

    assert response.status_code == 200
    html = response.text
    assert "Featured Kubernetes" in html
    assert "Plain course" not in html and "Featured draft" not in html
    assert 'href="/grants/apply/"' in html and "Grants: up to 100% off" in html
    assert 'href="/affiliates/join/"' in html and "earn 12%" in html
    assert (
        "<title>Professional certification courses with labs and mentors · MaalEdu</title>" in html
    )
    assert '<meta name="description" content="MaalEdu prepares you' in html
    assert '<link rel="canonical" href="http://testserver/">' in html


def test_without_featured_courses_the_newest_published_ones_are_shown(client):
    CourseFactory(title="Older course")
    CourseFactory(title="Newest course")

    html = client.get("/").text

    assert "Newest course" in html and "Older course" in html


def test_home_page_is_served_whole_from_the_cache_to_anonymous_visitors(
    client, django_assert_num_queries
):
    CourseFactory(title="Cached course", is_featured=True)
    client.get("/")

    with django_assert_num_queries(0):
        second = client.get("/")

    assert "Cached course" in second.text
    assert "Cookie" in second["Vary"]


def test_a_course_change_retires_the_cached_home_page(client):
    course = CourseFactory(title="Before rename", is_featured=True)
    client.get("/")

    course.title = "After rename"
    course.save()

    assert "After rename" in client.get("/").text


def test_home_page_works_with_the_cache_down(client, redis_down):
    CourseFactory(title="Still shown", is_featured=True)

    response = client.get("/")

    assert response.status_code == 200
    assert "Still shown" in response.text


def test_signed_in_visitors_get_the_home_page_with_their_navigation(client, django_user_model):
    CourseFactory(is_featured=True)
    client.get("/")  # the anonymous page is cached
    user = django_user_model.objects.create_user(email="ada@example.com", password="pw-12345678")
    client.force_login(user)

    html = client.get("/").text

    assert "My courses" in html and "Log out" in html
