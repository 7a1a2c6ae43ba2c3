"""Impatient buyers: a double click on "Continue" or on Stripe's "Pay" buys the course once.

A double click only matters when the second click lands before the first one was answered. A
browser that fires both clicks within a millisecond merges them into one submission, so these
tests click twice while the fake Stripe holds the first submission's work: the second click
surely finds the first unanswered. Each test checks that both submissions were sent and served
(or it would prove nothing), then that one enrollment and one Checkout Session came of them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from .flows import (
    AWS,
    PMP,
    checkout_form,
    checkout_status,
    fill_checkout,
    on_stripe_checkout,
    open_course_from_catalog,
    start_checkout,
)
from .shots import Shots
from .stack import Stack, wait_until

HOLD_SECONDS = 15  # a hold that nobody releases lets go by itself


class Hold:
    """Makes one of the fake Stripe's handlers wait, for matching requests, until released."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        fake: object,
        handler: str,
        matches: Callable[[object], bool],
    ):
        self.released = threading.Event()
        original = getattr(fake, handler)

        def held(request, *args):
            if matches(request):
                self.released.wait(HOLD_SECONDS)
            return original(request, *args)

        monkeypatch.setattr(fake, handler, held)

    def release(self) -> None:
        self.released.set()


def click_twice_before_the_answer(
    page: Page, button: Locator, is_submission: Callable[[Request], bool]
) -> None:
    """Click, wait until the browser sent the submission, click again: both were sent.

    Plain mouse clicks at the button's place: a locator click would first wait for the pending
    navigation, which is exactly what a person double-clicking does not do.
    """
    box = button.bounding_box()
    assert box is not None, "the button is not on screen"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    with page.expect_request(is_submission):
        page.mouse.click(x, y)
    with page.expect_request(is_submission):
        page.mouse.click(x, y)


def test_double_clicking_pay_on_stripe_creates_one_enrollment(
    page: Page, stack: Stack, shots: Shots, monkeypatch: pytest.MonkeyPatch
):
    buyer = "dora.double@example.com"
    course = PMP

    # Given a buyer on Stripe's payment page
    open_course_from_catalog(page, course)
    start_checkout(page, course)
    fill_checkout(page, email=buyer)
    checkout_form(page).get_by_role("button", name="Continue").click()
    on_stripe_checkout(page, stack.stripe.url)
    pay_path = f"/pay/{page.url.rsplit('/', 1)[1]}"
    session_id = pay_path.removeprefix("/pay/")

    def pay_posts() -> int:
        return sum(r.method == "POST" and r.path == pay_path for r in stack.stripe.requests)

    # When they double-click "Pay", and both clicks reach Stripe before either is answered
    hold = Hold(
        monkeypatch,
        stack.stripe,
        "_checkout_page",
        lambda request: request.method == "POST" and request.path == pay_path,
    )
    click_twice_before_the_answer(
        page,
        page.get_by_role("button", name="Pay"),
        lambda request: request.method == "POST" and request.url.endswith(pay_path),
    )
    wait_until(lambda: pay_posts() == 2, timeout=10, what="both Pay submissions at Stripe")
    hold.release()
    shots.step(page, "after double pay")

    # Then one payment was taken, and the buyer has one paid enrollment
    expect(page.get_by_role("heading", level=1)).to_have_text(
        # Whichever answer the browser shows: our success page, or Stripe's "already paid".
        re.compile(rf"^({re.escape(course.title)}|Already paid)$")
    )
    session = stack.stripe.sessions[session_id]
    assert (session["status"], session["payment_status"]) == ("complete", "paid")
    enrollment_id = session["metadata"]["enrollment_id"]
    payments = [
        intent["id"]
        for intent in stack.stripe.payment_intents.values()
        if intent["metadata"].get("enrollment_id") == enrollment_id
    ]
    assert payments == [session["payment_intent"]]
    wait_until(
        lambda: (
            [r["status"] for r in stack.enrollments(email=buyer, course_slug=course.slug)]
            == ["paid"]
        ),
        timeout=10,
        what="one paid enrollment",
        interval=0.5,
    )

    # And the success page says so
    page.goto(f"/checkout/success/?session_id={session_id}")
    expect(checkout_status(page).get_by_text("Paid", exact=True)).to_be_visible()


def test_double_clicking_continue_at_checkout_opens_one_checkout(
    page: Page, stack: Stack, shots: Shots, monkeypatch: pytest.MonkeyPatch
):
    buyer = "colin.clicks@example.com"
    course = AWS
    checkout_path = f"/courses/{course.slug}/checkout/"

    # Given a buyer on the checkout form, and Stripe slow to open Checkout Sessions
    open_course_from_catalog(page, course)
    start_checkout(page, course)
    fill_checkout(page, email=buyer)
    served_before = stack.requests_served("POST", checkout_path)
    hold = Hold(
        monkeypatch,
        stack.stripe,
        "_api",
        lambda request: request.method == "POST" and request.path == "/v1/checkout/sessions",
    )

    # When they double-click "Continue" before the first click is answered
    click_twice_before_the_answer(
        page,
        checkout_form(page).get_by_role("button", name="Continue"),
        lambda request: request.method == "POST" and request.url.endswith(checkout_path),
    )
    hold.release()

    # Then the site served both submissions...
    on_stripe_checkout(page, stack.stripe.url)
    shots.step(page, "stripe after double continue")
    wait_until(
        lambda: stack.requests_served("POST", checkout_path) == served_before + 2,
        timeout=10,
        what="both checkout submissions served",
    )

    # ...and they share one pending enrollment and one Checkout Session, the one shown
    [enrollment] = stack.enrollments(email=buyer, course_slug=course.slug)
    assert enrollment["status"] == "pending"
    sessions = [s for s in stack.stripe.sessions.values() if s["customer_email"] == buyer]
    assert [s["id"] for s in sessions] == [enrollment["stripe_session_id"]]
    assert page.url.endswith(f"/pay/{enrollment['stripe_session_id']}")
