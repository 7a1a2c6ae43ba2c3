"""Grants: a learner applies, staff approve in the admin, the e-mailed coupon is redeemed."""

from playwright.sync_api import Page, expect

from .conftest import Actor
from .flows import (
    CKA,
    PMP,
    SECURITY_PLUS,
    apply_for_grant,
    approve_grant_in_admin,
    checkout_form,
    checkout_status,
    continue_to_payment,
    coupon_code,
    expect_course_ready,
    fill_checkout,
    grant_approval_email,
    log_in_to_admin,
    main,
    my_courses_row,
    on_stripe_checkout,
    pay_on_stripe,
    sign_up_verified,
    start_checkout,
    stripe_total_due,
)
from .shots import Shots
from .stack import Stack


def test_a_full_grant_approved_in_the_admin_enrols_the_learner_for_free(
    page: Page, new_actor: Actor, stack: Stack, shots: Shots
):
    learner = "fatima.full@example.com"
    course = CKA

    # Given a verified learner who applied for a grant for a course
    sign_up_verified(page, stack.mailbox, learner)
    apply_for_grant(page, name="Fatima Full", course=course)
    shots.step(page, "grant application received")

    # When staff approve it in the admin with a 100% discount
    staff = new_actor("staff")
    log_in_to_admin(staff)
    approve_grant_in_admin(staff, applicant=learner, discount_percent=100, shots=shots)
    shots.step(staff, "admin approved")

    # And the learner follows the checkout link in the approval e-mail, code filled in
    approval = grant_approval_email(stack.mailbox, learner)
    page.goto(approval.link(r"/checkout/\?coupon="))
    expect(checkout_form(page).get_by_label("Grant coupon (optional)")).to_have_value(
        coupon_code(approval)
    )
    shots.step(page, "checkout with coupon")
    checkout_form(page).get_by_role("button", name="Continue").click()

    # Then they are enrolled without paying, and the course becomes ready in the LMS
    status = checkout_status(page)
    expect(status.get_by_text("Enrolled", exact=True)).to_be_visible()
    expect(status).to_contain_text("Your grant covers the full price")
    expect_course_ready(status)
    shots.step(page, "enrolled")
    row = my_courses_row(page, course)
    expect(row.get_by_text("Ready", exact=True)).to_be_visible()

    # And nothing went through Stripe; the enrollment is the grant's, at no cost
    assert [s for s in stack.stripe.sessions.values() if s["customer_email"] == learner] == []
    [enrollment] = stack.enrollments(email=learner, course_slug=course.slug)
    assert (enrollment["status"], enrollment["kind"], enrollment["amount_due_cents"]) == (
        "paid",
        "full_grant",
        0,
    )


def test_a_partial_grant_coupon_lowers_the_amount_on_stripe(
    page: Page, new_actor: Actor, stack: Stack, shots: Shots
):
    learner = "pablo.partial@example.com"
    course = SECURITY_PLUS  # $249.00

    # Given a verified learner whose grant staff approved at 50%
    sign_up_verified(page, stack.mailbox, learner)
    apply_for_grant(page, name="Pablo Partial", course=course)
    staff = new_actor("staff")
    log_in_to_admin(staff)
    approve_grant_in_admin(staff, applicant=learner, discount_percent=50)
    code = coupon_code(grant_approval_email(stack.mailbox, learner))

    # When they check out with the coupon
    page.goto(f"/courses/{course.slug}/")
    start_checkout(page, course)
    fill_checkout(page, coupon=code)
    continue_to_payment(page, stack.stripe.url)

    # Then Stripe's page asks for half the price
    expect(stripe_total_due(page)).to_contain_text("$124.50")
    shots.step(page, "stripe with discount")

    # And paying it enrols them at that price
    pay_on_stripe(page)
    status = checkout_status(page)
    expect(status).to_contain_text("Your payment of $124.50 was received.")
    [enrollment] = stack.enrollments(email=learner, course_slug=course.slug)
    assert (enrollment["status"], enrollment["kind"], enrollment["amount_due_cents"]) == (
        "paid",
        "partial_grant",
        12450,
    )


def test_an_open_grant_checkout_is_not_dropped_without_asking(
    page: Page, new_actor: Actor, stack: Stack, shots: Shots
):
    learner = "gita.grant@example.com"
    course = PMP  # $299.00; 45% off: $164.45

    # Given a learner who opened a checkout with their 45% grant coupon and left Stripe's page
    sign_up_verified(page, stack.mailbox, learner)
    apply_for_grant(page, name="Gita Grant", course=course)
    staff = new_actor("staff")
    log_in_to_admin(staff)
    approve_grant_in_admin(staff, applicant=learner, discount_percent=45)
    code = coupon_code(grant_approval_email(stack.mailbox, learner))
    page.goto(f"/courses/{course.slug}/")
    start_checkout(page, course)
    fill_checkout(page, coupon=code)
    continue_to_payment(page, stack.stripe.url)
    expect(stripe_total_due(page)).to_contain_text("$164.45")
    discounted_url = page.url

    # When they start a checkout again without the coupon
    page.goto(f"/courses/{course.slug}/")
    start_checkout(page, course)
    checkout_form(page).get_by_role("button", name="Continue").click()

    # Then they are told, before anything is cancelled, and offered the way back
    notice = main(page).locator("#grant-checkout-notice")
    expect(notice).to_contain_text("with your 45% grant coupon")
    expect(notice).to_contain_text("$164.45")
    shots.step(page, "grant checkout open")
    [enrollment] = stack.enrollments(email=learner, course_slug=course.slug)
    assert (enrollment["status"], enrollment["amount_due_cents"]) == ("pending", 16445)

    # And going back lands on the same discounted Stripe page
    checkout_form(page).get_by_role("button", name="Return to my grant checkout").click()
    on_stripe_checkout(page, stack.stripe.url)
    assert page.url == discounted_url
    expect(stripe_total_due(page)).to_contain_text("$164.45")

    # And continuing knowingly at full price is their choice
    page.goto(f"/courses/{course.slug}/")
    start_checkout(page, course)
    checkout_form(page).get_by_role("button", name="Continue").click()
    checkout_form(page).get_by_role("button", name="Continue at $299.00 without my coupon").click()
    on_stripe_checkout(page, stack.stripe.url)
    expect(stripe_total_due(page)).to_contain_text("$299.00")
    statuses = sorted(
        (e["status"], e["amount_due_cents"])
        for e in stack.enrollments(email=learner, course_slug=course.slug)
    )
    assert statuses == [("canceled", 16445), ("pending", 29900)]
