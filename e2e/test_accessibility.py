"""axe-core on the main pages: no serious or critical violation (WCAG 2.x A/AA + best practice).

The pages are checked as their visitors see them: anonymous, a verified learner who bought a
course, and an affiliate. These contexts bypass the Content-Security-Policy, only so that the
axe script can be injected; every other test runs under the site's real policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from .a11y import describe, serious_violations
from .conftest import Actor, open_context
from .flows import (
    SCRUM,
    checkout_status,
    continue_to_payment,
    expect_course_ready,
    join_affiliate_programme,
    open_course_from_catalog,
    pay_on_stripe,
    sign_up_verified,
    start_checkout,
)
from .shots import Shots
from .stack import Stack


@dataclass(frozen=True)
class Visitors:
    learner_state: dict  # a verified learner who bought SCRUM (browser storage state)
    affiliate_state: dict  # a verified affiliate
    success_path: str  # the learner's checkout success page


@pytest.fixture(scope="module")
def visitors(browser: Browser, stack: Stack) -> Iterator[Visitors]:
    # The affiliate refers the learner's purchase, so its dashboard draws its charts.
    affiliate = open_context(browser, stack).new_page()
    sign_up_verified(affiliate, stack.mailbox, "ada.a11y-affiliate@example.com")
    link = join_affiliate_programme(affiliate, paypal_email="ada.a11y-affiliate@example.com")

    learner = open_context(browser, stack).new_page()
    sign_up_verified(learner, stack.mailbox, "alex.a11y@example.com")
    learner.goto(link)
    open_course_from_catalog(learner, SCRUM)
    start_checkout(learner, SCRUM)
    continue_to_payment(learner, stack.stripe.url)
    pay_on_stripe(learner)
    # The page polls until the LMS sync settles: check it once it stopped changing.
    expect_course_ready(checkout_status(learner))
    success_path = learner.url.removeprefix(stack.url)

    yield Visitors(
        learner_state=learner.context.storage_state(),
        affiliate_state=affiliate.context.storage_state(),
        success_path=success_path,
    )
    learner.context.close()
    affiliate.context.close()


PAGES = [
    # (page, who, path)
    ("home", "anonymous", "/"),
    ("home, logged in", "learner", "/"),
    ("catalog", "anonymous", "/courses/"),
    ("course", "anonymous", f"/courses/{SCRUM.slug}/"),
    ("checkout", "anonymous", f"/courses/{SCRUM.slug}/checkout/"),
    ("checkout, logged in", "learner", f"/courses/{SCRUM.slug}/checkout/"),
    ("checkout success", "learner", "<success>"),
    ("my courses", "learner", "/my/courses/"),
    ("my orders", "learner", "/my/orders/"),
    ("account", "learner", "/account/"),
    ("delete account", "learner", "/account/delete/"),
    ("account deleted", "anonymous", "/account/deleted/"),
    ("grant application", "anonymous", "/grants/apply/"),
    ("affiliate join", "learner", "/affiliates/join/"),
    ("affiliate dashboard", "affiliate", "/affiliates/dashboard/"),
    ("log in", "anonymous", "/accounts/login/"),
    ("sign up", "anonymous", "/accounts/signup/"),
]


@pytest.mark.parametrize(("name", "who", "path"), PAGES, ids=[p[0] for p in PAGES])
def test_page_has_no_serious_accessibility_violation(
    name: str, who: str, path: str, visitors: Visitors, new_actor: Actor, shots: Shots
):
    # Given the page as its visitor sees it
    state = {"learner": visitors.learner_state, "affiliate": visitors.affiliate_state}.get(who)
    page: Page = new_actor(who, bypass_csp=True, storage_state=state)
    page.goto(visitors.success_path if path == "<success>" else path)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    if name == "affiliate dashboard":
        # The referred sale is drawn: the charts and their tables are part of what is checked.
        for chart in ("Earnings per month (USD)", "Clicks and paid referrals per week"):
            expect(page.get_by_role("img", name=chart)).to_be_visible()
        for table in page.locator("details.chart-table").all():
            table.locator("summary").click()
    shots.step(page, name)

    # When axe checks it / Then nothing serious or critical is found
    violations = serious_violations(page)
    assert not violations, f"{name} ({path}):\n{describe(violations)}"
