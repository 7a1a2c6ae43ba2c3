"""Old MaalEdu links (``?ref=<affiliate e-mail>``) keep working for the transition period set in
``LEGACY_REF_LINKS_UNTIL``: a click, attributed like a new link, the address never echoed."""

from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone

from affiliates.cookies import REFERRAL_COOKIE
from affiliates.middleware import ReferralMiddleware
from affiliates.models import ReferralClick
from affiliates.tests.factories import AffiliateFactory

from .test_attribution import CATALOG, _referral

pytestmark = pytest.mark.django_db


@pytest.fixture
def transition(settings):
    settings.LEGACY_REF_LINKS_UNTIL = timezone.localdate() + timedelta(days=30)
    return settings


def test_an_old_email_link_counts_as_a_click_for_the_affiliate(transition):
    affiliate = AffiliateFactory(user__email="aff@example.com")
    client = Client()
    response = client.get(CATALOG, {"ref": " AFF@Example.com ", "page": "2"})
    # The same page without the address, the click already counted and the cookie set.
    assert (response.status_code, response["Location"]) == (302, f"{CATALOG}?page=2")
    assert ReferralClick.objects.filter(affiliate=affiliate).count() == 1
    # Attributed exactly like the affiliate's own code.
    assert _referral(client) == affiliate.referral_code


def test_the_email_is_never_printed_back(transition):
    AffiliateFactory(user__email="aff@example.com")
    response = Client().get(CATALOG, {"ref": "aff@example.com"})
    assert b"aff@example.com" not in response.content
    assert "aff@example.com" not in response.cookies[REFERRAL_COOKIE].value
    assert "aff@example.com" not in str(response.headers).lower()


def test_the_email_is_not_carried_into_a_login_redirect(transition):
    """A login-only page copies its own URL into ``?next=``: the old link's address must not
    ride along into the login page."""
    affiliate = AffiliateFactory(user__email="aff@example.com")
    client = Client()
    response = client.get("/affiliates/join/", {"ref": "aff@example.com"}, follow=True)
    assert [url for url, _status in response.redirect_chain] == [
        "/affiliates/join/",
        "/accounts/login/?next=/affiliates/join/",
    ]
    assert b"example.com" not in response.content.replace(b"@example.com</", b"")
    assert _referral(client) == affiliate.referral_code


def test_the_redirect_stays_on_this_site(transition):
    middleware = ReferralMiddleware(lambda request: HttpResponse("page"))
    for path, location in (
        ("//evil.example/", "/evil.example/"),
        ("/\\evil.example", "/%5Cevil.example"),
    ):
        request = RequestFactory().get("/", {"ref": "aff@example.com"})
        request.path = request.path_info = path  # what a request line "GET //evil.example/" gives
        response = middleware.process_view(request, lambda request: None, (), {})
        assert (response.status_code, response["Location"]) == (302, location)


def test_junk_in_an_old_link_still_gets_the_400_page(transition):
    response = Client().get(CATALOG, {"ref": "aff@example.com", "page": "\x00"})
    assert response.status_code == 400


def test_old_links_stop_after_the_transition_period_and_are_off_by_default(settings):
    AffiliateFactory(user__email="aff@example.com")
    settings.LEGACY_REF_LINKS_UNTIL = None
    response = Client().get(CATALOG, {"ref": "aff@example.com"})
    assert REFERRAL_COOKIE not in response.cookies
    settings.LEGACY_REF_LINKS_UNTIL = timezone.localdate() - timedelta(days=1)
    response = Client().get(CATALOG, {"ref": "aff@example.com"})
    assert REFERRAL_COOKIE not in response.cookies
    assert not ReferralClick.objects.exists()


def test_unknown_or_suspended_affiliates_and_junk_addresses_attribute_nothing(transition):
    AffiliateFactory(user__email="gone@example.com", status="suspended")
    for ref in ("gone@example.com", "nobody@example.com", "a@b@c", "x" * 300 + "@example.com"):
        response = Client().get(CATALOG, {"ref": ref})
        assert (response.status_code, response["Location"]) == (302, CATALOG)
        assert REFERRAL_COOKIE not in response.cookies
    assert not ReferralClick.objects.exists()
