"""Imported rows show their old MaalEdu _id in the admin, list and change page alike."""

import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory, UserFactory
from enrollments.tests.factories import EnrollmentFactory
from grants.models import Grant
from legacy.models import LegacyRecord

pytestmark = pytest.mark.django_db

OLD_ID = "65f1c0ffee0000000000beef"


def imported(obj, collection: str, legacy_id: str = OLD_ID):
    LegacyRecord.objects.create(
        collection=collection,
        legacy_id=legacy_id,
        target_model=obj._meta.label_lower,
        target_id=str(obj.pk),
    )
    return obj


def test_imported_enrollments_show_their_old_id_in_list_and_change_page(
    client, django_assert_max_num_queries
):
    enrollment = imported(EnrollmentFactory(email="old@example.com"), "enrollments")
    for _ in range(5):
        EnrollmentFactory()
    client.force_login(StaffFactory(is_superuser=True))
    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:enrollments_enrollment_changelist"))
    assert response.status_code == 200
    assert "Old MaalEdu _id" in response.text
    assert response.text.count(OLD_ID) == 1
    page = client.get(reverse("admin:enrollments_enrollment_change", args=[enrollment.pk]))
    assert page.status_code == 200 and OLD_ID in page.text


def test_a_merged_learner_shows_the_first_old_id_and_a_new_user_none(client):
    user = imported(UserFactory(email="ann@example.com"), "users", "bbbb")
    imported(user, "users", "aaaa")
    other = UserFactory(email="new@example.com")
    client.force_login(StaffFactory(is_superuser=True))
    response = client.get(reverse("admin:accounts_user_change", args=[user.pk]))
    assert response.status_code == 200 and "aaaa" in response.text
    page = client.get(reverse("admin:accounts_user_change", args=[other.pk]))
    assert page.status_code == 200 and "Old MaalEdu _id" not in page.text


def test_grant_change_page_with_its_own_fieldsets_shows_the_old_id(client, django_user_model):
    from courses.tests.factories import CourseFactory

    grant = Grant.objects.create(
        name="Dave", email="dave@example.com", course=CourseFactory(), statement="x"
    )
    imported(grant, "grants")
    client.force_login(StaffFactory(is_superuser=True))
    page = client.get(reverse("admin:grants_grant_change", args=[grant.pk]))
    assert page.status_code == 200 and OLD_ID in page.text
    listing = client.get(reverse("admin:grants_grant_changelist"))
    assert OLD_ID in listing.text
