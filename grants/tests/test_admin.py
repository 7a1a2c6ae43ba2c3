"""Staff review grants in the Django admin; the actions go through the services."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from accounts.tests.factories import UserFactory
from grants.models import Grant
from grants.tests.factories import GrantFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/grants/grant/"


def _choose_action(client, action, grants):
    return client.post(
        CHANGELIST,
        {"action": action, "index": "0", "_selected_action": [grant.pk for grant in grants]},
    )


def _confirm(client, action, grants, **fields):
    return client.post(
        CHANGELIST,
        {
            "action": action,
            "_selected_action": [grant.pk for grant in grants],
            "confirm": "yes",
            **fields,
        },
        follow=True,
    )


def test_the_changelist_lists_filters_and_searches_grants(staff_client):
    GrantFactory(email="ada@example.com", name="Ada Lovelace")
    GrantFactory(email="grace@example.com", name="Grace Hopper", rejected=True)

    everything = staff_client.get(CHANGELIST)
    pending = staff_client.get(CHANGELIST, {"status__exact": "pending"})
    searched = staff_client.get(CHANGELIST, {"q": "grace"})

    assert everything.status_code == 200
    assert "ada@example.com" in everything.text and "grace@example.com" in everything.text
    assert [g.email for g in pending.context["cl"].result_list] == ["ada@example.com"]
    assert [g.email for g in searched.context["cl"].result_list] == ["grace@example.com"]
    filters = {spec.title for spec in everything.context["cl"].filter_specs}
    assert filters == {"status", "course", "coupon state"}


def test_a_coupon_code_pasted_in_any_spelling_finds_its_grant(staff_client):
    grant = GrantFactory(approved=True)
    GrantFactory(approved=True)
    typed = grant.coupon_code.replace("-", " ").lower()

    response = staff_client.get(CHANGELIST, {"q": typed})

    assert list(response.context["cl"].result_list) == [grant]


def test_approve_asks_for_discount_and_validity_then_approves_every_pending_selected(
    staff_client, settings, django_capture_on_commit_callbacks
):
    settings.GRANT_COUPON_VALID_DAYS = 21
    pending = GrantFactory.create_batch(2)
    already = GrantFactory(approved=True)
    selected = [*pending, already]

    page = _choose_action(staff_client, "approve_selected", selected)

    assert page.status_code == 200
    assert "3 selected: 2 pending, 1 already decided or expired" in page.text
    assert page.context["form"]["valid_days"].value() == 21
    assert Grant.objects.filter(status="pending").count() == 2  # nothing changed yet

    with django_capture_on_commit_callbacks(execute=True):
        done = _confirm(
            staff_client, "approve_selected", selected, discount_percent="75", valid_days="10"
        )

    assert done.redirect_chain[-1][0] == CHANGELIST
    assert "Approved 2 grants. Skipped 1 grant that was not pending." in done.text
    reviewer = done.context["user"]
    for grant in pending:
        grant.refresh_from_db()
        assert (grant.status, grant.discount_percent, grant.reviewed_by) == (
            "approved",
            75,
            reviewer,
        )
    assert sorted(message.to[0] for message in mail.outbox) == sorted(g.email for g in pending)
    for message in mail.outbox:
        grant = next(g for g in pending if g.email == message.to[0])
        assert grant.coupon_code in message.body
        assert "75%" in message.body


def test_an_invalid_discount_is_asked_again_and_nothing_is_approved(staff_client):
    grant = GrantFactory()

    response = _confirm(
        staff_client, "approve_selected", [grant], discount_percent="5", valid_days="30"
    )

    assert response.status_code == 200
    assert "greater than or equal to 10" in response.text
    grant.refresh_from_db()
    assert grant.status == Grant.Status.PENDING


def test_approving_again_from_the_admin_changes_nothing_and_sends_nothing(
    staff_client, django_capture_on_commit_callbacks
):
    grant = GrantFactory(approved=True)
    snapshot = Grant.objects.filter(pk=grant.pk).values().get()

    with django_capture_on_commit_callbacks(execute=True):
        response = _confirm(
            staff_client, "approve_selected", [grant], discount_percent="100", valid_days="30"
        )

    assert "Approved 0 grants. Skipped 1 grant that was not pending." in response.text
    assert Grant.objects.filter(pk=grant.pk).values().get() == snapshot
    assert mail.outbox == []


def test_reject_asks_for_a_note_then_rejects_and_sends_one_notice_each(
    staff_client, django_capture_on_commit_callbacks
):
    grants = GrantFactory.create_batch(2)

    page = _choose_action(staff_client, "reject_selected", grants)
    missing_note = _confirm(staff_client, "reject_selected", grants, note="")
    with django_capture_on_commit_callbacks(execute=True):
        done = _confirm(staff_client, "reject_selected", grants, note="Outside the programme.")

    assert 'name="note"' in page.text
    assert "This field is required." in missing_note.text
    assert "Rejected 2 grants." in done.text
    for grant in grants:
        grant.refresh_from_db()
        assert (grant.status, grant.admin_notes) == ("rejected", "Outside the programme.")
    assert len(mail.outbox) == 2


def test_the_change_page_edits_only_the_admin_notes(staff_client):
    grant = GrantFactory(approved=True)
    url = reverse("admin:grants_grant_change", args=[grant.pk])

    page = staff_client.get(url)
    response = staff_client.post(
        url,
        {"admin_notes": "Checked the statement.", "status": "rejected", "discount_percent": 100},
    )

    assert page.status_code == 200
    assert grant.coupon_code in page.text
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.admin_notes == "Checked the statement."
    assert (grant.status, grant.discount_percent) == ("approved", 50)


def test_grants_cannot_be_added_or_deleted_in_the_admin(staff_client):
    grant = GrantFactory()

    assert staff_client.get(reverse("admin:grants_grant_add")).status_code == 403
    assert (
        staff_client.get(reverse("admin:grants_grant_delete", args=[grant.pk])).status_code == 403
    )


def test_staff_without_the_review_permission_cannot_decide(client):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_grant"),
        Permission.objects.get(codename="change_grant"),
    )
    client.force_login(viewer)
    grant = GrantFactory()

    listing = client.get(CHANGELIST)
    attempt = _confirm(client, "approve_selected", [grant], discount_percent="50", valid_days="9")

    assert listing.status_code == 200
    assert "approve_selected" not in listing.text
    assert attempt.status_code == 200
    grant.refresh_from_db()
    assert grant.status == Grant.Status.PENDING


@pytest.mark.parametrize("who", ["anonymous", "learner"])
def test_non_staff_cannot_reach_the_grants_admin(client, who):
    if who == "learner":
        client.force_login(UserFactory())
    grant = GrantFactory()

    listing = client.get(CHANGELIST)
    action = _confirm(client, "approve_selected", [grant], discount_percent="50", valid_days="9")

    assert listing.status_code == 302
    assert listing["Location"].startswith("/admin/login/")
    assert action.redirect_chain[0][0].startswith("/admin/login/")
    grant.refresh_from_db()
    assert grant.status == Grant.Status.PENDING
