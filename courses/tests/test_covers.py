"""Course covers: thumbnails made once per image with Pillow, shown as <picture> with WebP and
a JPEG fallback, remade when the image changes; seed_demo draws one per demo course."""

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image

from courses import services, tasks
from courses.models import Course
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db


def image_bytes(size=(1600, 1000), colour=(200, 30, 30), fmt="PNG", mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, fmt)
    return out.getvalue()


def upload(course: Course, name: str = "cover.png", **kwargs) -> Course:
    course.image.save(name, ContentFile(image_bytes(**kwargs)), save=True)
    course.refresh_from_db()
    return course


def test_upload_makes_two_sizes_in_webp_and_jpeg_once(django_capture_on_commit_callbacks):
    course = CourseFactory()

    with django_capture_on_commit_callbacks(execute=True):
        upload(course)
    course.refresh_from_db()

    assert course.cover_source == course.image.name
    assert [(t["width"], t["height"]) for t in course.cover_thumbnails] == [(480, 270), (960, 540)]
    for thumbnail in course.cover_thumbnails:
        with default_storage.open(thumbnail["webp"]) as webp:
            assert Image.open(webp).format == "WEBP"
        with default_storage.open(thumbnail["fallback"]) as jpeg:
            image = Image.open(jpeg)
            assert image.format == "JPEG" and image.size == (
                thumbnail["width"],
                thumbnail["height"],
            )
    # Made once: a second run (a duplicate message, the sweep) finds nothing to do.
    assert services.refresh_cover(course.pk) is False


def test_catalog_card_and_course_page_show_the_picture_with_sizes_and_lazy_loading(
    client, django_capture_on_commit_callbacks
):
    course = CourseFactory(title="Cover course")
    with django_capture_on_commit_callbacks(execute=True):
        upload(course)
    course.refresh_from_db()
    small, large = course.cover_thumbnails

    catalog = client.get("/courses/").text
    page = client.get(course.get_absolute_url()).text

    srcset = f"/media/{small['webp']} 480w, /media/{large['webp']} 960w"
    assert f'<source type="image/webp" srcset="{srcset}"' in catalog
    assert f'<img src="/media/{small["fallback"]}"' in catalog
    assert 'width="480" height="270" loading="lazy"' in catalog
    assert f'<img src="/media/{large["fallback"]}"' in page
    assert 'width="960" height="540" loading="lazy"' in page


def test_the_site_serves_the_thumbnails_in_development(client, django_capture_on_commit_callbacks):
    course = CourseFactory()
    with django_capture_on_commit_callbacks(execute=True):
        upload(course)
    course.refresh_from_db()

    response = client.get(f"/media/{course.cover_thumbnails[0]['webp']}")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"


def test_a_new_image_gets_new_thumbnails_and_the_old_ones_are_deleted(
    client, django_capture_on_commit_callbacks
):
    course = CourseFactory()
    with django_capture_on_commit_callbacks(execute=True):
        upload(course, "first.png")
    course.refresh_from_db()
    old = course.cover_thumbnails
    client.get(course.get_absolute_url())  # cached with the old cover

    with django_capture_on_commit_callbacks(execute=True):
        upload(course, "second.png", colour=(0, 0, 255))
    course.refresh_from_db()

    assert course.cover_source.startswith("courses/second")
    assert course.cover_thumbnails[0]["webp"] != old[0]["webp"]
    assert not default_storage.exists(old[0]["webp"])
    assert course.cover_thumbnails[0]["webp"] in client.get(course.get_absolute_url()).text


def test_transparent_png_gets_an_opaque_jpeg_fallback(django_capture_on_commit_callbacks):
    course = CourseFactory()
    with django_capture_on_commit_callbacks(execute=True):
        upload(course, mode="RGBA", colour=(0, 0, 0, 0))
    course.refresh_from_db()

    with default_storage.open(course.cover_thumbnails[0]["fallback"]) as jpeg:
        assert Image.open(jpeg).convert("RGB").getpixel((10, 10)) == (255, 255, 255)


