import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import StaffFactory, UserFactory
from affiliates.models import Affiliate, Commission, Payout
from affiliates.tests.factories import AffiliateFactory, CommissionFactory
from courses.tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

AFFILIATES = reverse("admin:affiliates_affiliate_changelist")
EXPORT = reverse("admin:affiliates_commission_export")


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


def _approved(affiliate, amount_cents, **extra):
    return CommissionFactory(
        affiliate=affiliate, amount_cents=amount_cents, status="approved", **extra
    )


def test_affiliate_list_shows_balances_without_a_query_per_row(
    staff_client, django_assert_max_num_queries
):
    def add_affiliates(count):
        for _ in range(count):
            affiliate = AffiliateFactory()
            _approved(affiliate, 1234)
            CommissionFactory(affiliate=affiliate, amount_cents=999)  # pending: not payable

    add_affiliates(3)
    with django_assert_max_num_queries(12) as few:
        staff_client.get(AFFILIATES)
    add_affiliates(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = staff_client.get(AFFILIATES)

    assert response.status_code == 200
    assert response.text.count("$12.34") == 33


def test_rate_is_editable_from_the_list_and_only_the_rate_is_written(staff_client):
    affiliate = AffiliateFactory(rate_percent=10)
    # As stored (MongoDB keeps milliseconds, not microseconds).
    terms_accepted_at = Affiliate.objects.get(pk=affiliate.pk).terms_accepted_at
    form = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(affiliate.pk),
        "form-0-rate_percent": "25",
        "_save": "Save",
    }

    response = staff_client.post(AFFILIATES, form)

    assert response.status_code == 302
    affiliate.refresh_from_db()
    assert affiliate.rate_percent == 25
    assert (affiliate.status, affiliate.terms_accepted_at) == ("active", terms_accepted_at)


def test_rate_above_100_is_refused_in_the_change_form(staff_client):
    affiliate = AffiliateFactory()
    url = reverse("admin:affiliates_affiliate_change", args=[affiliate.pk])
    form = {"rate_percent": "101", "payout_method": "paypal", "paypal_email": "a@b.com"}

    response = staff_client.post(url, form)

    assert response.status_code == 200
    affiliate.refresh_from_db()
    assert affiliate.rate_percent == 10


def test_payout_details_are_validated_in_the_change_form(staff_client):
    affiliate = AffiliateFactory()
    url = reverse("admin:affiliates_affiliate_change", args=[affiliate.pk])
    bad = {
        "rate_percent": "10",
        "payout_method": "bank",
        "bank_account_holder": "Ann Lee",
        "bank_account": "DE00 0000",
        "bank_name": "Bank",
    }

    refused = staff_client.post(url, bad)
    accepted = staff_client.post(url, {**bad, "bank_account": "de89370400440532013000"})

    assert refused.status_code == 200 and "IBAN" in refused.text
    assert accepted.status_code == 302
    affiliate.refresh_from_db()
    assert (affiliate.payout_method, affiliate.bank_account) == ("bank", "DE89370400440532013000")
    assert affiliate.paypal_email == ""


def test_suspend_and_reactivate_actions(staff_client):
    first, second = AffiliateFactory(), AffiliateFactory()
    ids = [str(first.pk), str(second.pk)]

    staff_client.post(AFFILIATES, {"action": "suspend", "_selected_action": ids})
    suspended = set(Affiliate.objects.values_list("status", flat=True))
    staff_client.post(AFFILIATES, {"action": "reactivate", "_selected_action": ids[:1]})

    assert suspended == {"suspended"}
    for affiliate in (first, second):
        affiliate.refresh_from_db()
    assert (first.status, second.status) == ("active", "suspended")


def test_create_payout_action_asks_for_method_and_reference_first(staff_client):
    affiliate = AffiliateFactory()
    _approved(affiliate, 9000)

    response = staff_client.post(
        AFFILIATES, {"action": "create_payouts", "_selected_action": [affiliate.pk]}
    )

    assert response.status_code == 200
    assert "reference" in response.text and affiliate.user.email in response.text
    assert not Payout.objects.exists()


def test_create_payout_action_pays_and_reports_created_and_skipped(staff_client, settings):
    settings.PAYOUT_MINIMUM_CENTS = 5000
    paid, poor, idle = AffiliateFactory(), AffiliateFactory(), AffiliateFactory()
    _approved(paid, 3000)
    _approved(paid, 2500)
    _approved(poor, 100)

    response = staff_client.post(
        AFFILIATES,
        {
            "action": "create_payouts",
            "_selected_action": [paid.pk, poor.pk, idle.pk],
            "apply": "1",
            "method": "",
            "reference": "PAYPAL-BATCH-9",
        },
        follow=True,
    )

    payout = Payout.objects.get()
    assert (payout.affiliate_id, payout.amount_cents, payout.method) == (paid.pk, 5500, "paypal")
    assert payout.reference == "PAYPAL-BATCH-9"
    assert payout.created_by.is_staff
    assert "Created 1 payout(s): #1 $55.00." in response.text
    assert "Skipped 2 affiliate(s)" in response.text
    assert poor.user.email in response.text and idle.user.email in response.text


def test_payouts_need_the_add_payout_permission(client):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_affiliate", "change_affiliate"])
    )
    client.force_login(staff)
    affiliate = AffiliateFactory()
    _approved(affiliate, 9000)

    client.post(
        AFFILIATES,
        {
            "action": "create_payouts",
            "_selected_action": [affiliate.pk],
            "apply": "1",
            "reference": "x",
        },
    )

    assert not Payout.objects.exists()


