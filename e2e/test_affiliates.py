"""Affiliates: a referred sale earns a commission; buying through your own link does not."""

import re

from playwright.sync_api import Page, expect

from .conftest import Actor
from .flows import (
    PMP,
    SCRUM,
    checkout_form,
    checkout_status,
    continue_to_payment,
    fill_checkout,
    join_affiliate_programme,
    open_affiliate_dashboard,
    open_course_from_catalog,
    pay_on_stripe,
    referral_figure,
    referred_sales,
    sign_up_verified,
    start_checkout,
)
from .shots import Shots
from .stack import Stack


def test_a_visitor_referred_by_an_affiliate_earns_them_a_commission(
    page: Page, new_actor: Actor, stack: Stack, shots: Shots
):
    course = SCRUM  # $149.00; the default rate is 10 %

    # Given an affiliate who joined the programme and shares their link
    affiliate = page
    sign_up_verified(affiliate, stack.mailbox, "amara.affiliate@example.com")
    link = join_affiliate_programme(affiliate, paypal_email="amara.paypal@example.com")
    shots.step(affiliate, "affiliate dashboard, new")

    # When a visitor arrives through that link and buys a course
    visitor = new_actor("visitor")
    visitor.goto(link)
    open_course_from_catalog(visitor, course)
    start_checkout(visitor, course)
    code = link.rsplit("ref=", 1)[1]
    expect(visitor.locator("#referral")).to_have_text(f"Referred by MaalEdu partner {code}.")
    fill_checkout(visitor, email="victor.visitor@example.com")
    shots.step(visitor, "referred checkout")
    continue_to_payment(visitor, stack.stripe.url)
    pay_on_stripe(visitor)
    expect(checkout_status(visitor).get_by_text("Paid", exact=True)).to_be_visible()

    # Then the affiliate's dashboard shows the click, the sale and its commission
    open_affiliate_dashboard(affiliate)
    expect(referral_figure(affiliate, "click")).to_have_text(re.compile(r"^\s*1\s+clicks?\s*$"))
    expect(referral_figure(affiliate, "paid referral")).to_have_text(
        re.compile(r"^\s*1\s+paid referrals?\s*$")
    )
    sale = referred_sales(affiliate).get_by_role("row").filter(has_text=course.title)
    expect(sale).to_have_count(1)
    expect(sale).to_contain_text(course.price)
    expect(sale).to_contain_text("$14.90")
    expect(sale).to_contain_text("(10%)")
    expect(sale).to_contain_text("Pending")
    shots.step(affiliate, "affiliate dashboard with commission")


def test_an_affiliate_buying_through_their_own_link_is_told_no_commission_applies(
    page: Page, stack: Stack, shots: Shots
):
    course = PMP
    refusal = "Referral not applied: you cannot earn a commission on your own purchase."

    # Given an affiliate who opens their own referral link
    sign_up_verified(page, stack.mailbox, "sam.self@example.com")
    link = join_affiliate_programme(page, paypal_email="sam.self@example.com")
    page.goto(link)

    # When they check out a course
    open_course_from_catalog(page, course)
    start_checkout(page, course)
    expect(page.locator("#referral")).to_have_text(refusal)
    checkout_form(page).get_by_role("button", name="Continue").click()

    # Then checkout stops to tell them the referral does not apply
    notice = page.get_by_role("alert")
    expect(notice).to_contain_text(refusal)
    expect(notice).to_contain_text("the purchase simply earns no commission")
    shots.step(page, "self referral refused")

    # And once they continue without it, they pay the full price and earn nothing
    checkout_form(page).get_by_role("button", name="Continue without the referral").click()
    expect(page.get_by_text("Total due:")).to_contain_text(course.price)
    pay_on_stripe(page)
    expect(checkout_status(page).get_by_text("Paid", exact=True)).to_be_visible()
    [enrollment] = stack.enrollments(email="sam.self@example.com", course_slug=course.slug)
    assert enrollment["affiliate_id"] is None
    open_affiliate_dashboard(page)
    expect(referral_figure(page, "paid referral")).to_have_text(
        re.compile(r"^\s*0\s+paid referrals\s*$")
    )
    expect(referred_sales(page)).to_contain_text("No referred sales yet.")
