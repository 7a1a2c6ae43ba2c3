"""My orders and receipts: every purchase of the signed-in learner, Stripe's invoice as the
receipt of a paid order, our own receipt page for a free (100% grant) one."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from courses.tests.factories import CourseFactory
from enrollments import stripe_gateway, tasks
from enrollments.models import Enrollment
from enrollments.services import receipts
from enrollments.tests.conftest import post_event
from enrollments.tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db

Status = Enrollment.Status


def paid(**fields):
    return EnrollmentFactory(paid=True, **fields)


@pytest.fixture
def ada(client):
    user = UserFactory(email="ada@example.com")
    client.force_login(user)
    return user


def test_my_orders_lists_each_purchase_with_its_amounts_and_status(client, ada):
    paid(
        email=ada.email,
        course=CourseFactory(title="Cloud Basics", price_cents=20000, currency="eur"),
        list_price_cents=20000,
        discount_cents=5000,
        amount_due_cents=15000,
        currency="eur",
        tax_cents=2395,
    )
    EnrollmentFactory(
        refunded=True, email=ada.email, course__title="Refunded Course", course__price_cents=10000
    )
    paid(
        email=ada.email,
        course__title="Half Back",
        amount_refunded_cents=5000,
        course__price_cents=10000,
    )
    paid(email=ada.email, course__title="Charged Back", dispute_status="open", needs_review=True)
    EnrollmentFactory(email=ada.email, course__title="Mismatched Payment", needs_review=True)
    EnrollmentFactory(email=ada.email, course__title="Never Paid")
    paid(email="someone.else@example.com", course__title="Not Ada's")

    page = client.get(reverse("enrollments:my_orders")).text

    for text in ("Cloud Basics", "€200.00", "−€50.00", "€150.00", "EUR", "incl. €23.95 tax"):
        assert text in page
    rows = {
        title: page.split(title, 1)[1].split("</tr>", 1)[0]
        for title in (
            "Cloud Basics",
            "Refunded Course",
            "Half Back",
            "Charged Back",
            "Mismatched Payment",
        )
    }
    assert ">Paid<" in rows["Cloud Basics"]
    assert ">Refunded<" in rows["Refunded Course"]
    assert ">Partly refunded<" in rows["Half Back"]
    assert ">Disputed<" in rows["Charged Back"]
    assert ">In review<" in rows["Mismatched Payment"]
    assert "Never Paid" not in page
    assert "Not Ada&#x27;s" not in page and "Not Ada's" not in page


def test_orders_made_from_the_account_show_before_the_email_is_verified(client):
    user = UserFactory(email="new@example.com", verified=False)
    client.force_login(user)
    paid(email="new@example.com", user=user, course__title="Bought While Unverified")
    paid(email="new@example.com", course__title="Bought By A Stranger With That Address")

    page = client.get(reverse("enrollments:my_orders")).text

    assert "Bought While Unverified" in page
    assert "Bought By A Stranger" not in page


def test_a_paid_order_links_to_stripes_invoice_and_its_pdf(client, ada):
    order = paid(
        email=ada.email,
        stripe_invoice_id="in_123",
        invoice_url="https://invoice.stripe.com/i/acct_1/test_abc",
        invoice_pdf_url="https://pay.stripe.com/invoice/acct_1/test_abc/pdf",
    )

    page = client.get(reverse("enrollments:my_orders")).text

    assert 'href="https://invoice.stripe.com/i/acct_1/test_abc"' in page
    assert 'href="https://pay.stripe.com/invoice/acct_1/test_abc/pdf"' in page
    assert reverse("enrollments:order_receipt", args=[order.pk]) not in page


def test_a_free_grant_order_gets_our_own_receipt(client, ada):
    order = paid(
        email=ada.email,
        kind=Enrollment.Kind.FULL_GRANT,
        course__title="Granted Course",
        course__price_cents=30000,
        list_price_cents=30000,
        discount_cents=30000,
        amount_due_cents=0,
        stripe_session_id=None,
    )
    receipt_url = reverse("enrollments:order_receipt", args=[order.pk])

    orders = client.get(reverse("enrollments:my_orders")).text
    receipt = client.get(receipt_url)

    assert receipt_url in orders
    assert receipt.status_code == 200
    for text in ("Receipt", "Granted Course", "$300.00", "−$300.00", "$0.00", "a grant covered"):
        assert text in receipt.text


def test_nobody_else_sees_a_receipt(client, ada):
    order = paid(
        email=ada.email,
        kind=Enrollment.Kind.FULL_GRANT,
        amount_due_cents=0,
        discount_cents=10000,
        list_price_cents=10000,
        course__price_cents=10000,
    )
    url = reverse("enrollments:order_receipt", args=[order.pk])
    client.force_login(UserFactory(email="mallory@example.com"))

    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302


@pytest.mark.parametrize("count", [1, 30])
def test_my_orders_runs_a_bounded_number_of_queries(
    client, ada, django_assert_max_num_queries, count
):
    for _ in range(count):
        paid(email=ada.email, discount_cents=0)

    with django_assert_max_num_queries(5):  # session, user, verified e-mail, orders
        response = client.get(reverse("enrollments:my_orders"))

    assert response.status_code == 200
    assert response.text.count("<tr>") == count + 1


def test_receipt_page_runs_a_bounded_number_of_queries(client, ada, django_assert_max_num_queries):
    order = paid(email=ada.email)
    with django_assert_max_num_queries(5):
        assert client.get(reverse("enrollments:order_receipt", args=[order.pk])).status_code == 200


def test_navigation_links_to_my_orders(client, ada):
    assert reverse("enrollments:my_orders") in client.get(reverse("enrollments:my_courses")).text


# --- Stripe invoices ---------------------------------------------------------------------------


def _buy(client, fake_stripe, course, email="ada@example.com"):
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": email})
    enrollment = Enrollment.objects.get(course=course)
    fake_stripe.complete_session(enrollment.stripe_session_id)
    return enrollment


def test_checkout_asks_stripe_to_create_an_invoice(client, fake_stripe):
    course = CourseFactory()
    client.post(reverse("enrollments:checkout", args=[course.slug]), {"email": "a@example.com"})

    create = next(r for r in fake_stripe.requests if r.path == "/v1/checkout/sessions")
    assert create.params["invoice_creation"]["enabled"] == "true"
    enrollment = Enrollment.objects.get()
    metadata = create.params["invoice_creation"]["invoice_data"]["metadata"]
    assert metadata == {"enrollment_id": str(enrollment.pk)}


def test_payment_keeps_the_invoice_and_its_links_reach_my_orders(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    user = UserFactory(email="ada@example.com")
    enrollment = _buy(client, fake_stripe, CourseFactory(title="Invoiced Course"))
    invoice = next(iter(fake_stripe.invoices.values()))

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))

    enrollment.refresh_from_db()
    assert enrollment.stripe_invoice_id == invoice["id"]
    assert enrollment.invoice_url == invoice["hosted_invoice_url"]
    assert enrollment.invoice_pdf_url == invoice["invoice_pdf"]
    client.force_login(user)
    page = client.get(reverse("enrollments:my_orders")).text
    assert f'href="{invoice["hosted_invoice_url"]}"' in page


def test_a_lost_invoice_fetch_is_redone_by_the_sweep(client, fake_stripe, redis_down):
    enrollment = _buy(client, fake_stripe, CourseFactory())
    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))  # lost
    redis_down.end()
    Enrollment.objects.filter(pk=enrollment.pk).update(
        paid_at=timezone.now() - timezone.timedelta(minutes=10)
    )
    enrollment.refresh_from_db()
    assert enrollment.stripe_invoice_id and not enrollment.invoice_url

    assert tasks.sweep_missing_invoice_links() == 1

    enrollment.refresh_from_db()
    assert enrollment.invoice_url.startswith(fake_stripe.url)
    assert tasks.sweep_missing_invoice_links() == 0


def test_stripe_unreachable_leaves_the_links_for_later(client, fake_stripe, redis_down):
    enrollment = _buy(client, fake_stripe, CourseFactory())
    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))  # no fetch
    fake_stripe.fail_next(count=3, path_prefix="/v1/invoices")  # the SDK tries three times

    with pytest.raises(stripe_gateway.GatewayError):
        receipts.store_invoice_links(enrollment.pk)

    enrollment.refresh_from_db()
    assert enrollment.invoice_url == ""
    assert receipts.store_invoice_links(enrollment.pk) is True


def test_an_invoice_link_that_is_not_a_web_address_is_not_kept(client, fake_stripe, redis_down):
    enrollment = _buy(client, fake_stripe, CourseFactory())
    post_event(client, fake_stripe.event_for_session(enrollment.stripe_session_id))  # no fetch
    invoice = next(iter(fake_stripe.invoices.values()))
    invoice["hosted_invoice_url"] = "javascript:alert(1)"

    assert receipts.store_invoice_links(enrollment.pk) is False

    enrollment.refresh_from_db()
    assert enrollment.invoice_url == ""
