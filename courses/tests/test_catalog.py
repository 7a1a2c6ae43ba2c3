import pytest
from django.urls import reverse

from courses.models import Course
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


def test_catalog_lists_published_courses_only(client):
    CourseFactory(title="Kubernetes Administrator")
    CourseFactory(title="Secret draft course", is_published=False)

    response = client.get(reverse("courses:catalog"))

    assert response.status_code == 200
    assert "Kubernetes Administrator" in response.text
    assert "Secret draft course" not in response.text


def test_catalog_search_matches_title_and_subtitle_case_insensitively(client):
    CourseFactory(title="AWS Architect", subtitle="cloud design")
    CourseFactory(title="PMP Prep", subtitle="Project management with KUBERNETES examples")
    CourseFactory(title="Scrum Master", subtitle="agile")

    response = client.get(reverse("courses:catalog"), {"q": "kubernetes"})

    assert "PMP Prep" in response.text
    assert "AWS Architect" not in response.text
    assert "Scrum Master" not in response.text


def test_catalog_level_filter_and_unknown_level_is_ignored(client):
    CourseFactory(title="Starter course", level=Course.Level.BEGINNER)
    CourseFactory(title="Expert course", level=Course.Level.ADVANCED)

    filtered = client.get(reverse("courses:catalog"), {"level": "advanced"})
    unknown = client.get(reverse("courses:catalog"), {"level": "<script>"})

    assert "Expert course" in filtered.text and "Starter course" not in filtered.text
    assert unknown.status_code == 200
    assert "Expert course" in unknown.text and "Starter course" in unknown.text


def test_catalog_is_paginated_and_out_of_range_pages_show_the_last_page(client):
    CourseFactory.create_batch(13)

    first = client.get(reverse("courses:catalog"))
    beyond = client.get(reverse("courses:catalog"), {"page": "999"})
    garbage = client.get(reverse("courses:catalog"), {"page": "x"})

    assert first.context["page"].num_pages == 2
    assert len(first.context["page"].courses) == 12
    assert beyond.context["page"].number == 2
    assert garbage.context["page"].number == 1


def test_course_page_shows_price_features_and_meta(client):
    course = CourseFactory(price_cents=49900, features=["Six practice exams"])

    response = client.get(course.get_absolute_url())

    assert response.status_code == 200
    assert "$499.00" in response.text
    assert "Six practice exams" in response.text
    assert f'<link rel="canonical" href="http://testserver{course.get_absolute_url()}">' in (
        response.text
    )
    assert '<meta name="description"' in response.text


@pytest.mark.parametrize("published", [False, None])
def test_unpublished_or_unknown_course_is_a_404_in_the_site_layout(client, published):
    slug = "hidden"
    if published is False:
        CourseFactory(slug=slug, is_published=False)

    response = client.get(reverse("courses:detail", kwargs={"slug": slug}))

    assert response.status_code == 404
    assert "Page not found" in response.text
    assert 'href="/courses/"' in response.text  # the layout's navigation


@pytest.mark.parametrize("count", [3, 60])
def test_catalog_and_course_page_run_a_constant_number_of_queries(
    client, django_assert_max_num_queries, count
):
    courses = CourseFactory.create_batch(count)

    # Cold cache: count + one page of rows. Warm cache: nothing.
    with django_assert_max_num_queries(2):
        client.get(reverse("courses:catalog"))
    with django_assert_max_num_queries(0):
        client.get(reverse("courses:catalog"))
    with django_assert_max_num_queries(1):
        client.get(courses[-1].get_absolute_url())
    with django_assert_max_num_queries(0):
        client.get(courses[-1].get_absolute_url())


def test_saving_a_course_invalidates_cached_catalog_and_course_page(client):
    course = CourseFactory(title="Old title")
    assert "Old title" in client.get(reverse("courses:catalog")).text
    assert "Old title" in client.get(course.get_absolute_url()).text

    course.title = "New title"
    course.save(update_fields=["title"])

    assert "New title" in client.get(reverse("courses:catalog")).text
    assert "New title" in client.get(course.get_absolute_url()).text


def test_unpublishing_or_deleting_a_course_removes_it_from_cached_pages(client):
    course = CourseFactory(title="Short lived")
    other = CourseFactory(title="Deleted soon")
    client.get(reverse("courses:catalog"))
    client.get(course.get_absolute_url())

    course.is_published = False
    course.save(update_fields=["is_published"])
    other.delete()

    catalog = client.get(reverse("courses:catalog")).text
    assert "Short lived" not in catalog and "Deleted soon" not in catalog
    assert client.get(course.get_absolute_url()).status_code == 404
