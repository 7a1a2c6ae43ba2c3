"""The status machine is declared once (``transitions.ALLOWED``) and the writes check it."""

import pytest
from django.utils import timezone

from enrollments.models import Enrollment
from enrollments.services import transitions
from enrollments.services.transitions import ALLOWED, IllegalTransition, transition
from enrollments.tests.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db

Status = Enrollment.Status


def test_the_table_covers_every_status_and_names_only_statuses():
    assert set(ALLOWED) == set(Status.values)
    for targets in ALLOWED.values():
        assert targets <= set(Status.values)
    # Every status but the first is reachable, and only refunded is final.
    reachable = set().union(*ALLOWED.values())
    assert reachable == set(Status.values) - {Status.PENDING}
    assert [status for status, targets in ALLOWED.items() if not targets] == [Status.REFUNDED]


def test_sources_of_reads_the_table():
    assert set(transitions.sources_of(Status.PAID)) == {
        Status.PENDING,
        Status.FAILED,
        Status.EXPIRED,
        Status.CANCELED,
    }
    assert transitions.sources_of(Status.REFUNDED) == [Status.PAID]
    assert transitions.sources_of(Status.PENDING) == []


ILLEGAL = [
    (source, target)
    for source in Status.values
    for target in Status.values
    if target not in ALLOWED[source]
]


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_an_illegal_transition_is_refused_and_changes_nothing(source, target):
    enrollment = EnrollmentFactory(status=source, paid_at=timezone.now())
    before = Enrollment.objects.filter(pk=enrollment.pk).values().get()

    with pytest.raises(IllegalTransition):
        transition(enrollment.pk, source, target, review_reason="should not be written")

    assert Enrollment.objects.filter(pk=enrollment.pk).values().get() == before


def test_a_set_of_sources_is_refused_if_any_of_them_is_illegal():
    enrollment = EnrollmentFactory(status=Status.PENDING)

    with pytest.raises(IllegalTransition):
        transition(enrollment.pk, [Status.PENDING, Status.REFUNDED], Status.PAID)

    enrollment.refresh_from_db()
    assert enrollment.status == Status.PENDING


def test_a_status_field_other_than_the_target_is_refused():
    enrollment = EnrollmentFactory(status=Status.PENDING)

    with pytest.raises(IllegalTransition):
        transition(enrollment.pk, Status.PENDING, Status.CANCELED, status=Status.PAID)

    enrollment.refresh_from_db()
    assert enrollment.status == Status.PENDING


@pytest.mark.parametrize(
    ("source", "target"),
    [(source, target) for source, targets in ALLOWED.items() for target in sorted(targets)],
)
def test_a_legal_transition_moves_the_row_once(source, target):
    enrollment = EnrollmentFactory(status=source)

    assert transition(enrollment.pk, source, target) is True
    assert transition(enrollment.pk, source, target) is False  # no longer in ``source``

    enrollment.refresh_from_db()
    assert enrollment.status == target
