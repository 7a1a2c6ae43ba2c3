"""A learner downloads their data and deletes their account, in a real browser."""

from __future__ import annotations

import json

from playwright.sync_api import Browser, Page, expect

from .a11y import expect_accessible
from .flows import (
    PASSWORD,
    SECURITY_PLUS,
    buy_as_verified_learner,
    delete_account,
    main,
    nav,
    open_account,
)
from .shots import Shots
from .stack import Stack


def test_a_learner_downloads_their_data_then_deletes_their_account(
    page: Page, browser: Browser, stack: Stack, shots: Shots
):
    learner = "dora.delete@example.com"
    course = SECURITY_PLUS

    # Given a verified learner who bought a course
    buy_as_verified_learner(page, stack.mailbox, stack.stripe.url, email=learner, course=course)

    # When they download their data from the account page
    open_account(page)
    shots.step(page, "account")
    expect_accessible(browser, stack, page)
    with page.expect_download() as download:
        main(page).get_by_role("button", name="Download my data").click()

    # Then the file holds their account and their order
    data = json.loads(download.value.path().read_text())
    assert data["account"]["email"] == learner
    assert [order["course"] for order in data["orders"]] == [course.title]

    # When they try to delete the account with a wrong password
    delete_account(page, password="not-my-password")  # noqa: S106

    # Then nothing happens but an explanation
    expect(main(page)).to_contain_text("That is not your password")
    expect_accessible(browser, stack, page)

    # When they confirm with their password
    open_account(page)
    delete_account(page)

    # Then the account is gone and they are signed out
    expect(page.get_by_role("heading", name="Your account is deleted", level=1)).to_be_visible()
    expect(nav(page).get_by_role("link", name="Log in")).to_be_visible()
    shots.step(page, "deleted")
    expect_accessible(browser, stack, page)
    page.goto("/accounts/login/")
    main(page).get_by_label("Email").fill(learner)
    main(page).get_by_label("Password").fill(PASSWORD)
    main(page).get_by_role("button", name="Sign In").click()
    expect(main(page)).to_contain_text("not correct")

    # And the shop keeps the sale without their address; the LMS job removes their LMS user
    kept = stack.django(
        "from enrollments.models import Enrollment\n"
        f"rows = Enrollment.objects.filter(course__slug={course.slug!r}, status='paid')\n"
        "result = [r for r in rows.values_list('email', 'amount_due_cents') "
        "if r[0].endswith('.invalid')]\n"
    )
    assert len(kept) == 1 and kept[0][1] > 0
    assert learner in stack.frappe.users
    stack.django(
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from lms_sync import services\n"
        "from lms_sync.models import LmsUserErasure\n"
        "later = timezone.now() + timedelta(hours=1)\n"
        "result = [services.run_user_erasure(erasure_id=e.pk, now=later) "
        "for e in LmsUserErasure.objects.all()]\n"
    )
    assert learner not in stack.frappe.users
