from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Course
from .selectors import catalog_page, published_course


def catalog(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")
    level = request.GET.get("level", "")
    page = catalog_page(search=search, level=level, page=request.GET.get("page", 1))
    return render(
        request,
        "courses/catalog.html",
        {"page": page, "search": search, "level": level, "levels": Course.Level.choices},
    )


def course_detail(request: HttpRequest, slug: str) -> HttpResponse:
    course = published_course(slug)
    if course is None:
        raise Http404("No such course")
    return render(request, "courses/detail.html", {"course": course})
