"""My orders and receipts, and the tax note on every price, in a real browser; each page also
passes the accessibility check (axe-core, as in test_accessibility)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from .a11y import expect_accessible
from .conftest import Actor
from .flows import (
    AWS,
    PMP,
    apply_for_grant,
    approve_grant_in_admin,
    buy_as_verified_learner,
    checkout_form,
    checkout_status,
    grant_approval_email,
    log_in_to_admin,
    main,
    my_orders_row,
    open_course_from_catalog,
    open_my_orders,
    sign_up_verified,
    start_checkout,
    tax_notes,
    wait_for_stripe_receipt,
)
from .shots import Shots
from .stack import Stack


def test_a_buyer_finds_the_order_and_stripes_receipt_in_my_orders(
    page: Page, browser: Browser, stack: Stack, shots: Shots
):
    learner = "olga.orders@example.com"
    course = PMP

    # Given a verified learner who bought a course on Stripe's page
    buy_as_verified_learner(page, stack.mailbox, stack.stripe.url, email=learner, course=course)

    # When they open "My orders"
    open_my_orders(page)

    # Then the order is listed with its price, currency and status
    row = my_orders_row(page, course)
    expect(row).to_have_count(1)
    for cell in (course.price, "USD", "Paid"):
        expect(row).to_contain_text(cell)
    # And, once the worker fetched it, Stripe's receipt with its PDF
    receipt = wait_for_stripe_receipt(page, course)
    shots.step(page, "my orders")
    expect_accessible(browser, stack, page)
    pdf = row.get_by_role("link", name=f"Receipt for {course.title} as PDF").get_attribute("href")
    assert page.request.get(pdf).headers["content-type"] == "application/pdf"

    # When they open the receipt
    receipt.click()

    # Then Stripe's hosted invoice shows what they paid
    expect(page).to_have_url(re.compile(rf"^{re.escape(stack.stripe.url)}/i/in_"))
    expect(page.get_by_role("heading", name=re.compile(r"^Invoice "))).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"Total: {course.price}")
    expect(page.locator("main")).to_contain_text(learner)
    shots.step(page, "stripe receipt")


def test_a_free_grant_order_has_our_own_receipt(
    page: Page, new_actor: Actor, browser: Browser, stack: Stack, shots: Shots
):
    learner = "rita.receipt@example.com"
    course = AWS

    # Given a learner enrolled for free with a 100% grant
    sign_up_verified(page, stack.mailbox, learner)
    apply_for_grant(page, name="Rita Receipt", course=course)
    staff = new_actor("staff")
    log_in_to_admin(staff)
    approve_grant_in_admin(staff, applicant=learner, discount_percent=100)
    page.goto(grant_approval_email(stack.mailbox, learner).link(r"/checkout/\?coupon="))
    checkout_form(page).get_by_role("button", name="Continue").click()
    expect(checkout_status(page).get_by_text("Enrolled", exact=True)).to_be_visible()

    # When they open "My orders"
    open_my_orders(page)

    # Then the order shows the grant discount and nothing paid
    row = my_orders_row(page, course)
    expect(row).to_contain_text(f"−{course.price}")
    expect(row).to_contain_text("$0.00")
    expect(row).to_contain_text("Paid")

    # When they open its receipt: ours, as no payment went through Stripe
    row.get_by_role("link", name=f"Receipt for {course.title}").click()

    # Then it names the course, the price, the discount and that a grant covered it
    expect(page.get_by_role("heading", name="Receipt", level=1)).to_be_visible()
    receipt = main(page).locator("#receipt")
    for text in (
        course.title,
        course.price,
        f"−{course.price}",
        "a grant covered the full price",
        learner,
    ):
        expect(receipt).to_contain_text(text)
    shots.step(page, "own receipt")
    expect_accessible(browser, stack, page)


def test_every_price_carries_the_same_tax_note(page: Page, browser: Browser, stack: Stack):
    # Given the catalog (the stack runs without Stripe Tax)
    page.goto("/courses/")
    prices = main(page).locator(".price")

    # Then each price carries the note, worded the same everywhere
    expect(prices.first).to_be_visible()
    expect(tax_notes(page)).to_have_count(prices.count())
    for note in tax_notes(page).all():
        expect(note).to_have_text("no tax added")

    # And so do the course page and the checkout, which explains it
    open_course_from_catalog(page, PMP)
    expect(tax_notes(page)).to_have_text(["no tax added"])
    start_checkout(page, PMP)
    expect(tax_notes(page)).to_contain_text("You pay the price shown; no tax is added at checkout.")
    expect_accessible(browser, stack, page)
