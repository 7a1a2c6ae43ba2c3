import hashlib

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from common.page_cache import cache_shared_page

from .models import Course
from .selectors import (
    CATALOG_VERSION_KEY,
    catalog_page,
    featured_courses,
    published_course,
    published_course_count,
    shown_outline,
)


def _page_key(kind: str, request: HttpRequest, *parts: str) -> str:
    where = (request.scheme, request.get_host(), request.path, *parts)
    return f"courses:{kind}:{hashlib.sha256(chr(0).join(where).encode()).hexdigest()[:32]}"


def _catalog_page_key(request: HttpRequest) -> str:
    query = request.GET
    return _page_key(
        "catalog-page", request, query.get("q", ""), query.get("level", ""), query.get("page", "1")
    )


def _course_page_key(request: HttpRequest) -> str:
    return _page_key("course-page", request)


def _home_page_key(request: HttpRequest) -> str:
    return _page_key("home-page", request)


@cache_shared_page(
    version_key=CATALOG_VERSION_KEY,
    key=_home_page_key,
    name="home_html",
    timeout=settings.CATALOG_CACHE_SECONDS,
)
def home(request: HttpRequest) -> HttpResponse:
    """Featured courses, how grants work, the affiliate programme."""
    return render(
        request,
        "courses/home.html",
        {
            "featured": featured_courses(),
            "course_count": published_course_count(),
            "affiliate_rate_percent": settings.AFFILIATE_DEFAULT_RATE_PERCENT,
            "affiliate_cookie_days": settings.AFFILIATE_COOKIE_DAYS,
            "grant_valid_days": settings.GRANT_COUPON_VALID_DAYS,
        },
    )


@cache_shared_page(
    version_key=CATALOG_VERSION_KEY,
    key=_catalog_page_key,
    name="catalog_html",
    timeout=settings.CATALOG_CACHE_SECONDS,
)
def catalog(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")
    level = request.GET.get("level", "")
    page = catalog_page(search=search, level=level, page=request.GET.get("page", 1))
    return render(
        request,
        "courses/catalog.html",
        {"page": page, "search": search, "level": level, "levels": Course.Level.choices},
    )


@cache_shared_page(
    version_key=CATALOG_VERSION_KEY,
    key=_course_page_key,
    name="course_html",
    timeout=settings.CATALOG_CACHE_SECONDS,
)
def course_detail(request: HttpRequest, slug: str) -> HttpResponse:
    course = published_course(slug)
    if course is None:
        raise Http404("No such course")
    return render(
        request, "courses/detail.html", {"course": course, "outline": shown_outline(course)}
    )
