"""What people do on MaalEdu, as steps a test reads like a story.

Each helper drives the page the way a person would (labels, roles and visible text, not CSS
internals) and ends by waiting for the page that step leads to, so the next step starts there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.sync_api import Locator, Page, expect

from .mailbox import Mailbox, Message
from .shots import Shots

PASSWORD = "Quiet-Harbour-5821"  # noqa: S105 (the test learners' password)
STAFF_EMAIL = "admin@maaledu.local"
STAFF_PASSWORD = "maaledu-demo-admin"  # noqa: S105 (seed_demo's DEMO_ADMIN_PASSWORD default)
# The LMS sync runs in the Celery worker and the status page polls every 3 s.
LMS_SYNC_TIMEOUT_MS = 30_000
GRANT_STATEMENT = (
    "I lost my job when my employer closed last spring and I am retraining for a role in "
    "cloud operations. This course and its certification would let me apply for the jobs I am "
    "preparing for, but I cannot pay its full price while I am out of work."
)


@dataclass(frozen=True)
class Course:
    """A course that ``seed_demo`` creates."""

    slug: str
    title: str
    price: str


AWS = Course("aws-solutions-architect-associate", "AWS Solutions Architect – Associate", "$499.00")
CKA = Course(
    "certified-kubernetes-administrator", "Certified Kubernetes Administrator (CKA)", "$399.00"
)
PMP = Course("pmp-exam-prep", "PMP Exam Prep", "$299.00")
SECURITY_PLUS = Course("comptia-security-plus", "CompTIA Security+", "$249.00")
DATA_ANALYTICS = Course("data-analytics-professional", "Data Analytics Professional", "$199.00")
SCRUM = Course("professional-scrum-master", "Professional Scrum Master I", "$149.00")


def main(page: Page) -> Locator:
    return page.locator("main")


def nav(page: Page) -> Locator:
    """The site's main navigation."""
    return page.get_by_role("navigation", name="Main")


def notifications(page: Page) -> Locator:
    return page.get_by_role("region", name="Notifications")


# --------------------------------------------------------------------------- accounts


def sign_up_verified(page: Page, mailbox: Mailbox, email: str) -> None:
    """Sign up, open the confirmation link from the e-mail and confirm: logged in, verified."""
    page.goto("/accounts/signup/")
    main(page).get_by_label("Email").fill(email)
    main(page).get_by_label("Password:", exact=True).fill(PASSWORD)
    main(page).get_by_label("Password (again)").fill(PASSWORD)
    main(page).get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    confirmation = mailbox.wait_for(to=email, subject="Confirm Your Email")
    page.goto(confirmation.link(r"/accounts/confirm-email/"))
    main(page).get_by_role("button", name="Confirm").click()
    expect(notifications(page)).to_contain_text(f"You have confirmed {email}")


def log_in_to_admin(page: Page) -> None:
    page.goto("/admin/login/")
    page.get_by_label("E-mail address").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


# --------------------------------------------------------------------------- catalog & checkout


def open_course_from_catalog(page: Page, course: Course) -> None:
    """From the home page: the catalog, then the course's page."""
    page.goto("/")
    main(page).get_by_role("button", name="Browse all courses").click()
    expect(page.get_by_role("heading", name="Course catalog", level=1)).to_be_visible()
    page.get_by_role("link", name=course.title, exact=True).click()
    expect(page.get_by_role("heading", name=course.title, level=1)).to_be_visible()


def start_checkout(page: Page, course: Course) -> None:
    """From the course page, the checkout form."""
    page.get_by_role("button", name="Enroll now").click()
    expect(page.get_by_role("heading", name=f"Enroll in {course.title}")).to_be_visible()


def checkout_form(page: Page) -> Locator:
    return main(page).locator("form[method=post]")


def fill_checkout(page: Page, *, email: str | None = None, coupon: str | None = None) -> None:
    """Fill the checkout form; a logged-in, verified learner's e-mail is fixed already."""
    if email is not None:
        checkout_form(page).get_by_label("Your e-mail").fill(email)
    if coupon is not None:
        checkout_form(page).get_by_label("Grant coupon (optional)").fill(coupon)


def continue_to_payment(page: Page, stripe_url: str) -> None:
    """Submit the checkout form and land on Stripe's hosted payment page."""
    checkout_form(page).get_by_role("button", name="Continue").click()
    on_stripe_checkout(page, stripe_url)


def on_stripe_checkout(page: Page, stripe_url: str) -> None:
    expect(page).to_have_url(re.compile(rf"^{re.escape(stripe_url)}/pay/cs_test_"))
    expect(page.get_by_role("heading", name="Order summary")).to_be_visible()


def stripe_total_due(page: Page) -> Locator:
    return page.get_by_text("Total due:")


def pay_on_stripe(page: Page) -> None:
    """Press Pay on the fake Stripe page: it completes the session, sends the signed webhook and
    redirects to our success page."""
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/checkout/success/\?session_id=cs_test_"))


def buy_as_verified_learner(
    page: Page, mailbox: Mailbox, stripe_url: str, *, email: str, course: Course
) -> None:
    """A new learner signs up (e-mail verified), buys ``course`` on the fake Stripe page and
    lands on the success page showing the payment."""
    sign_up_verified(page, mailbox, email)
    open_course_from_catalog(page, course)
    start_checkout(page, course)
    continue_to_payment(page, stripe_url)
    pay_on_stripe(page)
    expect(checkout_status(page).get_by_text("Paid", exact=True)).to_be_visible()


def checkout_status(page: Page) -> Locator:
    """The live status section of the success/enrollment page (htmx refreshes it)."""
    return page.locator("#checkout-status")