def test_non_staff_cannot_reach_the_affiliates_admin(client):
    client.force_login(UserFactory())

    response = client.get(AFFILIATES)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_commission_and_payout_lists_render_and_tolerate_any_search(staff_client):
    affiliate = AffiliateFactory()
    _approved(affiliate, 9000)

    for url in (
        reverse("admin:affiliates_commission_changelist"),
        reverse("admin:affiliates_payout_changelist"),
    ):
        for query in ("", "abc", "1000000", affiliate.referral_code):
            assert staff_client.get(url, {"q": query}).status_code == 200


def _rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    assert "ObjectId(" not in body  # keys are exported as text, never as their repr
    return list(csv.DictReader(io.StringIO(body)))


def test_csv_export_of_one_affiliate_and_period(staff_client):
    affiliate, other = AffiliateFactory(), AffiliateFactory()
    day = datetime(2026, 3, 10, 12, tzinfo=timezone.get_current_timezone())
    course = CourseFactory(title="=HYPERLINK(evil)")
    inside = CommissionFactory(
        affiliate=affiliate,
        sold_at=day,
        course=course,
        sale_amount_cents=24950,
        amount_cents=2495,
        reversed_cents=1248,
    )
    CommissionFactory(affiliate=affiliate, sold_at=day + timedelta(days=30))
    CommissionFactory(affiliate=other, sold_at=day)

    response = staff_client.get(
        EXPORT, {"start": "2026-03-01", "end": "2026-03-10", "affiliate": affiliate.user.email}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        f"commissions-2026-03-01-2026-03-10-{affiliate.referral_code}.csv"
        in (response["Content-Disposition"])
    )
    [row] = _rows(response)
    # The sale's key as plain text: digits on SQL databases, 24 hex digits on MongoDB.
    assert row["sale_id"] == str(inside.sale_id)
    assert re.fullmatch(r"[0-9]+|[0-9a-f]{24}", row["sale_id"])
    assert (row["amount_paid"], row["commission"], row["reversed"], row["net"]) == (
        "249.50",
        "24.95",
        "12.48",
        "12.47",
    )
    assert row["course"] == "'=HYPERLINK(evil)"
    assert row["affiliate_code"] == affiliate.referral_code


def test_csv_export_finds_the_affiliate_by_e_mail_whatever_its_case(staff_client):
    affiliate = AffiliateFactory()
    CommissionFactory(affiliate=affiliate, sold_at=timezone.now())
    today = timezone.localdate().isoformat()

    response = staff_client.get(
        EXPORT, {"start": today, "end": today, "affiliate": f" {affiliate.user.email.upper()} "}
    )

    [row] = _rows(response)
    assert row["affiliate_code"] == affiliate.referral_code


def test_csv_export_of_all_affiliates(staff_client):
    CommissionFactory.create_batch(3, sold_at=timezone.now())
    today = timezone.localdate().isoformat()

    response = staff_client.get(EXPORT, {"start": today, "end": today, "affiliate": ""})

    assert len(_rows(response)) == 3


@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-03-10", "end": "2026-03-01"},
        {"start": "yesterday", "end": "2026-03-01"},
        {"start": "2026-03-01", "end": "2026-03-10", "affiliate": "nobody@example.com"},
        # Regex characters are plain text (MongoDB's backend matched iexact by a regex).
        {"start": "2026-03-01", "end": "2026-03-10", "affiliate": "("},
        {"start": "2026-03-01", "end": "2026-03-10", "affiliate": "[a-z.*"},
        {"start": "2026-03-01", "end": "2026-03-10", "affiliate": ".*"},
        {},
    ],
)
def test_csv_export_form_explains_bad_input(staff_client, query):
    response = staff_client.get(EXPORT, query)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_csv_export_needs_permission_to_view_commissions(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)

    response = client.get(EXPORT, {"start": "2026-03-01", "end": "2026-03-10"})

    assert response.status_code == 403


def test_commissions_cannot_be_edited_or_deleted_in_the_admin(staff_client):
    commission = CommissionFactory()
    change = reverse("admin:affiliates_commission_change", args=[commission.pk])

    response = staff_client.post(change, {"amount_cents": "1"})

    commission.refresh_from_db()
    assert commission.amount_cents == 2495
    assert response.status_code == 403
    assert Commission.objects.count() == 1


def test_a_payout_that_keeps_losing_a_write_conflict_is_reported_and_changes_nothing(
    staff_client, settings
):
    """On a MongoDB replica set an overlapping payout for the same affiliate fails ours with a
    write conflict; after the retries staff get a clear message, not an error page, and the
    other affiliates are still paid."""
    from pymongo.errors import OperationFailure

    from common.testing.concurrency import RunBefore

    settings.PAYOUT_MINIMUM_CENTS = 1000
    contested, other = AffiliateFactory(), AffiliateFactory()
    _approved(contested, 3000)
    _approved(other, 4000)

    def conflict(**kwargs):
        if kwargs["affiliate_id"] == contested.pk:
            raise OperationFailure(
                "Write conflict during transaction commit",
                112,
                {"errorLabels": ["TransientTransactionError"]},
            )

    with RunBefore("affiliates.services._claim_into_payout", conflict) as attempts:
        response = staff_client.post(
            AFFILIATES,
            {
                "action": "create_payouts",
                "_selected_action": [contested.pk, other.pk],
                "apply": "1",
                "method": "",
                "reference": "BATCH-10",
            },
            follow=True,
        )

    assert response.status_code == 200
    assert attempts.calls == 4  # three for the contested affiliate, one for the other
    assert list(Payout.objects.values_list("affiliate_id", "amount_cents")) == [(other.pk, 4000)]
    assert Commission.objects.get(affiliate=contested).status == Commission.Status.APPROVED
    assert (
        f"Not paid: {contested.user.email} (USD): Another payout for this affiliate is being "
        "made; try again." in response.text
    )
    assert "Created 1 payout(s)" in response.text and "Skipped" not in response.text
