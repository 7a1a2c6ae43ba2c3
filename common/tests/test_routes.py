"""The ``<pk:…>`` URL converter and the untrusted primary-key parser, on either backend."""

import pytest
from bson import ObjectId
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from common.routes import PrimaryKeyConverter, primary_key_or_none
from enrollments.models import Enrollment

GARBAGE = [
    None,
    "",
    " 1",
    "1 ",
    "+1",
    "-1",
    "0",
    "1.5",
    "١٢",  # Arabic-Indic digits: int() would take them
    "9" * 19,  # past a 64-bit integer
    "9" * 40,
    "abc",
    "0123456789abcdef0123456",  # 23 hex digits
    "0123456789abcdef012345678",  # 25
    "g123456789abcdef01234567",
    "1\x00",
    True,
    ["1"],
    {"id": 1},
]


def _a_key_of_this_backend():
    """A well-formed key of this backend's type (it need not exist)."""
    return 42 if _is_sql() else ObjectId()


def _is_sql() -> bool:
    return Enrollment._meta.pk.get_internal_type() != "ObjectIdAutoField"


@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_is_not_a_primary_key(value):
    assert primary_key_or_none(value) is None
    assert primary_key_or_none(value, Enrollment._meta.pk) is None


def test_a_key_of_this_backend_parses_to_its_type_and_the_other_backends_does_not():
    key = _a_key_of_this_backend()
    assert primary_key_or_none(str(key), Enrollment._meta.pk) == key
    assert type(primary_key_or_none(str(key))) is type(key)
    other = str(ObjectId()) if _is_sql() else "42"
    assert primary_key_or_none(other, Enrollment._meta.pk) is None


def test_the_converter_resolves_a_key_of_this_backend_and_reverses_it():
    key = _a_key_of_this_backend()
    url = reverse("enrollments:enrollment_status", args=[key])
    assert url == f"/enrollments/{key}/"
    assert resolve(url).kwargs == {"enrollment_id": key}


@pytest.mark.parametrize("segment", ["abc", "0", "9" * 25, "0123456789abcdef0123456"])
def test_the_converter_does_not_match_garbage(segment):
    with pytest.raises(Resolver404):
        resolve(f"/enrollments/{segment}/")


def test_the_converter_does_not_match_the_other_backends_key():
    other = str(ObjectId()) if _is_sql() else "42"
    with pytest.raises(Resolver404):
        resolve(f"/enrollments/{other}/")
    with pytest.raises(NoReverseMatch):
        reverse("enrollments:enrollment_status", args=["not-a-key"])


def test_the_converter_is_what_pk_means_in_patterns():
    assert PrimaryKeyConverter().to_url(ObjectId("0123456789abcdef01234567")) == (
        "0123456789abcdef01234567"
    )


@pytest.mark.django_db
def test_an_unknown_well_formed_key_is_a_404_page(client):
    key = _a_key_of_this_backend()
    assert client.get(f"/enrollments/{key}/").status_code == 404
    other = str(ObjectId()) if _is_sql() else "42"
    assert client.get(f"/enrollments/{other}/").status_code == 404
    assert client.get(f"/my/orders/{other}/receipt/").status_code in (302, 404)
