from django.http import HttpRequest, HttpResponse
from django.urls import path


def floor(request: HttpRequest) -> HttpResponse:
    """The least a Django view can do: every middleware runs, no template, no query."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("floor/", floor, name="floor")]
