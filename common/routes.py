"""Bounded labels for a request (for logs and metrics): its method and its URL pattern."""

from django.conf import settings
from django.http import HttpRequest

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(request: HttpRequest) -> str:
    """The HTTP method, or ``OTHER`` for one a client invented (labels must stay bounded)."""
    return request.method if request.method in _KNOWN_METHODS else "OTHER"


def route_name(request: HttpRequest) -> str:
    """The URL pattern's name (``courses:detail``), never the raw path: a bounded label.

    Requests that matched no pattern are ``<static>`` (served by whitenoise) or ``<unmatched>``.
    """
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name
    if request.path.startswith(settings.STATIC_URL):
        return "<static>"
    return "<unmatched>"
