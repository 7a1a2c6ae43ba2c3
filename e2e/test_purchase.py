"""A visitor buys a course with Stripe and finds it ready in "My courses"."""

from playwright.sync_api import Page, expect

from .flows import (
    DATA_ANALYTICS,
    checkout_status,
    continue_to_payment,
    expect_course_ready,
    fill_checkout,
    my_courses_row,
    on_stripe_checkout,
    open_course_from_catalog,
    pay_on_stripe,
    sign_up_verified,
    start_checkout,
    stripe_total_due,
)
from .shots import Shots
from .stack import Stack


def test_a_guest_buys_a_course_then_finds_it_ready_in_my_courses(
    page: Page, stack: Stack, shots: Shots
):
    buyer = "grace.guest@example.com"
    course = DATA_ANALYTICS

    # Given a visitor browsing the catalog
    open_course_from_catalog(page, course)
    shots.step(page, "course page")

    # When they check out as a guest and pay on Stripe's page
    start_checkout(page, course)
    fill_checkout(page, email=buyer)
    shots.step(page, "checkout")
    continue_to_payment(page, stack.stripe.url)
    expect(stripe_total_due(page)).to_contain_text(course.price)
    shots.step(page, "stripe checkout")
    pay_on_stripe(page)

    # Then the success page shows the payment, and the LMS access once the worker synced it
    status = checkout_status(page)
    expect(status.get_by_text("Paid", exact=True)).to_be_visible()
    expect(status).to_contain_text(f"Your payment of {course.price} was received.")
    expect_course_ready(status)
    shots.step(page, "success")

    # And the worker e-mailed the receipt
    receipt = stack.mailbox.wait_for(to=buyer, subject=f"You're enrolled: {course.title}")
    assert f"Amount paid: {course.price}" in receipt.text

    # When they sign up with the same e-mail and confirm it
    sign_up_verified(page, stack.mailbox, buyer)

    # Then "My courses" lists the course, with its LMS access Ready
    row = my_courses_row(page, course)
    expect(row).to_have_count(1)
    expect(row.get_by_text("Ready", exact=True)).to_be_visible()
    shots.step(page, "my courses")

    # And the LMS holds exactly one enrolment of theirs in that course
    lms = [e for e in stack.frappe.enrollments.values() if e["member"] == buyer]
    assert [e["course"] for e in lms] == [course.slug]


def test_the_stripe_page_can_be_left_without_paying(page: Page, stack: Stack, shots: Shots):
    course = DATA_ANALYTICS

    # Given a visitor on Stripe's page for a course
    open_course_from_catalog(page, course)
    start_checkout(page, course)
    fill_checkout(page, email="carl.cancel@example.com")
    continue_to_payment(page, stack.stripe.url)
    on_stripe_checkout(page, stack.stripe.url)

    # When they cancel
    page.get_by_role("link", name="Cancel").click()

    # Then they are back on MaalEdu, told nothing was charged, and nothing is paid
    expect(page).to_have_url(f"{stack.url}/courses/{course.slug}/checkout/canceled/")
    shots.step(page, "canceled")
    rows = stack.enrollments(email="carl.cancel@example.com", course_slug=course.slug)
    assert [row["status"] for row in rows] == ["pending"]
