"""Who may open what: every URL of the site, as six kinds of visitor.

``ROWS`` holds one or more rows per named URL outside the admin: the path (built from the test
world) and the answer each persona must get. Every URL of the Django admin follows one rule
instead (staff only) and is generated from the URLconf, so a new model admin is covered the day
it is registered. ``test_every_url_in_the_urlconf_has_an_access_row`` fails when a URL is added
without a row: decide who may open it, then add the row here.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from common.testing.backends import unused_primary_key
from courses.models import Course
from courses.tests.factories import CourseFactory
from enrollments.browser_checkouts import VISITOR_CHECKOUTS_KEY
from enrollments.models import Enrollment
from maaledu.tests.conftest import PERSONAS

pytestmark = pytest.mark.django_db

# An expectation: a status, or (status, the start of the Location it redirects to).
Expect = int | tuple[int, str]

LOGIN = (302, "/accounts/login/?next=")
ADMIN_LOGIN = (302, "/admin/login/?next=")
MISSING_ID = unused_primary_key()


def everyone(expect: Expect) -> dict[str, Expect]:
    return dict.fromkeys(PERSONAS, expect)


def logged_in(expect: Expect, *, anonymous: Expect = LOGIN) -> dict[str, Expect]:
    return {**everyone(expect), "anonymous": anonymous}


def only(owner: str) -> dict[str, Expect]:
    """The owner gets the page; everyone else, staff included, gets the same 404 as a missing id
    (staff look enrollments up in the admin), so the answer reveals nothing."""
    return {persona: 200 if persona == owner else 404 for persona in PERSONAS}


def owner_only(owner: str) -> dict[str, Expect]:
    """A signed-in owner's page: anonymous visitors are sent to log in, every other account
    gets the 404 of a missing id."""
    return {**only(owner), "anonymous": LOGIN}


def staff_only(staff: Expect) -> dict[str, Expect]:
    return {**everyone(ADMIN_LOGIN), "staff": staff}


@dataclass(frozen=True)
class Row:
    path: Callable  # world -> path
    expect: dict[str, Expect]
    label: str = ""


def _enrollment(attribute: str, name: str = "enrollments:enrollment_status"):
    return lambda w: reverse(name, args=[getattr(w, attribute).pk])


ROWS: dict[str, list[Row]] = {
    "home": [Row(lambda w: "/", everyone(200))],
    "healthz": [Row(lambda w: "/healthz", everyone(200))],
    # Course covers from MEDIA_ROOT (SERVE_MEDIA: development and tests): a missing file is a
    # 404, a way out of MEDIA_ROOT a 400.
    "media": [
        Row(lambda w: "/media/courses/none.jpg", everyone(404), "missing"),
        Row(lambda w: "/media/../manage.py", everyone(400), "traversal"),
    ],
    "readyz": [Row(lambda w: "/readyz", everyone(200))],
    # Off unless METRICS_TOKEN or METRICS_ALLOWED_IPS is set (the test turns both off).
    "metrics": [Row(lambda w: "/metrics", everyone(404))],
    "courses:catalog": [Row(lambda w: "/courses/", everyone(200))],
    "courses:detail": [
        Row(lambda w: f"/courses/{w.course.slug}/", everyone(200), "published"),
        Row(lambda w: f"/courses/{w.hidden_course.slug}/", everyone(404), "unpublished"),
    ],
    "enrollments:checkout": [
        Row(lambda w: f"/courses/{w.course.slug}/checkout/", everyone(200), "published"),
        Row(lambda w: f"/courses/{w.hidden_course.slug}/checkout/", everyone(404), "unpublished"),
    ],
    "enrollments:checkout_cancel": [
        Row(lambda w: f"/courses/{w.course.slug}/checkout/canceled/", everyone(200))
    ],
    "enrollments:checkout_success": [
        Row(
            lambda w: f"/checkout/success/?session_id={w.enrollment.stripe_session_id}",
            only("learner"),
            "learner's session",
        ),
        Row(
            lambda w: f"/checkout/success/?session_id={w.other_enrollment.stripe_session_id}",
            only("other_learner"),
            "other learner's session",
        ),
        Row(lambda w: "/checkout/success/?session_id=cs_test_nobody", everyone(404), "unknown"),
        Row(lambda w: "/checkout/success/", everyone(404), "no session id"),
    ],
    "enrollments:enrollment_status": [
        Row(_enrollment("enrollment"), only("learner"), "learner's"),
        Row(_enrollment("other_enrollment"), only("other_learner"), "other learner's"),
        Row(lambda w: f"/enrollments/{MISSING_ID}/", everyone(404), "missing"),
    ],
    "enrollments:enrollment_status_fragment": [
        Row(
            _enrollment("enrollment", "enrollments:enrollment_status_fragment"),
            only("learner"),
            "learner's",
        ),
        Row(
            _enrollment("other_enrollment", "enrollments:enrollment_status_fragment"),
            only("other_learner"),
            "other learner's",
        ),
        Row(lambda w: f"/enrollments/{MISSING_ID}/status/", everyone(404), "missing"),
    ],
    "enrollments:my_courses": [Row(lambda w: "/my/courses/", logged_in(200))],
    # Everyone signed in has an order list (their own); a receipt is its owner's only.
    "enrollments:my_orders": [Row(lambda w: "/my/orders/", logged_in(200))],
    "enrollments:order_receipt": [
        Row(_enrollment("enrollment", "enrollments:order_receipt"), owner_only("learner"), "own"),
        Row(
            _enrollment("other_enrollment", "enrollments:order_receipt"),
            owner_only("other_learner"),
            "other learner's",
        ),
        Row(lambda w: f"/my/orders/{MISSING_ID}/receipt/", logged_in(404), "missing"),
    ],
    # The account page, its data export (POST only) and deletion (POST with the password).
    "enrollments:account": [Row(lambda w: "/account/", logged_in(200))],
    "enrollments:account_export": [Row(lambda w: "/account/export/", logged_in(405))],
    "enrollments:account_delete": [Row(lambda w: "/account/delete/", logged_in(200))],
    "enrollments:account_deleted": [Row(lambda w: "/account/deleted/", everyone(200))],
    # POST only, signed by Stripe; see test_headers and test_hostile_input.
    "enrollments:stripe_webhook": [Row(lambda w: "/webhooks/stripe/", everyone(405))],
    "affiliates:index": [Row(lambda w: "/affiliates/", everyone((302, "/affiliates/dashboard/")))],
    "affiliates:join": [
        Row(
            lambda w: "/affiliates/join/",
            {
                **logged_in(200),
                "affiliate": (302, "/affiliates/dashboard/"),
                "other_affiliate": (302, "/affiliates/dashboard/"),
            },
        )
    ],
    "affiliates:dashboard": [
        Row(
            lambda w: "/affiliates/dashboard/",
            {**logged_in((302, "/affiliates/join/")), "affiliate": 200, "other_affiliate": 200},
        )
    ],
    "grants:apply": [Row(lambda w: "/grants/apply/", everyone(200))],
    # Shows only what this browser applied for (kept in its session); nothing without it.
    "grants:thanks": [Row(lambda w: "/grants/apply/thanks/", everyone((302, "/grants/apply/")))],
    # allauth. Logged-in visitors are sent away from login/signup; account pages need a login.
    "account_login": [Row(lambda w: "/accounts/login/", logged_in((302, "/"), anonymous=200))],
    "account_signup": [Row(lambda w: "/accounts/signup/", logged_in((302, "/"), anonymous=200))],
    "account_logout": [Row(lambda w: "/accounts/logout/", logged_in(200, anonymous=(302, "/")))],
    "account_inactive": [Row(lambda w: "/accounts/inactive/", everyone(200))],
    "account_reauthenticate": [Row(lambda w: "/accounts/reauthenticate/", logged_in(200))],
    "account_email": [Row(lambda w: "/accounts/email/", logged_in(200))],
    "account_email_verification_sent": [Row(lambda w: "/accounts/confirm-email/", everyone(200))],
    "account_confirm_email": [
        Row(lambda w: "/accounts/confirm-email/not-a-real-key/", everyone(200), "bogus key")
    ],
    "account_change_password": [Row(lambda w: "/accounts/password/change/", logged_in(200))],
    "account_set_password": [
        Row(lambda w: "/accounts/password/set/", logged_in((302, "/accounts/password/change/")))
    ],
    "account_reset_password": [Row(lambda w: "/accounts/password/reset/", everyone(200))],
    "account_reset_password_done": [Row(lambda w: "/accounts/password/reset/done/", everyone(200))],
    "account_reset_password_from_key": [
        Row(lambda w: "/accounts/password/reset/key/1-not-a-key/", everyone(200), "bogus key")
    ],
    "account_reset_password_from_key_done": [
        Row(lambda w: "/accounts/password/reset/key/done/", everyone(200))
    ],
    # Login by code is not enabled: the page sends everyone back.
    "account_confirm_login_code": [
        Row(
            lambda w: "/accounts/login/code/confirm/",
            logged_in((302, "/"), anonymous=(302, "/accounts/login/")),
        )
    ],
    # The ops page lives under /admin/ops/ and is staff only, like the admin (POST-only actions
    # answer a staff GET with 405).
    "ops:dashboard": [Row(lambda w: "/admin/ops/", staff_only(200))],
    "ops:retry_lms": [Row(lambda w: "/admin/ops/lms/retry/", staff_only(405))],
    "ops:reprocess_events": [Row(lambda w: "/admin/ops/stripe-events/reprocess/", staff_only(405))],
}


# --- Walking the URLconf ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    route: str  # the full route, e.g. "admin/auth/group/<path:object_id>/change/"
    name: str  # the namespaced name, or "admin:<route>" for an unnamed admin pattern
    in_admin: bool


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, route, inner)
        elif isinstance(entry, URLPattern):
            in_admin = namespace.split(":")[0] == "admin"
            if entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            else:
                name = f"{namespace}:{route}" if namespace else route
            yield Pattern(route=route, name=name, in_admin=in_admin)


def all_patterns() -> list[Pattern]:
    return list(_walk(get_resolver()))


_CONVERTER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>(?:[^()]|\([^()]*\))*)\)")


def _model_in(route: str):
    """The model an admin route belongs to: admin/<app_label>/<model_name>/…"""
    parts = route.split("/")
    if len(parts) >= 3 and parts[0] == "admin":
        try:
            return apps.get_model(parts[1], parts[2])
        except (LookupError, ValueError):
            return None
    return None


def _value_for(parameter: str, route: str, world) -> str:
    if parameter == "app_label":
        return "courses"
    if parameter == "url":
        return "no-such-admin-page/"
    if parameter == "content_type_id":
        return str(ContentType.objects.get_for_model(Course).pk)
    if parameter == "object_id" and route.startswith("admin/r/"):
        return str(world.course.pk)
    model = _model_in(route)
    assert model is not None, f"no model for parameter {parameter!r} of admin route {route!r}"
    obj = model._default_manager.order_by("pk").first()
    # A model the world has no row of (one added since) is still checked as staff only; staff
    # then get the admin's "does not exist" answer. Add a row to conftest.World to check more.
    return str(obj.pk) if obj is not None else str(MISSING_ID)


def concrete_path(route: str, world) -> str:
    """The route with each parameter filled in with a real object of the test world."""

    def converter(match: re.Match) -> str:
        return _value_for(match["name"], route, world)

    def group(match: re.Match) -> str:
        if match["name"] == "app_label":
            return "courses"
        return _value_for(match["name"], route, world)

    path = _GROUP.sub(group, route)
    path = _CONVERTER.sub(converter, path)
    return "/" + path.replace("^", "").replace("$", "")


ADMIN_PATTERNS = [pattern for pattern in all_patterns() if pattern.in_admin]


# --- The requests -----------------------------------------------------------------------------


def _check(response, expect: Expect, *, who: str, path: str) -> str | None:
    status, location = (expect, None) if isinstance(expect, int) else expect
    got = response.status_code
    if got != status:
        return f"{who} GET {path}: expected {status}, got {got}"
    if location is not None and not response["Location"].startswith(location):
        return f"{who} GET {path}: expected a redirect to {location}…, got {response['Location']}"
    return None


@pytest.fixture
def clients(world, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    return {persona: world.client_for(persona) for persona in PERSONAS}


def test_every_url_in_the_urlconf_has_an_access_row():
    names = {pattern.name for pattern in all_patterns() if not pattern.in_admin}

    missing = sorted(names - ROWS.keys())
    stale = sorted(ROWS.keys() - names)

    assert not missing, f"URLs without an access row in {__name__}.ROWS: {missing}"
    assert not stale, f"rows for URLs that no longer exist: {stale}"
    assert len(ADMIN_PATTERNS) > 50  # every ModelAdmin's URLs were found, not just the index


@pytest.mark.parametrize(
    ("name", "row"),
    [(name, row) for name, rows in ROWS.items() for row in rows],
    ids=[
        f"{name}[{row.label}]" if row.label else name for name, rows in ROWS.items() for row in rows
    ],
)
def test_each_persona_gets_the_expected_answer(world, clients, name, row):
    path = row.path(world)
    if "?" not in path:
        assert resolve(path.split("?")[0]).view_name == name, f"{path} is not {name}"
    problems = []
    for persona in PERSONAS:
        response = clients[persona].get(path)
        problem = _check(response, row.expect[persona], who=persona, path=path)
        if problem:
            problems.append(problem)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("pattern", ADMIN_PATTERNS, ids=[p.route for p in ADMIN_PATTERNS])
def test_every_admin_url_is_staff_only(world, clients, pattern):
    path = concrete_path(pattern.route, world)
    resolved = resolve(path).route.replace("^", "")
    assert resolved == pattern.route.replace("^", ""), f"{path} resolves to {resolved}"
    problems = []
    for persona in PERSONAS:
        response = clients[persona].get(path)
        if persona == "staff":
            problem = _staff_problem(response, pattern, path)
        elif pattern.name == "admin:login":
            problem = _check(response, 200, who=persona, path=path)
        elif pattern.name == "admin:logout":
            # Non-staff are sent to the index, which sends them to the login page.
            problem = _check(response, (302, "/admin/"), who=persona, path=path)
        else:
            problem = _check(response, (302, f"/admin/login/?next={path}"), who=persona, path=path)
        if problem:
            problems.append(problem)
    assert not problems, "\n".join(problems)


# Staff get these exactly; other admin pages must at least answer without an error.
_STAFF_EXACT = {
    "admin:index": 200,
    "admin:login": (302, "/admin/"),
    "admin:logout": 405,  # Django's logout is POST only
    "admin:jsi18n": 200,
    "admin:app_list": 200,
    "admin:password_change": 200,
}


def _staff_problem(response, pattern: Pattern, path: str) -> str | None:
    if pattern.name in _STAFF_EXACT:
        return _check(response, _STAFF_EXACT[pattern.name], who="staff", path=path)
    suffix = pattern.name.rsplit("_", 1)[-1]
    if suffix == "changelist" or (suffix in ("change", "history") and str(MISSING_ID) not in path):
        return _check(response, 200, who="staff", path=path)
    if response.status_code >= 500:
        return f"staff GET {path}: server error {response.status_code}"
    if response.status_code not in (200, 301, 302, 403, 404, 405):
        return f"staff GET {path}: unexpected {response.status_code}"
    if response.status_code in (301, 302) and "/admin/login/" in response["Location"]:
        return f"staff GET {path}: sent to the admin login"
    return None


# --- What the pages show ----------------------------------------------------------------------


def test_a_checkout_browser_sees_its_own_status_page_and_no_other_browser_does(world):
    # The browser that started a checkout remembers its enrollment in its session.
    buyer = Client()
    session = buyer.session
    session[VISITOR_CHECKOUTS_KEY] = [str(world.enrollment.pk)]
    session.save()
    stranger = Client()
    status = reverse("enrollments:enrollment_status", args=[world.enrollment.pk])
    other_status = reverse("enrollments:enrollment_status", args=[world.other_enrollment.pk])
    success = f"/checkout/success/?session_id={world.enrollment.stripe_session_id}"

    assert buyer.get(status).status_code == 200
    assert buyer.get(success).status_code == 200
    assert buyer.get(other_status).status_code == 404
    assert stranger.get(status).status_code == 404
    assert stranger.get(success).status_code == 404


def test_my_courses_lists_only_the_learners_own_courses(world):
    page = world.client_for("learner").get("/my/courses/").text
    other_page = world.client_for("other_learner").get("/my/courses/").text

    assert world.course.title in page
    assert world.other_enrollment.course.title not in page
    assert world.other_enrollment.course.title in other_page
    assert world.course.title not in other_page


def test_the_affiliate_dashboard_shows_only_the_owners_data(world):
    mine = world.client_for("affiliate").get("/affiliates/dashboard/").text
    theirs = world.client_for("other_affiliate").get("/affiliates/dashboard/").text

    own = (world.affiliate.referral_code, world.payout.reference, world.course.title)
    other = (
        world.other_affiliate.referral_code,
        world.other_payout.reference,
        world.other_commission.course.title,
    )
    for text in own:
        assert text in mine
        assert text not in theirs
    for text in other:
        assert text in theirs
        assert text not in mine


def test_the_affiliate_dashboard_has_no_parameter_that_selects_another_affiliate(world):
    client = world.client_for("affiliate")
    other = world.other_affiliate

    for query in (
        f"?affiliate={other.pk}",
        f"?affiliate_id={other.pk}",
        f"?id={other.pk}",
        f"?user={other.user_id}",
        f"?ref={other.referral_code}",
        f"?code={other.referral_code}",
    ):
        page = client.get("/affiliates/dashboard/" + query).text
        assert world.other_payout.reference not in page, query
        assert world.other_commission.course.title not in page, query


def test_the_grant_thanks_page_shows_only_this_browsers_application(world):
    applicant, stranger = Client(), Client()
    applicant_session = applicant.session
    applicant_session["grants:applied"] = {"email": "grant.seeker@example.com", "course": "X"}
    applicant_session.save()

    assert "grant.seeker@example.com" in applicant.get("/grants/apply/thanks/").text
    response = stranger.get("/grants/apply/thanks/")
    assert response.status_code == 302
    assert "grant.seeker" not in response.text


def test_typing_someone_elses_email_at_checkout_does_not_hand_over_their_open_checkout(
    world, fake_stripe
):
    # Given: a learner, logged in, has an open Stripe checkout for a course.
    course = CourseFactory(slug="open-checkout", price_cents=10_000)
    learner = world.client_for("other_learner")
    opened = learner.post(f"/courses/{course.slug}/checkout/", {"email": "ignored@example.com"})
    assert opened.status_code == 303
    enrollment = Enrollment.objects.get(course=course)

    # When: a stranger types that learner's e-mail into the same checkout form.
    stranger = Client()
    response = stranger.post(
        f"/courses/{course.slug}/checkout/", {"email": world.other_learner.email}
    )

    # Then: the stranger neither receives the learner's Stripe checkout page nor gains the
    # learner's enrollment pages.
    assert response.get("Location") != opened["Location"], (
        "the learner's own Stripe Checkout Session URL was handed to a stranger"
    )
    status = reverse("enrollments:enrollment_status", args=[enrollment.pk])
    assert stranger.get(status).status_code == 404
    assert (
        stranger.get(f"/checkout/success/?session_id={enrollment.stripe_session_id}").status_code
        == 404
    )
