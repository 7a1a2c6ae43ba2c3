"""Input no view should see (a body that cannot be decoded, a NUL character) is refused with the
site's own 400 page, in its layout and with its security headers, logged on one line; the
site's error pages never read the request body."""

import logging

import pytest
from django.test import Client

from accounts.models import User
from affiliates.models import Affiliate
from enrollments.models import Enrollment
from grants.models import Grant

pytestmark = pytest.mark.django_db

FORMS = [
    ("/courses/security-101/checkout/", "learner"),
    ("/grants/apply/", "anonymous"),
    ("/affiliates/join/", "other_learner"),
    ("/accounts/signup/", "anonymous"),
    ("/accounts/login/", "anonymous"),
    ("/accounts/password/reset/", "anonymous"),
    ("/admin/login/", "anonymous"),
    ("/admin/grants/grant/", "staff"),
    ("/admin/enrollments/enrollment/1/refund/", "staff"),
    ("/no-such-page/", "anonymous"),
]


def csrf_client(world, persona: str) -> Client:
    """A browser: the CSRF check is enforced (the test client skips it by default), and the
    form carries a valid token."""
    client = world.client_for(persona, enforce_csrf_checks=True)
    client.get("/grants/apply/")
    return client


def counts():
    return (
        User.objects.count(),
        Grant.objects.count(),
        Affiliate.objects.count(),
        Enrollment.objects.count(),
    )


def assert_site_error_page(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert "MaalEdu" in response.text  # the site's layout, not a bare server page
    assert response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(("path", "persona"), FORMS)
@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=utf-16",
        "application/x-www-form-urlencoded; charset=latin-1",
    ],
)
def test_a_form_body_in_another_charset_gets_the_sites_400_page(
    world, settings, caplog, path, persona, content_type
):
    client = csrf_client(world, persona)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    body = f"csrfmiddlewaretoken={token}&email=a%40example.com".encode("utf-16")
    before = counts()

    with caplog.at_level(logging.INFO):
        response = client.generic("POST", path, data=body, content_type=content_type)

    expected = 404 if path == "/no-such-page/" else 400
    assert_site_error_page(response, expected)
    assert counts() == before
    assert not [record for record in caplog.records if record.exc_info]
    assert all("\n" not in record.getMessage() for record in caplog.records)


def test_too_many_form_fields_get_the_sites_400_page_past_the_csrf_check(world, settings):
    client = csrf_client(world, "anonymous")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    fields = "&".join(f"f{number}=1" for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))
    before = counts()

    response = client.post(
        "/grants/apply/",
        data=f"csrfmiddlewaretoken={token}&email=a%40example.com&{fields}",
        content_type="application/x-www-form-urlencoded",
    )

    assert_site_error_page(response, 400)
    assert counts() == before


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        ("bad_request", 400),
        ("permission_denied", 403),
        ("page_not_found", 404),
        ("server_error", 500),
    ],
)
def test_the_error_pages_never_read_the_request_body(rf, handler, status):
    from django.contrib.auth.models import AnonymousUser

    from maaledu import urls, views

    request = rf.generic(
        "POST",
        "/grants/apply/",
        data="email=a@example.com".encode("utf-16"),
        content_type="application/x-www-form-urlencoded; charset=utf-16",
    )
    request.user = AnonymousUser()
    assert getattr(urls, f"handler{status}") == f"maaledu.views.{handler}"

    response = (
        getattr(views, handler)(request)
        if status == 500
        else getattr(views, handler)(request, Exception())
    )

    assert response.status_code == status
    assert "MaalEdu" in response.content.decode()


# --- NUL characters and hand-made admin POSTs -------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/enrollments/enrollment/?status=a%00b",
        "/admin/grants/grant/?status=a%00b",
        "/admin/enrollments/enrollment/?q=a%00b",
        "/admin/grants/grant/?q=%00",
        "/admin/affiliates/commission/?status__exact=%00",
        "/admin/affiliates/commission/export/?start=2024-01-01&end=2024-02-01&affiliate=%00",
        "/courses/?q=%00",
        "/courses/security-101/?ref=a%00",
        "/grants/apply/?course=%00",
    ],
)
def test_a_nul_character_in_a_query_string_gets_the_sites_400_page(world, path):
    response = world.client_for("staff").get(path)

    assert_site_error_page(response, 400)


@pytest.mark.parametrize(
    ("path", "persona"),
    [
        ("/grants/apply/", "anonymous"),
        ("/accounts/login/", "anonymous"),
        ("/admin/grants/grant/", "staff"),
        ("/courses/security-101/checkout/", "learner"),
    ],
)
def test_a_nul_character_in_a_form_field_gets_the_sites_400_page(world, settings, path, persona):
    client = csrf_client(world, persona)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    before = counts()

    response = client.post(
        path, {"csrfmiddlewaretoken": token, "email": "a\x00@example.com", "action\x00": "x"}
    )

    assert_site_error_page(response, 400)
    assert counts() == before


def grant_rows():
    return list(Grant.objects.order_by("pk").values_list("pk", "status", "coupon_code"))


@pytest.mark.parametrize(
    "selected",
    [["abc"], ["1", "abc"], ["99999999999999999999999"], [""], ["1.5"], ["-"]],
)
@pytest.mark.parametrize(
    ("path", "action"),
    [
        ("/admin/grants/grant/", "approve_selected"),
        ("/admin/grants/grant/", "reject_selected"),
        ("/admin/auth/group/", "delete_selected"),
        ("/admin/account/emailaddress/", "delete_selected"),
        ("/admin/affiliates/affiliate/", "create_payouts"),
    ],
)
def test_an_admin_action_on_a_selection_that_is_not_row_ids_is_refused(
    world, path, action, selected
):
    before = grant_rows()

    response = world.client_for("staff").post(
        path,
        {
            "action": action,
            "index": "0",
            "_selected_action": selected,
            "confirm": "yes",
            "discount_percent": "50",
            "valid_days": "30",
            "note": "no",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "That selection is not valid. No items have been changed." in response.text
    assert grant_rows() == before


@pytest.mark.parametrize(
    "data",
    [
        {"action": ["approve_selected", "reject_selected"], "confirm": "yes", "note": "n"},
        {"action": ["approve_selected", "approve_selected"], "index": "7"},
        {"action": "approve_selected", "index": "abc", "confirm": "yes"},
        {"action": "approve_selected", "confirm": "yes", "discount_percent": ["50", "x"]},
        {"action": "approve_selected", "confirm": "yes", "discount_percent": "１２"},
        {"action": "no_such_action", "confirm": "yes"},
    ],
)
def test_the_grant_approval_action_survives_repeated_and_junk_fields(world, data):
    response = world.client_for("staff").post(
        "/admin/grants/grant/",
        {"_selected_action": [world.other_grant.pk], "valid_days": "30", **data},
    )

    assert response.status_code in (200, 302)


def test_the_commission_export_with_an_empty_affiliate_exports_every_affiliate(world):
    response = world.client_for("staff").get(
        "/admin/affiliates/commission/export/",
        {"start": "2000-01-01", "end": "2100-01-01", "affiliate": ""},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
