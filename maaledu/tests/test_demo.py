"""``make demo``: the whole demo stack started for real, and a purchase made over HTTP the way a
newcomer clicks through it: referred by the demo affiliate, paid on the fake Stripe page,
"Ready" with its LMS link, the commission on the affiliate's dashboard, refunded by staff."""

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.core.cache import cache

from e2e.stack import free_port
from maaledu.demo import REPO, Demo, DemoRefused, refuse_production

SCRUM = "professional-scrum-master"
SECOND, SECOND_TITLE = "pmp-exam-prep", "PMP Exam Prep"


def csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def log_in(session: requests.Session, url: str, email: str, password: str) -> None:
    page = session.get(f"{url}/accounts/login/")
    done = session.post(
        f"{url}/accounts/login/",
        data={"csrfmiddlewaretoken": csrf(page.text), "login": email, "password": password},
        headers={"Referer": f"{url}/accounts/login/"},
    )
    assert "Log out" in done.text, done.text[:2000]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    workdir = tmp_path_factory.mktemp("demo")
    with Demo(workdir=workdir, port=free_port()) as running:
        yield running


def test_demo_sells_a_course_end_to_end_over_http(demo: Demo):
    buyer = requests.Session()
    # Given the home page, with the demo banner and covers, reached through the affiliate's link
    home = buyer.get(f"{demo.url}/?ref=partner")
    assert home.status_code == 200
    assert "Demo payments:" in home.text
    assert "<picture" in home.text and "Featured courses" in home.text
    course_page = buyer.get(f"{demo.url}/courses/{SCRUM}/")
    assert "Course outline" in course_page.text and "Empiricism" in course_page.text

    # When the learner checks out and pays on the fake Stripe page
    checkout = buyer.get(f"{demo.url}/courses/{SCRUM}/checkout/")
    assert "Refund policy" in checkout.text
    to_stripe = buyer.post(
        f"{demo.url}/courses/{SCRUM}/checkout/",
        data={"csrfmiddlewaretoken": csrf(checkout.text), "email": "newcomer@example.com"},
        headers={"Referer": checkout.url},
        allow_redirects=False,
    )
    assert to_stripe.status_code == 303
    pay_url = to_stripe.headers["Location"]
    assert pay_url.startswith(f"{demo.stripe.url}/pay/cs_test_")
    assert "Pay" in buyer.get(pay_url).text
    success = buyer.post(pay_url, data={"email": "newcomer@example.com"})

    # Then the enrollment is Ready with its LMS link (tasks ran in the site's process)
    assert success.url.startswith(f"{demo.url}/checkout/success/")
    status = success.text
    deadline = time.monotonic() + 30
    while "Ready" not in status and time.monotonic() < deadline:
        time.sleep(0.5)
        status = buyer.get(success.url).text
    assert "Ready" in status
    assert f'href="{demo.frappe.url}/lms/courses/{SCRUM}"' in status
    assert any(doc["course"] == SCRUM for doc in demo.frappe.enrollments.values())

    # And the demo learner, signed in, buys another course and finds it with its Stripe
    # receipt in "My orders"
    log_in(buyer, demo.url, "learner@maaledu.local", "maaledu-demo-learner")
    checkout = buyer.get(f"{demo.url}/courses/{SECOND}/checkout/")
    to_stripe = buyer.post(
        checkout.url,
        data={"csrfmiddlewaretoken": csrf(checkout.text)},
        headers={"Referer": checkout.url},
        allow_redirects=False,
    )
    assert to_stripe.status_code == 303, to_stripe.text[:2000]
    buyer.post(to_stripe.headers["Location"], data={"email": "learner@maaledu.local"})
    deadline = time.monotonic() + 30
    orders = buyer.get(f"{demo.url}/my/orders/").text
    while f"{demo.stripe.url}/i/" not in orders and time.monotonic() < deadline:
        time.sleep(0.5)
        orders = buyer.get(f"{demo.url}/my/orders/").text
    assert SECOND_TITLE in orders
    assert f"{demo.stripe.url}/i/" in orders  # the invoice's hosted page, as Stripe's
    assert f"{demo.stripe.url}/invoice/" in orders  # and its PDF

    # And the affiliate sees the commission (10% of $149.00)
    affiliate = requests.Session()
    log_in(affiliate, demo.url, "partner@maaledu.local", "maaledu-demo-partner")
    assert "$14.90" in affiliate.get(f"{demo.url}/affiliates/dashboard/").text

    # And staff refund it from the admin: the fake Stripe refunds, access ends
    staff = requests.Session()
    page = staff.get(f"{demo.url}/admin/login/")
    staff.post(
        f"{demo.url}/admin/login/",
        data={
            "csrfmiddlewaretoken": csrf(page.text),
            "username": "admin@maaledu.local",
            "password": "maaledu-demo-admin",
            "next": "/admin/",
        },
        headers={"Referer": page.url},
    )
    found = staff.get(f"{demo.url}/admin/enrollments/enrollment/?q=newcomer@example.com").text
    enrollment_id = re.search(r"/admin/enrollments/enrollment/(\d+)/change/", found).group(1)
    refund_url = f"{demo.url}/admin/enrollments/enrollment/{enrollment_id}/refund/"
    form = {"amount": "149.00", "reason": "Changed my mind (demo)"}
    preview = staff.post(
        refund_url,
        data={**form, "csrfmiddlewaretoken": csrf(staff.get(refund_url).text)},
        headers={"Referer": refund_url},
    )
    assert "This refund will:" in preview.text, preview.text[:3000]
    total = re.search(r'name="confirmed_total_cents" value="(\d+)"', preview.text).group(1)
    done = staff.post(
        refund_url,
        data={**form, "confirmed_total_cents": total, "csrfmiddlewaretoken": csrf(preview.text)},
        headers={"Referer": refund_url},
    )
    assert done.status_code == 200
    assert any(r.path == "/v1/refunds" for r in demo.stripe.requests)
    assert "This purchase was refunded." in buyer.get(success.url).text


def test_demo_refuses_to_start_with_production_settings(tmp_path: Path):
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "maaledu.settings.production"}

    done = subprocess.run(
        [sys.executable, "-m", "maaledu.demo", "--workdir", str(tmp_path / "demo"), "--port", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert "refuses to start" in done.stderr and "maaledu.settings.production" in done.stderr
    assert not (tmp_path / "demo").exists()  # nothing was created


@pytest.mark.parametrize("module", ["maaledu.settings.production", "mysite.settings_prod"])
def test_any_settings_but_development_ones_are_refused(module):
    with pytest.raises(DemoRefused):
        refuse_production({"DJANGO_SETTINGS_MODULE": module})


def test_demo_settings_refuse_a_real_database(tmp_path: Path):
    code = "import django; django.setup()"
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "maaledu.settings.demo",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/maaledu",
        "STRIPE_SECRET_KEY": "sk_test_demo",
    }

    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    assert "own SQLite file only" in done.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/courses/", "/grants/apply/", "/accounts/login/"])
def test_the_demo_banner_is_on_every_page_in_demo_mode_only(client, settings, path):
    assert "Demo payments:" not in client.get(path).text

    settings.DEMO_MODE = True
    cache.clear()  # the setting is fixed for a process's life; cached pages were made without
    assert "Demo payments:" in client.get(path).text
