import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from affiliates import dashboard as cached_dashboard
from affiliates import earnings, services
from affiliates.models import Commission, Payout, ReferralClick
from affiliates.selectors import SALES_PAGE_SIZE
from affiliates.tests.factories import AffiliateFactory, CommissionFactory, sale_key
from common.money import format_money
from common.testing.backends import skip_on_mongodb
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("affiliates:dashboard")
HISTORY = 10_000
# User with affiliate (the session comes from the cache), stale commissions (none: the writers
# counted them), the daily totals by month and by week (for the charts), payout sums, payout
# history, settled and recent clicks, sales page. A new query here needs a reason: the page
# must not grow with history.
QUERY_BUDGET = 9

# The test server (mongoeco) cannot insert a history this size inside its socket timeout.
large_history = skip_on_mongodb(
    "the MongoDB test server times out loading a history of hundreds of rows",
    proven_by="affiliates/tests/test_dashboard_charts.py (every figure, on small histories)",
)


def _history(affiliate, size=HISTORY, first_sale_id=10_000_000):
    """``size`` commissions in every state, 3 payouts, refunds before and after payout."""
    courses = CourseFactory.create_batch(3)
    payouts = [
        Payout.objects.create(
            affiliate=affiliate,
            sequence=n + 1,
            amount_cents=100_000 + n,
            currency="usd",
            method="paypal",
            reference=f"PP-{n}",
        )
        for n in range(3)
    ]
    now = timezone.now()
    statuses = [
        Commission.Status.PENDING,
        Commission.Status.APPROVED,
        Commission.Status.PAID,
        Commission.Status.REVERSED,
    ]
    rows = []
    for n in range(size):
        status = statuses[n % 4]
        sale = 1000 + (n % 97) * 100
        amount = (sale * 10 + 50) // 100
        paid_out = status == Commission.Status.PAID or (
            status == Commission.Status.REVERSED and n % 8 == 3
        )
        reversed_cents = {
            Commission.Status.REVERSED: amount,
            Commission.Status.PAID: amount // 3 if n % 5 == 0 else 0,
            Commission.Status.APPROVED: amount // 2 if n % 7 == 0 else 0,
        }.get(status, 0)
        rows.append(
            Commission(
                affiliate=affiliate,
                sale_id=sale_key(first_sale_id + n),
                course=courses[n % 3],
                buyer_email_masked=f"b***@example{n % 10}.com",
                sold_at=now - timedelta(minutes=n),
                currency="usd",
                sale_amount_cents=sale,
                rate_percent=10,
                amount_cents=amount,
                reversed_cents=reversed_cents,
                paid_cents=amount if paid_out else 0,
                status=status,
                approved_at=now if status != Commission.Status.PENDING else None,
                payout=payouts[n % 3] if paid_out else None,
            )
        )
    Commission.objects.bulk_create(rows, batch_size=2000)
    earnings.refresh(affiliate.pk)  # what the services do after each write
    ReferralClick.objects.bulk_create(
        ReferralClick(affiliate=affiliate, visitor_key=f"v{n}", day=now.date())
        for n in range(size * 4)
    )


def _expected_figures(affiliate) -> dict:
    """The figures recomputed in Python from every underlying row."""
    rows = list(Commission.objects.filter(affiliate=affiliate))
    paid_out = sum(
        Payout.objects.filter(affiliate=affiliate).values_list("amount_cents", flat=True)
    )

    def net(status=None):
        return sum(r.amount_cents - r.reversed_cents for r in rows if status in (None, r.status))

    in_payouts = sum(r.amount_cents - r.reversed_cents for r in rows if r.payout_id)
    return {
        "referrals": sum(r.status != Commission.Status.REVERSED for r in rows),
        "pending_cents": net(Commission.Status.PENDING),
        "approved_cents": net(Commission.Status.APPROVED),
        "reversed_cents": sum(r.reversed_cents for r in rows),
        "paid_out_cents": paid_out,
        "carried_cents": in_payouts - paid_out,
        "balance_cents": net(Commission.Status.APPROVED) + in_payouts - paid_out,
    }


