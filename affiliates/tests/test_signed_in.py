"""The signed-in user and their affiliate row come from the web process's memory while the
user's version is unchanged (``affiliates.signed_in``): a warm dashboard runs no SQL, and every
write to either row (saves, the admin's forms, the services' updates) shows on the next
request."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.tests.factories import StaffFactory, UserFactory
from affiliates import services, signed_in
from affiliates.tests.factories import AffiliateFactory
from common.logging import mask_email
from enrollments.services.privacy import delete_account

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("affiliates:dashboard")
LOGIN = reverse("account_login")
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a new long passphrase"
SUSPENDED = "Your affiliate account is suspended"


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _warm(client: Client) -> None:
    """Two views: the rows are kept, the page is cached."""
    for _ in range(2):
        assert client.get(DASHBOARD).status_code == 200


def _change_password(client: Client):
    return client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


def _is_signed_out(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_a_warm_dashboard_runs_no_sql_once_the_signed_in_user_is_kept(
    django_assert_num_queries,
):
    affiliate = AffiliateFactory()
    client = _signed_in(affiliate.user)
    _warm(client)

    with django_assert_num_queries(0):
        response = client.get(DASHBOARD)

    assert response.status_code == 200
    assert affiliate.referral_code in response.text


def test_past_the_age_limit_the_user_is_read_from_the_database_again(
    monkeypatch, django_assert_num_queries
):
    client = _signed_in(AffiliateFactory().user)
    _warm(client)
    monkeypatch.setattr(signed_in, "MAX_AGE_SECONDS", 0)

    with django_assert_num_queries(1):  # the user with their affiliate row
        assert client.get(DASHBOARD).status_code == 200


def test_a_user_deactivated_in_the_admin_is_signed_out_on_their_next_request():
    affiliate = AffiliateFactory()
    user = affiliate.user
    client = _signed_in(user)
    _warm(client)
    change = reverse("admin:accounts_user_change", args=[user.pk])
    form = {
        "email": user.email,
        "name": "Ann",
        "is_staff": "",
        "is_superuser": "",
        # is_active left out: the checkbox is cleared.
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }

    saved = _signed_in(StaffFactory()).post(change, form)

    assert saved.status_code == 302, saved.text
    assert _is_signed_out(client.get(DASHBOARD))


def test_a_user_deactivated_by_a_save_is_signed_out_on_their_next_request():
    affiliate = AffiliateFactory()
    client = _signed_in(affiliate.user)
    _warm(client)

    affiliate.user.is_active = False
    affiliate.user.save()

    assert _is_signed_out(client.get(DASHBOARD))


def test_a_password_change_signs_the_users_other_sessions_out():
    user = AffiliateFactory().user
    here, elsewhere = _signed_in(user), _signed_in(user)
    _warm(here)
    _warm(elsewhere)

    assert _change_password(here).status_code == 302
    # The other session's hash no longer matches the new password (allauth signs out the one
    # that changed it too: ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE).
    assert _is_signed_out(elsewhere.get(DASHBOARD))


def test_suspending_and_reactivating_the_affiliate_shows_at_once():
    affiliate = AffiliateFactory()
    client = _signed_in(affiliate.user)
    _warm(client)

    assert services.suspend_affiliate(affiliate_id=affiliate.pk)
    assert SUSPENDED in client.get(DASHBOARD).text

    assert services.reactivate_affiliate(affiliate_id=affiliate.pk)
    assert SUSPENDED not in client.get(DASHBOARD).text


def test_payout_details_changed_in_the_admin_show_at_once_on_the_dashboard():
    affiliate = AffiliateFactory(rate_percent=10)
    client = _signed_in(affiliate.user)
    _warm(client)
    change = reverse("admin:affiliates_affiliate_change", args=[affiliate.pk])

    saved = _signed_in(StaffFactory()).post(
        change, {"rate_percent": "12", "payout_method": "paypal", "paypal_email": "new@pay.example"}
    )

    assert saved.status_code == 302
    page = client.get(DASHBOARD).text
    assert f"PayPal {mask_email('new@pay.example')}" in page
    assert "Commission rate 12%" in page


def test_forgetting_the_affiliate_and_erasing_the_user_each_take_effect_at_once():
    affiliate = AffiliateFactory()
    user = affiliate.user
    client = _signed_in(user)
    _warm(client)

    assert services.forget_affiliate(user_id=user.pk, erased_email="gone@erased.invalid")
    assert SUSPENDED in client.get(DASHBOARD).text

    assert account_services.erase_user(user_id=user.pk, email=user.email)
    assert _is_signed_out(client.get(DASHBOARD))


def test_erasing_a_learner_who_is_no_affiliate_signs_them_out_at_once():
    user = UserFactory()
    client = _signed_in(user)
    for _ in range(2):  # kept, as no affiliate
        assert client.get(DASHBOARD)["Location"] == reverse("affiliates:join")

    assert account_services.erase_user(user_id=user.pk, email=user.email)

    assert _is_signed_out(client.get(DASHBOARD))


def test_a_deleted_account_is_signed_out_on_its_next_request():
    affiliate = AffiliateFactory()
    client = _signed_in(affiliate.user)
    _warm(client)

    delete_account(affiliate.user)

    assert _is_signed_out(client.get(DASHBOARD))


def test_joining_shows_the_dashboard_at_once_after_being_kept_as_no_affiliate():
    user = UserFactory()
    client = _signed_in(user)
    for _ in range(2):
        assert client.get(DASHBOARD)["Location"] == reverse("affiliates:join")

    affiliate = AffiliateFactory(user=user)

    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert affiliate.referral_code in response.text


def test_with_the_cache_unreachable_the_dashboard_renders_from_the_database(request):
    affiliate = AffiliateFactory(rate_percent=10)
    client = _signed_in(affiliate.user)
    _warm(client)  # the rows are kept
    request.getfixturevalue("redis_down")
    assert "Commission rate 10%" in client.get(DASHBOARD).text

    affiliate.rate_percent = 11
    affiliate.save()  # its bump is lost: nothing may be served from memory

    assert "Commission rate 11%" in client.get(DASHBOARD).text


def test_a_deactivation_saved_while_the_cache_was_down_holds_once_it_is_back(request, settings):
    affiliate = AffiliateFactory()
    client = _signed_in(affiliate.user)
    _warm(client)  # kept under the version the cache still holds
    caches_before = settings.CACHES
    request.getfixturevalue("redis_down")

    affiliate.user.is_active = False
    affiliate.user.save()  # its bump is lost
    assert _is_signed_out(client.get(DASHBOARD))

    settings.CACHES = caches_before  # the cache is back, with the version from before
    assert _is_signed_out(client.get(DASHBOARD))


def test_without_a_cache_every_process_shares_no_user_is_kept(settings, django_assert_num_queries):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    user = UserFactory()

    for _ in range(2):
        with django_assert_num_queries(1):
            signed_in.user_with_affiliate(user.pk)

    assert user.pk not in signed_in._kept


def test_changing_the_password_writes_nothing_else_the_signed_in_copy_holds():
    user = StaffFactory()
    client = _signed_in(user)
    client.get(DASHBOARD)
    client.get(DASHBOARD)  # kept, as staff
    # Staff rights revoked where no version moves (a database shell): the kept copy is stale.
    type(user).objects.filter(pk=user.pk).update(is_staff=False)

    assert _change_password(client).status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.is_staff


def test_each_request_gets_its_own_instances_and_only_the_rows_are_kept():
    affiliate = AffiliateFactory()
    signed_in.user_with_affiliate(affiliate.user_id)  # kept
    first = signed_in.user_with_affiliate(affiliate.user_id)
    first.affiliate.rate_percent = 99
    first.name = "changed in one request"
    first.has_perm("affiliates.add_payout")  # the backend caches permissions on the instance

    second = signed_in.user_with_affiliate(affiliate.user_id)

    assert second is not first and second.affiliate is not first.affiliate
    assert second.affiliate.user is second
    assert (second.name, second.affiliate.rate_percent) == ("", 10)
    assert not hasattr(second, "_perm_cache")


def test_permissions_granted_are_seen_at_once_as_they_are_not_kept():
    user = UserFactory()
    signed_in.user_with_affiliate(user.pk)
    assert not signed_in.user_with_affiliate(user.pk).has_perm("affiliates.add_payout")

    user.user_permissions.add(Permission.objects.get(codename="add_payout"))

    assert signed_in.user_with_affiliate(user.pk).has_perm("affiliates.add_payout")


def test_the_users_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(signed_in, "MAX_USERS", 2)
    users = [UserFactory() for _ in range(3)]

    for user in users:
        signed_in.user_with_affiliate(user.pk)

    assert len(signed_in._kept) == 2
    assert list(signed_in._kept) == [users[1].pk, users[2].pk]
