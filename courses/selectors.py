"""Reads for the catalog and course pages, cached in the configured cache.

Every cache key carries a catalog version; saving or deleting any course replaces the version
(``services.bump_catalog_version``, called by ``courses.signals`` and the services), so no
stale page outlives a change. The only writes here are the read-through cache's own: a page
computed on a miss is cached, and a missing version is created (``versioned_cache``).
"""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet

from common import version_feed, versioned_cache
from common.metrics import record_cache

from .models import Course

CATALOG_VERSION_KEY = "courses:catalog-version"
CATALOG_PAGE_SIZE = 12
HOME_FEATURED = 3


def catalog_version() -> str | None:
    """The version every catalog and course page key carries (None: the cache is down)."""
    return versioned_cache.version(CATALOG_VERSION_KEY)


def catalog_key(kind: str, *parts: str) -> str | None:
    """A cache key under the current catalog version, or None when the cache is down."""
    return _key_under(catalog_version(), kind, *parts)


def _key_under(version: str | None, kind: str, *parts: str) -> str | None:
    if version is None:
        return None
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return f"courses:{kind}:{version}:{digest}"


def published_courses() -> QuerySet[Course]:
    return Course.objects.filter(is_published=True)


@dataclass(frozen=True)
class CatalogPage:
    courses: list[Course]
    number: int
    num_pages: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages


def catalog_page(*, search: str = "", level: str = "", page: str | int = 1) -> CatalogPage:
    """One page of published courses matching the search box and level filter (2 queries)."""
    search = " ".join(search.replace("\x00", "").split())[:100]
    key = catalog_key("catalog", search, level, str(page))
    cached = versioned_cache.get(key)
    record_cache(hit=cached is not None, cache_name="catalog_page")
    if cached is not None:
        return cached

    courses = published_courses().defer("description", "features")
    if search:
        courses = courses.filter(Q(title__icontains=search) | Q(subtitle__icontains=search))
    if level in Course.Level.values:
        courses = courses.filter(level=level)
    paginator = Paginator(courses.order_by("title", "pk"), CATALOG_PAGE_SIZE)
    page_obj = paginator.get_page(page)
    result = CatalogPage(
        courses=list(page_obj.object_list),
        number=page_obj.number,
        num_pages=paginator.num_pages,
        total=paginator.count,
    )
    versioned_cache.put(key, result, timeout=settings.CATALOG_CACHE_SECONDS)
    return result


# slug -> (catalog version, the published course or None, kept at): this process's copies,
# read-only; each kept at most CATALOG_CACHE_SECONDS, as the shared copy, so a course changed
# while Redis was unreachable (its version bump lost) is read again within that time.
_local_courses: dict[str, tuple[str, Course | None, float]] = {}
LOCAL_COURSES = 512


def published_course(slug: str) -> Course | None:
    """The published course with this slug, or None (1 query, then cached).

    Each web process also keeps the courses it read in memory, served with no round trip while
    their catalog version is the one its ``version_feed`` knows to be current (as the catalog
    pages are: ``common.page_cache``); the same instance goes to every request, so callers
    must not change it."""
    feed = version_feed.feed()
    current = feed.known(CATALOG_VERSION_KEY) if feed is not None else None
    local = _local_courses.get(slug) if current is not None else None
    if (
        local is not None
        and local[0] == current
        and time.monotonic() - local[2] < settings.CATALOG_CACHE_SECONDS
    ):
        record_cache(hit=True, cache_name="course_detail")
        return local[1]
    generation = feed.generation() if feed is not None else 0
    version = catalog_version()
    key = _key_under(version, "detail", slug)
    cached = versioned_cache.get(key)
    record_cache(hit=cached is not None, cache_name="course_detail")
    if cached is not None:
        course = cached or None
    else:
        course = published_courses().select_related("outline").filter(slug=slug).first()
        # Cache misses too (as False), so probing unknown slugs cannot hammer the database.
        versioned_cache.put(key, course or False, timeout=settings.CATALOG_CACHE_SECONDS)
    if feed is not None and version is not None:
        feed.learn(CATALOG_VERSION_KEY, version, generation)
        if len(_local_courses) >= LOCAL_COURSES:
            _local_courses.clear()  # unknown slugs are remembered too: never grow without end
        _local_courses[slug] = (version, course, time.monotonic())
    return course


def featured_courses(limit: int = HOME_FEATURED) -> list[Course]:
    """The home page's courses: those marked featured, else the newest (1-2 queries, cached)."""
    key = catalog_key("featured", str(limit))
    cached = versioned_cache.get(key)
    record_cache(hit=cached is not None, cache_name="featured_courses")
    if cached is not None:
        return cached
    courses = published_courses().defer("description", "features")
    featured = list(courses.filter(is_featured=True).order_by("title", "pk")[:limit])
    if not featured:
        featured = list(courses.order_by("-created_at", "-pk")[:limit])
    versioned_cache.put(key, featured, timeout=settings.CATALOG_CACHE_SECONDS)
    return featured


def published_course_count() -> int:
    key = catalog_key("count")
    cached = versioned_cache.get(key)
    if cached is not None:
        return cached
    count = published_courses().count()
    versioned_cache.put(key, count, timeout=settings.CATALOG_CACHE_SECONDS)
    return count


def shown_outline(course: Course):
    """The course's LMS outline, if it was read from the LMS course it is mapped to now."""
    try:
        outline = course.outline
    except ObjectDoesNotExist:
        return None
    if not course.frappe_course or outline.lms_course != course.frappe_course:
        return None
    return outline
