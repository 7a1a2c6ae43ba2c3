import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from common.testing.concurrency import concurrent_database, race  # noqa: F401 - a fixture
from courses.tests.factories import CourseFactory
from enrollments import stripe_gateway
from enrollments.browser_checkouts import CHECKOUT_COOKIE
from enrollments.models import Enrollment
from enrollments.tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def checkout_url(course):
    return reverse("enrollments:checkout", args=[course.slug])


def session_creations(fake_stripe):
    return [
        r for r in fake_stripe.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"
    ]


def test_checkout_creates_a_pending_enrollment_and_a_session_at_the_server_price(
    client, fake_stripe
):
    course = CourseFactory(price_cents=49900, currency="usd", title="AWS Architect")

    response = client.post(checkout_url(course), {"email": "Ada@Example.com", "price": "1"})

    enrollment = Enrollment.objects.get()
    assert response.status_code == 303
    assert response["Location"] == enrollment.checkout_url
    assert enrollment.status == Enrollment.Status.PENDING
    assert enrollment.email == "ada@example.com"
    assert (enrollment.list_price_cents, enrollment.discount_cents) == (49900, 0)
    assert (enrollment.amount_due_cents, enrollment.currency) == (49900, "usd")
    [request] = session_creations(fake_stripe)
    params = request.params
    assert params["mode"] == "payment"
    assert params["line_items"][0]["price_data"]["unit_amount"] == "49900"
    assert params["line_items"][0]["price_data"]["currency"] == "usd"
    assert params["line_items"][0]["price_data"]["product_data"]["name"] == "AWS Architect"
    assert params["customer_email"] == "ada@example.com"
    assert params["client_reference_id"] == str(enrollment.pk)
    assert params["metadata"] == {"enrollment_id": str(enrollment.pk)}
    assert params["payment_intent_data"]["metadata"] == {"enrollment_id": str(enrollment.pk)}
    assert params["success_url"].endswith("/checkout/success/?session_id={CHECKOUT_SESSION_ID}")
    assert params["cancel_url"].endswith(f"/courses/{course.slug}/checkout/canceled/")
    assert int(params["expires_at"]) == int(enrollment.expires_at.timestamp())
    assert request.idempotency_key == f"enrollment-{enrollment.pk}-checkout"
    assert enrollment.stripe_session_id in fake_stripe.sessions


def test_double_submit_reuses_the_open_checkout(client, fake_stripe):
    course = CourseFactory()

    first = client.post(checkout_url(course), {"email": "ada@example.com"})
    second = client.post(checkout_url(course), {"email": "ADA@example.com"})

    assert Enrollment.objects.count() == 1
    assert first["Location"] == second["Location"]
    assert len(session_creations(fake_stripe)) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("concurrent_database")
def test_concurrent_submits_from_one_browser_make_one_enrollment_and_one_session(fake_stripe):
    course = CourseFactory()
    browser = Client()
    browser.get(checkout_url(course))  # the page sets the session the submits share

    def submit():
        client = Client()
        client.cookies = browser.cookies
        return client.post(checkout_url(course), {"email": "ada@example.com"})["Location"]

    locations = set(race(submit, 8))

    assert Enrollment.objects.count() == 1
    assert len(locations) == 1
    assert len({r.params["client_reference_id"] for r in session_creations(fake_stripe)}) == 1
    assert len(fake_stripe.sessions) == 1


def test_another_browser_typing_the_same_email_neither_gets_nor_cancels_the_checkout(
    client, fake_stripe
):
    course = CourseFactory()
    owner_redirect = client.post(checkout_url(course), {"email": "ada@example.com"})
    stranger = Client()

    response = stranger.post(checkout_url(course), {"email": "ADA@example.com"})

    assert response.status_code == 400
    assert "already open in another browser" in response.text
    assert owner_redirect["Location"] not in response.text
    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.PENDING
    assert (
        client.post(checkout_url(course), {"email": "ada@example.com"})["Location"]
        == (owner_redirect["Location"])
    )


def test_already_enrolled_learner_gets_a_clear_message_and_nothing_is_created(client, fake_stripe):
    paid = EnrollmentFactory(email="ada@example.com", paid=True)

    response = client.post(checkout_url(paid.course), {"email": "Ada@example.com"})

    assert response.status_code == 400
    assert "already enrolled" in response.text
    assert reverse("enrollments:my_courses") in response.text
    assert Enrollment.objects.count() == 1
    assert fake_stripe.requests == []


