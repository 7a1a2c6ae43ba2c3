"""The referral-code answers a process keeps in memory are never served past the write that
changed them (``affiliates.referral_codes``), and a click needs no transaction of its own."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import UserFactory
from affiliates import referral_codes, services
from affiliates.models import Affiliate, ReferralClick
from affiliates.tests.factories import AffiliateFactory
from common.testing.feeds import live_version_feed
from common.transactions import atomic

CATALOG = "/courses/"


def _clicks() -> int:
    return ReferralClick.objects.count()


@pytest.mark.django_db
def test_a_suspended_affiliates_link_stops_counting_though_its_code_was_answered_before(
    django_capture_on_commit_callbacks,
):
    affiliate = AffiliateFactory()
    Client().get(CATALOG, {"ref": affiliate.referral_code})

    with django_capture_on_commit_callbacks(execute=True):
        services.suspend_affiliate(affiliate_id=affiliate.pk)
    Client().get(CATALOG, {"ref": affiliate.referral_code})
    assert _clicks() == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.reactivate_affiliate(affiliate_id=affiliate.pk)
    Client().get(CATALOG, {"ref": affiliate.referral_code})
    assert _clicks() == 2


@pytest.mark.django_db
def test_a_forgotten_affiliates_link_stops_counting(django_capture_on_commit_callbacks):
    affiliate = AffiliateFactory()
    Client().get(CATALOG, {"ref": affiliate.referral_code})

    with django_capture_on_commit_callbacks(execute=True):
        services.forget_affiliate(user_id=affiliate.user_id, erased_email="gone@example.invalid")

    assert referral_codes.active_affiliate_id(affiliate.referral_code) is None


@pytest.mark.django_db
def test_an_unknown_code_counts_as_soon_as_an_affiliate_holds_it():
    Client().get(CATALOG, {"ref": "summer26"})
    assert _clicks() == 0

    affiliate = services.ensure_demo_affiliate(
        user=UserFactory(), referral_code="summer26", paypal_email="pay@example.com"
    )
    Client().get(CATALOG, {"ref": "summer26"})

    assert list(ReferralClick.objects.values_list("affiliate_id", flat=True)) == [affiliate.pk]


@pytest.mark.django_db
def test_a_process_forgets_every_answer_past_its_bound(monkeypatch):
    monkeypatch.setattr(referral_codes, "MAX_CODES", 3)
    for code in ("absent2", "absent3", "absent4", "absent5"):
        referral_codes.active_affiliate_id(code)

    _version, known, _started = referral_codes._answers
    assert list(known) == ["absent5"]


@pytest.mark.skipif(
    connection.vendor == "sqlite", reason="needs a second connection to the same database"
)
@pytest.mark.django_db(transaction=True)
def test_an_answer_read_while_a_suspension_was_uncommitted_is_not_served_after_its_commit():
    """The suspension's first bump comes before its commit: a process that reads the new
    version then still sees the affiliate active and keeps that answer under it. The bump after
    the commit retires it."""
    affiliate = AffiliateFactory()
    suspended, commit = threading.Event(), threading.Event()

    def suspend_and_wait():
        try:
            with atomic():
                services.suspend_affiliate(affiliate_id=affiliate.pk)
                suspended.set()
                commit.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=suspend_and_wait)
    writer.start()
    assert suspended.wait(10)
    seen_while_open = referral_codes.active_affiliate_id(affiliate.referral_code)
    commit.set()
    writer.join(10)

    if connection.vendor != "mongodb":  # a standalone MongoDB server has no open transaction
        assert seen_while_open == affiliate.pk
    assert referral_codes.active_affiliate_id(affiliate.referral_code) is None


@pytest.mark.django_db(transaction=True)
def test_a_click_in_autocommit_is_one_insert_and_a_repeat_leaves_the_connection_usable():
    affiliate = AffiliateFactory()
    today = timezone.localdate()

    first = services.record_referral_click(affiliate_id=affiliate.pk, visitor_key="v", day=today)
    again = services.record_referral_click(affiliate_id=affiliate.pk, visitor_key="v", day=today)

    assert (first, again) == (True, False)
    assert not connection.in_atomic_block
    assert _clicks() == 1


@pytest.mark.django_db(transaction=True)
def test_a_click_on_a_known_code_costs_one_statement(django_assert_num_queries):
    affiliate = AffiliateFactory()
    Client().get(CATALOG)  # the page, cached
    Client().get(CATALOG, {"ref": affiliate.referral_code})  # the code, answered

    with django_assert_num_queries(1):  # the click's INSERT: no look-up, no transaction
        Client().get(CATALOG, {"ref": affiliate.referral_code})

    assert _clicks() == 2


@pytest.mark.django_db
def test_a_suspension_whose_version_bump_was_lost_is_seen_once_the_answers_expire(monkeypatch):
    affiliate = AffiliateFactory()
    assert referral_codes.active_affiliate_id(affiliate.referral_code) == affiliate.pk

    Affiliate.objects.filter(pk=affiliate.pk).update(status=Affiliate.Status.SUSPENDED)
    assert referral_codes.active_affiliate_id(affiliate.referral_code) == affiliate.pk
    monkeypatch.setattr(referral_codes, "ANSWER_SECONDS", 0)  # as if their time had passed

    assert referral_codes.active_affiliate_id(affiliate.referral_code) is None


@pytest.mark.django_db
def test_with_the_version_feed_a_known_code_costs_no_round_trip_at_all(
    settings, django_assert_num_queries
):
    affiliate = AffiliateFactory()
    with live_version_feed(settings):
        referral_codes.active_affiliate_id(affiliate.referral_code)
        settings.CACHES = {  # Redis unreachable from here on: any round trip would miss
            "default": {
                "BACKEND": "common.redis_cache.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
            }
        }

        with django_assert_num_queries(0):
            assert referral_codes.active_affiliate_id(affiliate.referral_code) == affiliate.pk