def expect_course_ready(status: Locator) -> None:
    """The LMS badge turns Ready once the worker synced the enrollment to Frappe."""
    expect(status.get_by_text("Ready", exact=True)).to_be_visible(timeout=LMS_SYNC_TIMEOUT_MS)


def my_courses_row(page: Page, course: Course) -> Locator:
    nav(page).get_by_role("link", name="My courses").click()
    expect(page.get_by_role("heading", name="My courses", level=1)).to_be_visible()
    return main(page).get_by_role("row").filter(has=page.get_by_role("link", name=course.title))


# --------------------------------------------------------------------------- grants


def apply_for_grant(page: Page, *, name: str, course: Course) -> None:
    """A logged-in learner applies for a grant (their e-mail is filled in for them)."""
    nav(page).get_by_role("link", name="Grants").click()
    expect(page.get_by_role("heading", name="Apply for a grant", level=1)).to_be_visible()
    main(page).get_by_label("Your name").fill(name)
    main(page).get_by_label("Course").select_option(label=course.title)
    main(page).get_by_label("Why do you need a grant?").fill(GRANT_STATEMENT)
    main(page).get_by_role("button", name="Send my application").click()
    thanks = page.get_by_role("heading", name="Thank you, we received your application")
    expect(thanks).to_be_visible()


def approve_grant_in_admin(
    staff: Page, *, applicant: str, discount_percent: int, shots: Shots | None = None
) -> None:
    """Staff select the application in the admin, run "Approve selected grants…" and confirm
    the discount on the intermediate page."""
    staff.goto("/admin/grants/grant/")
    row = staff.get_by_role("row").filter(has_text=applicant)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Pending")
    row.get_by_role("checkbox").check()
    staff.get_by_role("combobox", name=re.compile(r"^Action")).select_option(
        label="Approve selected grants…"
    )
    staff.get_by_role("button", name="Go").click()

    expect(staff.get_by_role("heading", name="Approve grants")).to_be_visible()
    expect(main(staff)).to_contain_text(applicant)
    staff.get_by_label("Discount (%)").fill(str(discount_percent))
    if shots is not None:
        shots.step(staff, "admin approve intermediate page")
    staff.get_by_role("button", name="Approve grants").click()
    expect(staff.locator(".messagelist")).to_contain_text("Approved 1 grant.")
    expect(staff.get_by_role("row").filter(has_text=applicant)).to_contain_text("Approved")


def grant_approval_email(mailbox: Mailbox, email: str) -> Message:
    return mailbox.wait_for(to=email, subject="approved")


def coupon_code(approval: Message) -> str:
    return approval.find(r"Your coupon code: (MAAL(?:-[2-9A-HJKMNP-Z]{4}){4})")


# --------------------------------------------------------------------------- affiliates


def join_affiliate_programme(page: Page, *, paypal_email: str) -> str:
    """Join with PayPal payouts; returns the referral link shown on the dashboard."""
    nav(page).get_by_role("link", name="Affiliates").click()
    expect(page.get_by_role("heading", name="Become an affiliate", level=1)).to_be_visible()
    main(page).get_by_label("PayPal", exact=True).check()
    main(page).get_by_label("PayPal e-mail").fill(paypal_email)
    main(page).get_by_label("I have read and accept the affiliate programme terms.").check()
    main(page).get_by_role("button", name="Join the programme").click()
    expect(page.get_by_role("heading", name="Affiliate dashboard", level=1)).to_be_visible()
    expect(notifications(page)).to_contain_text("Welcome to the affiliate programme!")
    return main(page).get_by_role("textbox", name="Your referral link").input_value()


def open_affiliate_dashboard(page: Page) -> None:
    nav(page).get_by_role("link", name="Affiliates").click()
    expect(page.get_by_role("heading", name="Affiliate dashboard", level=1)).to_be_visible()


def referral_figure(page: Page, label: str) -> Locator:
    """A figure of the dashboard, e.g. ``referral_figure(page, "paid referrals")``."""
    return (
        page.get_by_role("region", name="Referral figures")
        .locator("article")
        .filter(has_text=label)
    )


def referred_sales(page: Page) -> Locator:
    return page.get_by_role("region", name="Referred sales")


# --------------------------------------------------------------------------- orders & account


def open_my_orders(page: Page) -> None:
    nav(page).get_by_role("link", name="My orders").click()
    expect(page.get_by_role("heading", name="My orders", level=1)).to_be_visible()


def my_orders_row(page: Page, course: Course) -> Locator:
    return main(page).get_by_role("row").filter(has=page.get_by_role("link", name=course.title))


def wait_for_stripe_receipt(page: Page, course: Course) -> Locator:
    """The worker fetches the invoice's links after the payment: reload "My orders" until the
    row links to Stripe's receipt (bounded like the LMS sync)."""
    link = my_orders_row(page, course).get_by_role(
        "link", name=f"Receipt for {course.title} (Stripe invoice)"
    )
    for _ in range(LMS_SYNC_TIMEOUT_MS // 1000):
        if link.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(link).to_be_visible()
    return link


def tax_notes(page: Page) -> Locator:
    """The one note every price carries (templates/includes/tax_note.html)."""
    return main(page).locator(".tax-note")


def open_account(page: Page) -> None:
    nav(page).get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()


def delete_account(page: Page, *, password: str = PASSWORD) -> None:
    """From the account page, the deletion form: password again, the tick, the button."""
    main(page).get_by_role("link", name="Delete my account…").click()
    expect(page.get_by_role("heading", name="Delete your account", level=1)).to_be_visible()
    main(page).get_by_label("Your password").fill(password)
    main(page).get_by_label(re.compile(r"^I understand that my account is deleted")).check()
    main(page).get_by_role("button", name="Delete my account").click()