def test_a_file_that_is_not_an_image_gives_no_cover_and_no_error(client):
    course = CourseFactory()
    Course.objects.filter(pk=course.pk).update(
        image=default_storage.save("courses/fake.png", ContentFile(b"not an image"))
    )

    assert services.refresh_cover(course.pk) is True
    course.refresh_from_db()

    assert course.cover_thumbnails == []
    assert course.cover is None
    assert client.get(course.get_absolute_url()).status_code == 200


def test_removing_the_image_removes_the_cover(client, django_capture_on_commit_callbacks):
    course = CourseFactory()
    with django_capture_on_commit_callbacks(execute=True):
        upload(course)
    course.refresh_from_db()
    old = course.cover_thumbnails

    course.image = None
    with django_capture_on_commit_callbacks(execute=True):
        course.save()
    course.refresh_from_db()

    assert course.cover is None and course.cover_thumbnails == []
    assert not default_storage.exists(old[0]["fallback"])
    assert "<picture" not in client.get(course.get_absolute_url()).text


def test_sweep_makes_thumbnails_a_lost_task_left_undone(redis_down):
    course = CourseFactory()
    # Saved while the broker is down: the task's message is lost.
    upload(course)
    assert course.cover is None
    redis_down.end()

    assert tasks.sweep_stale_covers.delay().get() == 1
    course.refresh_from_db()

    assert course.cover is not None
    assert tasks.sweep_stale_covers.delay().get() == 0


def test_seed_demo_draws_a_distinct_cover_for_every_demo_course():
    call_command("seed_demo", verbosity=0)

    courses = list(Course.objects.all())
    covers = set()
    for course in courses:
        assert course.cover is not None, course.slug
        with default_storage.open(course.image.name) as source:
            covers.add(source.read())
    assert len(covers) == len(courses) == 6

    call_command("seed_demo", verbosity=0)  # again: the same covers, not new ones
    assert {c.image.name for c in Course.objects.all()} == {c.image.name for c in courses}


def test_staff_upload_in_the_admin_makes_the_thumbnails(
    admin_client, django_capture_on_commit_callbacks
):
    course = CourseFactory(title="Admin upload")
    url = f"/admin/courses/course/{course.pk}/change/"
    upload_file = ContentFile(image_bytes(), name="admin-cover.png")
    form = {
        "slug": course.slug,
        "title": course.title,
        "subtitle": course.subtitle,
        "description": course.description,
        "price_cents": course.price_cents,
        "currency": course.currency,
        "features": '["Labs"]',
        "level": course.level,
        "duration": course.duration,
        "is_published": "on",
        "frappe_course": course.frappe_course,
        "image": upload_file,
        "outline-TOTAL_FORMS": "0",
        "outline-INITIAL_FORMS": "0",
        "outline-MIN_NUM_FORMS": "0",
        "outline-MAX_NUM_FORMS": "0",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, form)

    assert response.status_code == 302, response.content[:2000]
    course.refresh_from_db()
    assert course.cover is not None
    page = admin_client.get(url).text
    assert f'<img src="/media/{course.cover_thumbnails[0]["fallback"]}"' in page


def test_the_admin_refuses_a_file_that_is_not_an_image(admin_client):
    course = CourseFactory()
    url = f"/admin/courses/course/{course.pk}/change/"

    response = admin_client.post(
        url,
        {
            "slug": course.slug,
            "title": course.title,
            "description": course.description,
            "price_cents": course.price_cents,
            "currency": course.currency,
            "features": "[]",
            "level": course.level,
            "image": ContentFile(b"%PDF-1.4 not an image", name="cover.png"),
            "outline-TOTAL_FORMS": "0",
            "outline-INITIAL_FORMS": "0",
            "outline-MIN_NUM_FORMS": "0",
            "outline-MAX_NUM_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "Upload a valid image" in response.text
    course.refresh_from_db()
    assert not course.image


def test_stale_covers_are_swept_hourly():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["courses-sweep-stale-covers"]

    assert entry == {"task": "courses.tasks.sweep_stale_covers", "schedule": 3600}