@large_history
def test_dashboard_runs_a_bounded_number_of_queries_with_10000_commissions(
    client, django_assert_max_num_queries
):
    affiliate = AffiliateFactory()
    _history(affiliate)
    client.force_login(affiliate.user)

    with django_assert_max_num_queries(QUERY_BUDGET):
        first = client.get(DASHBOARD)
    with django_assert_max_num_queries(QUERY_BUDGET):
        last = client.get(DASHBOARD, {"page": HISTORY // SALES_PAGE_SIZE})

    assert first.status_code == last.status_code == 200
    assert len(first.context["dashboard"].sales.object_list) == SALES_PAGE_SIZE
    assert last.context["dashboard"].sales.number == HISTORY // SALES_PAGE_SIZE
    # A quarter of the history is refunded in full: listed, but no paid referral.
    assert first.context["dashboard"].referrals == HISTORY * 3 // 4


@large_history
def test_every_dashboard_figure_is_the_sum_of_the_underlying_rows(client):
    affiliate = AffiliateFactory()
    _history(affiliate, size=400)
    CommissionFactory(affiliate=AffiliateFactory())  # someone else's: must not count
    client.force_login(affiliate.user)

    response = client.get(DASHBOARD)

    dashboard = response.context["dashboard"]
    [earnings] = dashboard.earnings
    expected = _expected_figures(affiliate)
    assert dashboard.referrals == expected["referrals"]
    assert dashboard.clicks == ReferralClick.objects.filter(affiliate=affiliate).count() == 1600
    assert dashboard.conversion_rate == "18.8%"  # 300 paid referrals (100 refunded) / 1600
    for name, cents in expected.items():
        if name != "referrals":
            assert getattr(earnings, name) == cents, name
            assert format_money(cents, "usd") in response.text, name
    assert expected["carried_cents"] < 0  # the fixture really has refunds after payout


def test_figures_follow_the_ledger_through_payout_and_refund(client, settings):
    settings.PAYOUT_MINIMUM_CENTS = 1000
    affiliate = AffiliateFactory()
    client.force_login(affiliate.user)
    for sale_id in (1, 2):
        services.record_commission(
            affiliate_id=affiliate.pk,
            sale_id=sale_key(sale_id),
            course_id=CourseFactory().pk,
            buyer_email="jane@example.com",
            amount_paid_cents=24950,
            currency="usd",
            sold_at=timezone.now() - timedelta(days=20),
        )
    services.approve_matured_commissions()
    services.create_payout(
        affiliate_id=affiliate.pk,
        currency="usd",
        method="paypal",
        reference="PP-1",
        created_by=None,
    )
    services.reverse_commission(
        sale_id=sale_key(2), refunded_cents_total=24950, charged_cents=24950
    )

    response = client.get(DASHBOARD)

    [earnings] = response.context["dashboard"].earnings
    assert earnings.paid_out_cents == 4990
    assert earnings.reversed_cents == 2495
    assert earnings.carried_cents == earnings.balance_cents == -2495
    assert "-$24.95" in response.text
    assert "Reversed after payout" in response.text
    assert "j***@example.com" in response.text and "jane@" not in response.text


def test_dashboard_shows_the_referral_link_with_a_copy_button_and_no_inline_script(client):
    affiliate = AffiliateFactory()
    client.force_login(affiliate.user)

    response = client.get(DASHBOARD)

    link = f"http://testserver/courses/?ref={affiliate.referral_code}"
    assert f'value="{link}"' in response.text
    assert 'data-copy-target="referral-link"' in response.text
    assert re.search(r'<script src="[^"]*/js/copy\.js" defer></script>', response.text)
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", response.text))
    assert " style=" not in response.text and "<style" not in response.text
    assert "no-cache" in response["Cache-Control"]


def test_copy_script_is_a_collected_static_file():
    path = finders.find("js/copy.js")

    assert path is not None
    assert "data-copy-target" in Path(path).read_text(encoding="utf-8")


@pytest.mark.parametrize("page", ["abc", "0", "-1", "99999", "1" * 400])
def test_any_page_parameter_shows_a_valid_page(client, page):
    affiliate = AffiliateFactory()
    CommissionFactory.create_batch(SALES_PAGE_SIZE + 1, affiliate=affiliate)
    client.force_login(affiliate.user)

    response = client.get(DASHBOARD, {"page": page})

    assert response.status_code == 200
    assert response.context["dashboard"].sales.number in (1, 2)


def test_a_page_parameter_that_shows_the_last_page_never_caches_it_as_the_first(client):
    """The paginator shows the last page for ?page=0; the cached page is keyed by the page
    shown, so the first page stays the first."""
    affiliate = AffiliateFactory()
    CommissionFactory.create_batch(SALES_PAGE_SIZE + 1, affiliate=affiliate)
    client.force_login(affiliate.user)

    assert "Page 2 of 2" in client.get(DASHBOARD, {"page": "0"}).text
    assert "Page 1 of 2" in client.get(DASHBOARD).text
    assert "Page 1 of 2" in client.get(DASHBOARD, {"page": "x"}).text
    assert "Page 2 of 2" in client.get(DASHBOARD, {"page": "-3"}).text


def test_suspended_affiliate_still_sees_history_with_a_notice(client):
    affiliate = AffiliateFactory()
    CommissionFactory(affiliate=affiliate)
    services.suspend_affiliate(affiliate_id=affiliate.pk)
    client.force_login(affiliate.user)

    response = client.get(DASHBOARD)

    assert "account is suspended" in response.text
    assert response.context["dashboard"].referrals == 1


def test_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_user_who_is_not_an_affiliate_is_sent_to_join_and_sees_no_one_elses_data(client):
    affiliate = AffiliateFactory()
    client.force_login(UserFactory())

    response = client.get(DASHBOARD, follow=True)

    assert response.redirect_chain[-1] == (reverse("affiliates:join"), 302)
    assert affiliate.referral_code not in response.text


def test_each_affiliate_sees_only_their_own_dashboard(client):
    mine, theirs = AffiliateFactory(), AffiliateFactory()
    CommissionFactory(affiliate=mine, buyer_email_masked="m***@mine.example")
    CommissionFactory(affiliate=theirs, buyer_email_masked="t***@theirs.example")
    client.force_login(mine.user)

    response = client.get(DASHBOARD, {"affiliate": theirs.pk, "ref_code": theirs.referral_code})

    assert mine.referral_code in response.text
    assert theirs.referral_code not in response.text
    assert "m***@mine.example" in response.text
    assert "t***@theirs.example" not in response.text


def test_nav_links_to_the_affiliate_area_for_logged_in_users(client):
    client.force_login(UserFactory())

    response = client.get("/courses/")

    assert f'href="{DASHBOARD}"' in response.text


def test_cached_figures_follow_every_change_that_touches_them(client, settings):
    """Views the dashboard between each write: a stale cached summary or cached rendering of
    the history would show old figures."""
    settings.PAYOUT_MINIMUM_CENTS = 1000
    affiliate = AffiliateFactory()
    client.force_login(affiliate.user)

    def figures():
        html = client.get(DASHBOARD).text
        clicks = re.search(r'<span class="stat">(\d+)</span> clicks?', html)[1]
        referrals = re.search(r'<span class="stat">(\d+)</span> paid referral', html)[1]
        sales = html.count("%)</small></td>")
        earnings = re.search(r'<th scope="row">USD</th>(.*?)</tr>', html, re.S)
        # Pending, approved, paid out, reversed.
        return (
            int(clicks),
            int(referrals),
            sales,
            earnings and tuple(re.findall(r"<td>([^<]*)</td>", earnings[1])[:4]),
        )

    assert figures() == (0, 0, 0, None)
    services.record_referral_click(affiliate_id=affiliate.pk, visitor_key="v1", day=date.today())
    assert figures() == (1, 0, 0, None)
    services.record_commission(
        affiliate_id=affiliate.pk,
        sale_id=sale_key(7),
        course_id=CourseFactory().pk,
        buyer_email="a@b.com",
        amount_paid_cents=24950,
        currency="usd",
        sold_at=timezone.now() - timedelta(days=20),
    )
    assert figures() == (1, 1, 1, ("$24.95", "$0.00", "$0.00", "$0.00"))
    services.approve_matured_commissions()
    assert figures() == (1, 1, 1, ("$0.00", "$24.95", "$0.00", "$0.00"))
    services.create_payout(
        affiliate_id=affiliate.pk,
        currency="usd",
        method="paypal",
        reference="PP-9",
        created_by=None,
    )
    assert figures() == (1, 1, 1, ("$0.00", "$0.00", "$24.95", "$0.00"))
    services.reverse_commission(
        sale_id=sale_key(7), refunded_cents_total=24950, charged_cents=24950
    )
    # Refunded in full: still listed, no longer a paid referral.
    assert figures() == (1, 0, 1, ("$0.00", "$0.00", "$24.95", "$24.95"))


@large_history
def test_a_warm_dashboard_reads_only_one_page_of_sales(client, django_assert_max_num_queries):
    affiliate = AffiliateFactory()
    _history(affiliate, size=400)
    client.force_login(affiliate.user)
    client.get(DASHBOARD)  # fills the cached summary

    # User with affiliate, and one page of sales.
    with django_assert_max_num_queries(2):
        response = client.get(DASHBOARD, {"page": 3})

    assert response.text.count("%)</small></td>") == SALES_PAGE_SIZE
    assert "Page 3 of 16" in response.text


@large_history
def test_a_page_of_history_seen_before_is_not_rendered_or_queried_again(
    client, django_assert_max_num_queries
):
    affiliate = AffiliateFactory()
    _history(affiliate, size=400)
    client.force_login(affiliate.user)
    first = client.get(DASHBOARD, {"page": 3})

    # User with affiliate: nothing else (the whole page comes from the cache).
    with django_assert_max_num_queries(1):
        again = client.get(DASHBOARD, {"page": 3})

    templates = [template.name for template in again.templates]
    assert "affiliates/includes/dashboard_history.html" not in templates
    history = 'class="stat-grid"'
    assert again.text[again.text.index(history) :] == first.text[first.text.index(history) :]


@large_history
def test_a_click_recounts_the_clicks_but_not_the_sales_figures(
    client, django_assert_max_num_queries
):
    affiliate = AffiliateFactory()
    _history(affiliate, size=400)
    client.force_login(affiliate.user)
    # Caches the figures, the tables and the settled clicks.
    clicks_before = client.get(DASHBOARD).context["dashboard"].clicks

    services.record_referral_click(affiliate_id=affiliate.pk, visitor_key="new", day=date.today())
    # User with affiliate, and the recent clicks.
    with django_assert_max_num_queries(2):
        response = client.get(DASHBOARD)

    assert response.context["dashboard"].clicks == clicks_before + 1
    assert f'<span class="stat">{clicks_before + 1}</span> clicks' in response.text


def test_clicks_of_every_day_are_counted_and_settled_days_only_once_a_day(
    django_assert_num_queries,
):
    affiliate = AffiliateFactory()
    today = timezone.localdate()
    for days_ago in (0, 1, 2, 30):
        ReferralClick.objects.create(
            affiliate=affiliate, visitor_key=f"v{days_ago}", day=today - timedelta(days=days_ago)
        )

    assert cached_dashboard.click_figures(affiliate.pk).total == 4
    services.record_referral_click(affiliate_id=affiliate.pk, visitor_key="late", day=today)
    with django_assert_num_queries(1):  # yesterday's and today's; the rest is cached
        assert cached_dashboard.click_figures(affiliate.pk).total == 5


def test_a_renamed_course_shows_its_new_title_in_the_sales_table(client):
    affiliate = AffiliateFactory()
    sale = CommissionFactory(affiliate=affiliate, course__title="Old course title")
    client.force_login(affiliate.user)
    assert "Old course title" in client.get(DASHBOARD).text

    sale.course.title = "New course title"
    sale.course.save()

    assert "New course title" in client.get(DASHBOARD).text


def _referred_sale(affiliate, sale_id: int) -> None:
    services.record_commission(
        affiliate_id=affiliate.pk,
        sale_id=sale_key(sale_id),
        course_id=CourseFactory().pk,
        buyer_email=f"buyer{sale_id}@example.com",
        amount_paid_cents=10000,
        currency="usd",
        sold_at=timezone.now(),
    )


def test_a_fully_refunded_sale_is_listed_but_not_counted_as_a_paid_referral(client):
    affiliate = AffiliateFactory()
    for sale_id in (1, 2, 3):
        _referred_sale(affiliate, sale_id)
    services.reverse_commission(
        sale_id=sale_key(1), refunded_cents_total=10000, charged_cents=10000
    )
    services.reverse_commission(sale_id=sale_key(2), refunded_cents_total=5000, charged_cents=10000)
    for visitor in ("a", "b", "c", "d"):
        services.record_referral_click(
            affiliate_id=affiliate.pk, visitor_key=visitor, day=date.today()
        )
    client.force_login(affiliate.user)

    response = client.get(DASHBOARD)

    # The partly refunded sale still earned something: it counts; the fully refunded one not.
    assert '<span class="stat">2</span> paid referrals' in response.text
    assert response.context["dashboard"].conversion_rate == "50.0%"
    assert response.text.count("%)</small></td>") == 3  # all three stay in the sales table
    assert "Reversed" in response.text


def test_a_new_days_settled_clicks_add_that_day_to_the_last_count_kept(
    django_assert_num_queries,
):
    affiliate = AffiliateFactory()
    today = date(2026, 3, 11)  # a Wednesday
    for days_ago in (0, 1, 2, 9, 40):
        ReferralClick.objects.create(
            affiliate=affiliate, visitor_key=f"v{days_ago}", day=today - timedelta(days=days_ago)
        )
    assert cached_dashboard.click_figures(affiliate.pk, today=today).total == 5
    # A row no real click could write (a settled day changed): proves the old days are not
    # counted again.
    ReferralClick.objects.create(affiliate=affiliate, visitor_key="x", day=today - timedelta(9))
    ReferralClick.objects.create(affiliate=affiliate, visitor_key="y", day=today + timedelta(1))

    # The day that settled overnight (the day before yesterday), then the last two days.
    with django_assert_num_queries(2):
        clicks = cached_dashboard.click_figures(affiliate.pk, today=today + timedelta(days=1))

    assert clicks.total == 6
    monday = date(2026, 3, 9)
    assert clicks.by_week[monday] == 4  # 9, 10, 11 and 12 March
    assert clicks.by_week[monday - timedelta(weeks=1)] == 1  # 2 March; not the late row


def test_figures_cached_in_the_previous_releases_shape_are_not_read(client):
    """A deploy keeps Redis: the old release cached the click count as an int and the summary
    without the charts' figures, under keys of the same versions."""
    from django.core.cache import cache

    from affiliates import dashboard_cache

    affiliate = AffiliateFactory()
    keys = dashboard_cache.keys(affiliate.pk)
    old = lambda key: key.replace(f":{dashboard_cache.SHAPE}:", ":")  # noqa: E731
    cache.set(old(keys.clicks), 41)
    cache.set(old(keys.summary), "a summary of the old shape")
    yesterday = timezone.localdate() - timedelta(days=1)
    cache.set(old(dashboard_cache.settled_clicks_key(affiliate.pk, yesterday)), 40)
    client.force_login(affiliate.user)

    response = client.get(DASHBOARD)

    assert response.status_code == 200
    assert '<span class="stat">0</span> clicks' in response.text


def test_a_page_served_from_the_cache_carries_each_visitors_own_csrf_token(client):
    from django.test import Client

    affiliate = AffiliateFactory()
    other_browser = Client()
    client.force_login(affiliate.user)
    other_browser.force_login(affiliate.user)
    first = client.get(DASHBOARD)

    again = other_browser.get(DASHBOARD)

    assert again.templates == []  # the whole page came from the cache
    tokens = [
        re.search(r'name="csrfmiddlewaretoken" value="(\w+)"', page.text)[1]
        for page in (first, again)
    ]
    assert tokens[0] != tokens[1]
    assert "csrf-token" not in again.text
    # The token works: the logout form of the cached page signs this browser out.
    checked = Client(enforce_csrf_checks=True)
    checked.cookies = other_browser.cookies
    response = checked.post(reverse("account_logout"), {"csrfmiddlewaretoken": tokens[1]})
    assert response.status_code == 302
    assert checked.get(DASHBOARD).status_code == 302  # signed out: sent to log in


def test_a_cached_page_follows_changes_to_the_affiliates_row_and_the_users_staff_flag(client):
    """Staff edits of an affiliate bump no figure version: the page is stamped with the row
    (each save also moves the user's version, so the rows kept with the signed-in user go)."""
    from affiliates.models import Affiliate

    affiliate = AffiliateFactory(rate_percent=10)
    client.force_login(affiliate.user)
    assert "Commission rate 10%" in client.get(DASHBOARD).text

    affiliate.rate_percent, affiliate.status = 15, Affiliate.Status.SUSPENDED
    affiliate.save()
    page = client.get(DASHBOARD).text
    assert "Commission rate 15%" in page
    assert "Your affiliate account is suspended" in page
    assert 'href="/admin/"' not in page

    affiliate.user.is_staff = True
    affiliate.user.save()
    assert 'href="/admin/"' in client.get(DASHBOARD).text


def test_a_message_waiting_is_shown_once_and_never_cached(client):
    affiliate = AffiliateFactory()
    client.force_login(affiliate.user)
    client.get(DASHBOARD)  # the page is cached

    # The join page sends an affiliate to the dashboard with a message.
    with_message = client.get(reverse("affiliates:join"), follow=True)

    assert "You are already an affiliate" in with_message.text
    assert "You are already an affiliate" not in client.get(DASHBOARD).text
