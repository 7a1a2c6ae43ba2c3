"""Writes of the courses app besides the admin's own: cover thumbnails, LMS outlines and
courses brought over from the old MaalEdu.

Each write is one conditional update (or an insert guarded by the outline's unique course), so
running one twice, or two at once, leaves one right answer. Neither fires ``post_save``, so each
retires the cached pages itself.
"""

import hashlib
import json
import logging

from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from common import versioned_cache
from common.transactions import atomic

from .covers import CoverError, delete_thumbnails, make_thumbnails
from .models import Course, CourseOutline
from .selectors import CATALOG_VERSION_KEY

logger = logging.getLogger(__name__)

MAX_TITLE = 200
MAX_CHAPTERS = 200
MAX_LESSONS = 500


def bump_catalog_version() -> None:
    """Retire every cached catalog and course page (a course changed). Announced: web processes
    keep those pages in memory too (``common.page_cache``)."""
    versioned_cache.bump_versions(CATALOG_VERSION_KEY, announce=True)


def refresh_cover(course_id: int) -> bool:
    """Make the thumbnails of the course's current image, unless they exist; True if made.

    The thumbnails are recorded only if the image is still the one they were made from and
    no overlapping run recorded its own first (one conditional update); a run that loses
    deletes the files it wrote.
    """
    course = (
        Course.objects.filter(pk=course_id)
        .only("image", "cover_source", "cover_thumbnails")
        .first()
    )
    if course is None:
        return False
    source = course.image.name if course.image else ""
    if source == course.cover_source:
        return False
    storage = course.image.storage
    previous = course.cover_thumbnails
    thumbnails = []
    if source:
        try:
            thumbnails = make_thumbnails(storage, source)
        except CoverError as error:
            # Not an image after all (the admin's ImageField validates uploads, a shell may
            # not): record that nothing can be made, so the page shows no cover.
            logger.warning("event=course.cover_unreadable course=%s error=%s", course_id, error)
    recorded = (
        Course.objects.filter(pk=course_id, image=source)
        .exclude(cover_source=source)
        .update(cover_source=source, cover_thumbnails=thumbnails)
    )
    if not recorded:
        delete_thumbnails(storage, thumbnails)
        return False
    if previous and previous != thumbnails:
        delete_thumbnails(storage, previous)
    bump_catalog_version()
    logger.info("event=course.cover_made course=%s sizes=%s", course_id, len(thumbnails))
    return True


def courses_with_stale_covers() -> list[int]:
    """Courses whose image changed since their thumbnails were made (for the sweep)."""
    return list(Course.objects.exclude(cover_source=F("image")).values_list("pk", flat=True)[:500])


class OutlineError(ValueError):
    """The LMS answered an outline we cannot show; nothing is stored."""


def _text(value, what: str) -> str:
    text = " ".join(str(value or "").replace("\x00", "").split())
    if not text:
        raise OutlineError(f"{what} has no title")
    return text[:MAX_TITLE]


def clean_outline(chapters: list, instructors: list) -> tuple[list, list]:
    """The outline in the shape the page renders: plain, bounded text only."""
    if not isinstance(chapters, list) or not isinstance(instructors, list):
        raise OutlineError("chapters and instructors must be lists")
    if len(chapters) > MAX_CHAPTERS:
        raise OutlineError(f"more than {MAX_CHAPTERS} chapters")
    clean_chapters = []
    for chapter in chapters:
        lessons = chapter.get("lessons") if isinstance(chapter, dict) else None
        if not isinstance(lessons, list) or len(lessons) > MAX_LESSONS:
            raise OutlineError("a chapter without a list of lessons")
        clean_chapters.append(
            {
                "title": _text(chapter.get("title"), "a chapter"),
                "lessons": [
                    {
                        "title": _text(lesson.get("title"), "a lesson"),
                        "preview": bool(lesson.get("preview")),
                    }
                    for lesson in lessons
                    if isinstance(lesson, dict)
                ],
            }
        )
    clean_instructors = [
        {
            "name": str(person.get("name") or "")[:140],
            "full_name": _text(person.get("full_name") or person.get("name"), "an instructor"),
        }
        for person in instructors
        if isinstance(person, dict)
    ]
    return clean_chapters, clean_instructors


def store_outline(*, course_id: int, lms_course: str, chapters: list, instructors: list) -> bool:
    """Keep the outline read from the LMS course ``lms_course``; True when the page changes.

    Stored only while the course is still mapped to ``lms_course`` (a mapping changed while
    the LMS was being read must not get the old course's outline).
    """
    chapters, instructors = clean_outline(chapters, instructors)
    content = {"lms_course": lms_course, "chapters": chapters, "instructors": instructors}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    if not Course.objects.filter(pk=course_id, frappe_course=lms_course).exists():
        return False
    now = timezone.now()
    changed = (
        CourseOutline.objects.filter(course_id=course_id)
        .exclude(digest=digest)
        .update(**content, digest=digest, synced_at=now)
    )
    if not changed and not CourseOutline.objects.filter(course_id=course_id).exists():
        try:
            with atomic():
                CourseOutline.objects.create(
                    course_id=course_id, **content, digest=digest, synced_at=now
                )
            changed = 1
        except IntegrityError:  # another run stored it since we looked; it read the same LMS
            return False
    if changed:
        bump_catalog_version()
        logger.info(
            "event=course.outline_stored course=%s lms_course=%s chapters=%s",
            course_id,
            lms_course,
            len(chapters),
        )
    return bool(changed)


def drop_outline(*, course_id: int) -> bool:
    """Forget the outline (the LMS course is gone, or the course is no longer mapped)."""
    deleted, _ = CourseOutline.objects.filter(course_id=course_id).delete()
    if deleted:
        bump_catalog_version()
    return bool(deleted)


def drop_stale_outlines() -> int:
    """Forget outlines of courses no longer mapped to the LMS course they were read from.

    Found first, then deleted by key: a delete may not join the course (MongoDB). An outline
    remapped in between is read again from the LMS by the next sync."""
    stale = CourseOutline.objects.exclude(lms_course=F("course__frappe_course"))
    deleted, _ = CourseOutline.objects.filter(
        pk__in=list(stale.values_list("pk", flat=True))
    ).delete()
    if deleted:
        bump_catalog_version()
    return deleted


def import_unpublished_course(
    *, slug: str, title: str, description: str, price_cents: int, currency: str, level: str
) -> tuple[Course, bool]:
    """The course with ``slug``, created unpublished if missing (staff publish it once its
    content and LMS mapping are checked); and whether this call created it."""
    existing = Course.objects.filter(slug=slug).first()
    if existing is not None:
        return existing, False
    if level not in Course.Level.values:
        level = Course.Level.BEGINNER
    try:
        with atomic():
            course = Course.objects.create(
                slug=slug,
                title=title[:200],
                description=description,
                price_cents=price_cents,
                currency=currency,
                level=level,
                is_published=False,
            )
    except IntegrityError:
        return Course.objects.get(slug=slug), False
    return course, True
