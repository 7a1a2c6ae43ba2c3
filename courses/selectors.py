"""Reads for the catalog and course pages, cached in the configured cache.

Every cache key carries a catalog version; saving or deleting any course replaces the version
(``courses.signals``), so no stale page outlives a change.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet

from maaledu.metrics import record_cache

from .models import Course

logger = logging.getLogger(__name__)

CATALOG_VERSION_KEY = "courses:catalog-version"
CATALOG_PAGE_SIZE = 12


# The cache makes pages fast; it is never needed for them to be right. When it is unreachable
# (Redis down) reads fall through to the database and an error is logged.
_CACHE_ERRORS = (redis.RedisError, OSError)


def _cache_get(key: str):
    try:
        return cache.get(key)
    except _CACHE_ERRORS:
        logger.error("event=cache.unavailable op=get")
        return None


def _cache_set(key: str, value, timeout) -> None:
    try:
        cache.set(key, value, timeout=timeout)
    except _CACHE_ERRORS:
        logger.error("event=cache.unavailable op=set")


def catalog_version() -> str:
    version = _cache_get(CATALOG_VERSION_KEY)
    if version is None:
        version = uuid.uuid4().hex
        try:
            # add(): when two processes race, both end up reading the one stored first.
            cache.add(CATALOG_VERSION_KEY, version, timeout=None)
            version = cache.get(CATALOG_VERSION_KEY, version)
        except _CACHE_ERRORS:
            logger.error("event=cache.unavailable op=add")
    return version


def bump_catalog_version() -> None:
    _cache_set(CATALOG_VERSION_KEY, uuid.uuid4().hex, timeout=None)


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
    digest = hashlib.sha256(f"{search}\0{level}\0{page}".encode()).hexdigest()[:32]
    key = f"courses:catalog:{catalog_version()}:{digest}"
    cached = _cache_get(key)
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
    _cache_set(key, result, timeout=settings.CATALOG_CACHE_SECONDS)
    return result


def published_course(slug: str) -> Course | None:
    """The published course with this slug, or None (1 query, then cached)."""
    key = f"courses:detail:{catalog_version()}:{hashlib.sha256(slug.encode()).hexdigest()[:32]}"
    cached = _cache_get(key)
    record_cache(hit=cached is not None, cache_name="course_detail")
    if cached is not None:
        return cached or None
    course = published_courses().filter(slug=slug).first()
    # Cache misses too (as False), so probing unknown slugs cannot hammer the database.
    _cache_set(key, course or False, timeout=settings.CATALOG_CACHE_SECONDS)
    return course
