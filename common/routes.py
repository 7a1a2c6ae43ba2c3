"""Bounded labels for a request (for logs and metrics): its method and its URL pattern; the
``<pk:…>`` URL converter and the parser of primary keys from untrusted text."""

import functools
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from django.urls import register_converter
from django.utils.module_loading import import_string

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


# --- Primary keys in URLs and from untrusted text ---------------------------------------------

# A primary key as text: a positive integer (SQL databases) or a 24-hex ObjectId (MongoDB).
PRIMARY_KEY_PATTERN = r"[0-9a-fA-F]{24}|[0-9]{1,19}"
_PRIMARY_KEY_TEXT = re.compile(rf"(?:{PRIMARY_KEY_PATTERN})")
_BIGINT_MAX = 2**63 - 1


def _default_primary_key_field() -> models.Field:
    """The project's primary-key field (``DEFAULT_AUTO_FIELD``): which key type it parses."""
    return _primary_key_field(settings.DEFAULT_AUTO_FIELD)


@functools.cache
def _primary_key_field(path: str) -> models.Field:
    field = import_string(path)(primary_key=True)
    field.set_attributes_from_name("id")
    return field


def primary_key_or_none(value, field: models.Field | None = None):
    """A primary key parsed from untrusted text (a URL, Stripe metadata, a form), or None.

    ``field`` is the model's pk field (``Model._meta.pk``; the project's default key type if
    omitted): its ``to_python`` gives an int on SQL databases and an ObjectId on MongoDB. Garbage,
    the other backend's key type, zero and out-of-range integers are None, never an exception.
    """
    if value is None or isinstance(value, bool):
        return None
    text = str(value)
    if not _PRIMARY_KEY_TEXT.fullmatch(text):
        return None
    field = field if field is not None else _default_primary_key_field()
    try:
        key = field.to_python(text)
    except (ValidationError, ValueError, TypeError):
        return None
    if isinstance(key, int) and not 0 < key <= _BIGINT_MAX:
        return None
    return key


class PrimaryKeyConverter:
    """``<pk:name>`` in URL patterns: a primary key of this backend's type (see above).

    A key of the wrong shape does not match the pattern (a 404), so a view never receives one
    its queries would reject with a 500. Registered once, in ``CommonConfig.ready``.
    """

    regex = PRIMARY_KEY_PATTERN

    def to_python(self, value: str):
        key = primary_key_or_none(value)
        if key is None:
            raise ValueError(f"not a primary key: {value!r}")
        return key

    def to_url(self, value) -> str:
        return str(value)


def register_converters() -> None:
    register_converter(PrimaryKeyConverter, "pk")
