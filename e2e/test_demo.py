"""``make demo`` in a browser: the newcomer's click-through on the demo stack (fake Stripe and
fake LMS, no Redis), with the "Demo payments" banner on every page and no serious
accessibility violation."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from maaledu.demo import Demo

from .a11y import describe, serious_violations
from .conftest import open_context, watch_for_page_errors
from .flows import (
    SCRUM,
    checkout_status,
    continue_to_payment,
    expect_course_ready,
    fill_checkout,
    log_in_to_admin,
    main,
    open_course_from_catalog,
    pay_on_stripe,
    start_checkout,
)
from .shots import Shots
from .stack import free_port


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    with Demo(workdir=tmp_path_factory.mktemp("demo"), port=free_port()) as running:
        yield running


@pytest.fixture
def demo_page(browser: Browser, demo: Demo) -> Iterator[Page]:
    """A visitor on the demo site; axe needs the page's Content-Security-Policy bypassed."""
    problems: list[str] = []
    context = open_context(browser, demo, bypass_csp=True)
    watch_for_page_errors(context, "demo visitor", problems)
    yield context.new_page()
    context.close()
    assert not problems, problems


def expect_demo_banner(page: Page) -> None:
    expect(page.get_by_role("complementary", name="Demo")).to_contain_text("Demo payments:")


def test_a_newcomer_buys_through_the_affiliate_then_staff_refund_it(
    demo_page: Page, browser: Browser, demo: Demo, shots: Shots
):
    page = demo_page
    # Given the demo's home page, reached through the demo affiliate's link
    page.goto("/?ref=partner")
    expect_demo_banner(page)
    violations = serious_violations(page)
    assert not violations, describe(violations)
    shots.step(page, "demo home")

    # When they buy a course on the fake Stripe page
    open_course_from_catalog(page, SCRUM)
    expect_demo_banner(page)
    expect(page.get_by_role("region", name="Course outline")).to_contain_text("Empiricism")
    start_checkout(page, SCRUM)
    fill_checkout(page, email="newcomer@example.com")
    continue_to_payment(page, demo.stripe.url)
    pay_on_stripe(page)

    # Then the course is Ready, with its link into the LMS
    expect_course_ready(checkout_status(page))
    expect_demo_banner(page)
    link = checkout_status(page).get_by_role("link", name="Start learning")
    expect(link).to_have_attribute("href", f"{demo.frappe.url}/lms/courses/{SCRUM.slug}")
    shots.step(page, "demo purchase ready")

    # And the affiliate sees the commission
    affiliate = open_context(browser, demo).new_page()
    affiliate.goto("/accounts/login/")
    main(affiliate).get_by_label("Email").fill("partner@maaledu.local")
    main(affiliate).get_by_label("Password").fill("maaledu-demo-partner")
    main(affiliate).get_by_role("button", name="Sign In").click()
    affiliate.goto("/affiliates/dashboard/")
    expect(main(affiliate)).to_contain_text("$14.90")
    shots.step(affiliate, "demo affiliate commission")
    affiliate.context.close()

    # When staff refund it from the admin
    staff = open_context(browser, demo).new_page()
    log_in_to_admin(staff)
    staff.goto("/admin/enrollments/enrollment/")
    staff.get_by_role("row").filter(has_text="newcomer@example.com").get_by_role(
        "link"
    ).first.click()
    staff.get_by_role("link", name="Refund…").click()
    staff.get_by_label("Reason").fill("Demo refund")
    staff.get_by_role("button", name="Preview refund").click()
    expect(staff.locator("#refund-preview")).to_contain_text("LMS access: revoked")
    staff.get_by_role("button", name="Confirm refund").click()
    expect(staff.locator(".messagelist")).to_contain_text("Refunded $149.00.")
    staff.context.close()

    # Then the learner's page says so
    page.reload()
    expect(checkout_status(page)).to_contain_text("This purchase was refunded.")
    assert re.search(r"/checkout/success/", page.url)