@pytest.mark.parametrize(
    ("status", "error_type", "count"),
    [(500, "api_error", 3), (400, "invalid_request_error", 1), (401, "authentication_error", 1)],
)
def test_stripe_failure_shows_the_error_page_and_leaves_nothing_open(
    client, fake_stripe, status, error_type, count
):
    course = CourseFactory()
    fake_stripe.fail_next(status=status, error_type=error_type, count=count)

    response = client.post(checkout_url(course), {"email": "ada@example.com"})

    assert response.status_code == 503
    assert "nothing was charged" in response.text
    assert Enrollment.objects.get().status == Enrollment.Status.FAILED
    assert fake_stripe.sessions == {}


def test_stripe_unreachable_shows_the_error_page(client, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    course = CourseFactory()

    response = client.post(checkout_url(course), {"email": "ada@example.com"})

    assert response.status_code == 503
    assert Enrollment.objects.get().status == Enrollment.Status.FAILED


@pytest.fixture
def fresh_stripe_client():
    """The gateway's client is made once per key and address: made anew for this test."""
    stripe_gateway._client_for.cache_clear()
    yield
    stripe_gateway._client_for.cache_clear()


def test_a_proxy_set_in_the_environment_carries_the_calls_to_stripe(
    client, fake_stripe, monkeypatch, fresh_stripe_client
):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    course = CourseFactory()

    response = client.post(checkout_url(course), {"email": "ada@example.com"})

    assert response.status_code == 503  # the call went to the proxy, not to Stripe
    assert session_creations(fake_stripe) == []


def test_after_a_failed_attempt_the_learner_can_try_again(client, fake_stripe):
    course = CourseFactory()
    fake_stripe.fail_next(status=400, error_type="invalid_request_error")
    client.post(checkout_url(course), {"email": "ada@example.com"})

    response = client.post(checkout_url(course), {"email": "ada@example.com"})

    assert response.status_code == 303
    assert Enrollment.objects.filter(status=Enrollment.Status.PENDING).count() == 1


def test_an_expired_pending_checkout_is_replaced_by_a_new_one(client, fake_stripe):
    from datetime import timedelta

    from django.utils import timezone

    course = CourseFactory()
    client.post(checkout_url(course), {"email": "ada@example.com"})
    Enrollment.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    response = client.post(checkout_url(course), {"email": "ada@example.com"})

    assert response.status_code == 303
    statuses = sorted(Enrollment.objects.values_list("status", flat=True))
    assert statuses == [Enrollment.Status.EXPIRED, Enrollment.Status.PENDING]


def test_a_checkout_awaiting_a_bank_payment_is_not_duplicated(client, fake_stripe):
    EnrollmentFactory(email="ada@example.com", expires_at=None)
    course = Enrollment.objects.get().course

    response = client.post(checkout_url(course), {"email": "ada@example.com"})

    assert response.status_code == 400
    assert "still being confirmed" in response.text
    assert Enrollment.objects.count() == 1


def test_logged_in_verified_learner_buys_with_their_account_email_whatever_is_posted(
    client, fake_stripe
):
    user = UserFactory(email="ada@example.com")
    client.force_login(user)
    course = CourseFactory()

    page = client.get(checkout_url(course))
    client.post(checkout_url(course), {"email": "someone.else@example.com"})

    assert 'value="ada@example.com"' in page.text and "disabled" in page.text
    enrollment = Enrollment.objects.get()
    assert (enrollment.email, enrollment.user) == ("ada@example.com", user)


@pytest.mark.parametrize("email", ["", "not-an-email", "a" * 300 + "@example.com"])
def test_malformed_email_is_refused_with_a_message_and_nothing_is_created(
    client, fake_stripe, email
):
    course = CourseFactory()

    response = client.post(checkout_url(course), {"email": email})

    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.text
    assert Enrollment.objects.count() == 0
    assert fake_stripe.requests == []


def test_checkout_for_unpublished_or_unknown_course_is_404(client, fake_stripe):
    hidden = CourseFactory(is_published=False)

    assert client.get(checkout_url(hidden)).status_code == 404
    assert client.post("/courses/nope/checkout/", {"email": "a@example.com"}).status_code == 404


def test_without_stripe_keys_checkout_explains_how_to_set_it_up(client, settings):
    settings.STRIPE_SECRET_KEY = ""
    course = CourseFactory()

    page = client.get(checkout_url(course))
    post = client.post(checkout_url(course), {"email": "ada@example.com"})

    assert "Paid checkout is not set up" in page.text and "STRIPE_SECRET_KEY" in page.text
    assert post.status_code == 400 and "STRIPE_SECRET_KEY" in post.text
    assert Enrollment.objects.count() == 0


def test_cancel_page_leads_back_to_the_course(client):
    course = CourseFactory()

    response = client.get(reverse("enrollments:checkout_cancel", args=[course.slug]))

    assert response.status_code == 200
    assert course.get_absolute_url() in response.text
    assert "nothing was charged" in response.text


def test_a_checkout_runs_a_bounded_number_of_queries(
    client, fake_stripe, django_assert_max_num_queries
):
    course = CourseFactory()
    client.get(checkout_url(course))  # the form: the cookie gets its visitor token
    EnrollmentFactory.create_batch(3, course=course, status=Enrollment.Status.PAID)

    # The learner's paid or open enrollment; the insert; the Stripe session id; and, inside the
    # test's transaction, a savepoint taken and released. No session row is read or written.
    with django_assert_max_num_queries(5):
        response = client.post(checkout_url(course), {"email": "ada@example.com"})

    assert response.status_code == 303
    assert Enrollment.objects.get(email="ada@example.com").checkout_url == response["Location"]


def test_an_anonymous_checkout_keeps_its_browser_in_a_signed_cookie_and_writes_no_session(
    client, fake_stripe
):
    course = CourseFactory()

    client.post(checkout_url(course), {"email": "ada@example.com"})

    enrollment = Enrollment.objects.get()
    assert not Session.objects.exists()
    assert CHECKOUT_COOKIE in client.cookies
    status = reverse("enrollments:enrollment_status", args=[enrollment.pk])
    assert client.get(status).status_code == 200
    forger = Client()
    forger.cookies[CHECKOUT_COOKIE] = f"token:{enrollment.pk}"  # not signed by the site
    assert forger.get(status).status_code == 404
    # The same browser's next submit is recognised as the one that opened the checkout.
    again = client.post(checkout_url(course), {"email": "ada@example.com"})
    assert again["Location"] == Enrollment.objects.get().checkout_url


def test_a_signed_in_checkout_keeps_its_ids_in_the_session_which_logging_out_ends(
    client, fake_stripe
):
    course = CourseFactory()
    client.force_login(UserFactory(email="bob@example.com"))
    client.post(checkout_url(course), {"email": "ada@example.com"})
    enrollment = Enrollment.objects.get()
    status = reverse("enrollments:enrollment_status", args=[enrollment.pk])
    assert CHECKOUT_COOKIE not in client.cookies
    assert client.get(status).status_code == 200

    client.logout()

    assert client.get(status).status_code == 404


def test_an_anonymous_checkout_follows_its_buyer_into_the_session_and_ends_at_logout(
    client, fake_stripe
):
    """On a shared browser: the checkout opened before signing in is theirs while signed in,
    and nobody's after they log out (the cookie goes at sign-in, the session at logout)."""
    course = CourseFactory()
    client.post(checkout_url(course), {"email": "ada@example.com"})
    status = reverse("enrollments:enrollment_status", args=[Enrollment.objects.get().pk])
    UserFactory(email="ada@example.com", password="a long passphrase 42")

    signed_in = client.post(
        reverse("account_login"), {"login": "ada@example.com", "password": "a long passphrase 42"}
    )
    assert signed_in.status_code == 302
    assert signed_in.cookies[CHECKOUT_COOKIE].value == ""  # deleted
    assert client.get(status).status_code == 200

    logged_out = client.post(reverse("account_logout"))
    assert logged_out.status_code == 302
    assert client.get(status).status_code == 404


def test_logging_out_deletes_a_checkout_cookie_the_browser_still_holds(client, fake_stripe):
    course = CourseFactory()
    client.post(checkout_url(course), {"email": "ada@example.com"})
    cookie = client.cookies[CHECKOUT_COOKIE].value
    client.force_login(UserFactory(email="bob@example.com"))  # no sign-in view: cookie stays
    client.cookies[CHECKOUT_COOKIE] = cookie

    logged_out = client.post(reverse("account_logout"))

    assert logged_out.cookies[CHECKOUT_COOKIE].value == ""
