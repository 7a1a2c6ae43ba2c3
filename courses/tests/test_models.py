import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from common.money import format_money, percent_of, proportion_of
from common.testing.backends import skip_on_mongodb
from courses.models import Course
from courses.tests.factories import CourseFactory


@pytest.mark.parametrize(
    ("cents", "currency", "expected"),
    [
        (49900, "usd", "$499.00"),
        (5, "eur", "€0.05"),
        (123456789, "gbp", "£1,234,567.89"),
        (-1250, "usd", "-$12.50"),
    ],
)
def test_money_is_formatted_from_integer_cents(cents, currency, expected):
    assert format_money(cents, currency) == expected


@pytest.mark.parametrize(
    ("cents", "percent", "expected"),
    [
        (49900, 50, 24950),
        (49900, 10, 4990),
        (999, 10, 100),
        (994, 10, 99),
        (995, 10, 100),
        (1, 50, 1),
        (0, 100, 0),
        (49900, 100, 49900),
    ],
)
def test_percent_of_rounds_half_up_to_whole_cents(cents, percent, expected):
    assert percent_of(cents, percent) == expected


@pytest.mark.parametrize(
    ("cents", "num", "den", "expected"),
    [(4990, 1000, 4990, 1000), (499, 1, 2, 250), (499, 1, 3, 166), (100, 2, 3, 67), (0, 1, 1, 0)],
)
def test_proportion_of_rounds_half_up(cents, num, den, expected):
    assert proportion_of(cents, num, den) == expected


def test_negative_amounts_are_refused_by_the_money_helpers():
    with pytest.raises(ValueError):
        percent_of(-1, 10)
    with pytest.raises(ValueError):
        proportion_of(1, 1, 0)


@pytest.mark.django_db
def test_course_with_unknown_currency_or_negative_price_is_invalid():
    course = CourseFactory.build(currency="xyz", price_cents=-1, features=[""])

    with pytest.raises(ValidationError) as error:
        course.full_clean()

    assert {"currency", "price_cents", "features"} <= set(error.value.message_dict)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "rule"),
    [({"currency": "xyz"}, "course_currency_known"), ({"price_cents": -1}, "price_cents_positive")],
)
def test_saving_refuses_an_unknown_currency_or_a_negative_price(fields, rule):
    with pytest.raises(IntegrityError, match=rule):
        CourseFactory(**fields)

    assert not Course.objects.exists()


@pytest.mark.django_db
@skip_on_mongodb(
    "CHECK constraints are not enforced",
    proven_by="courses/tests/test_models.py::"
    "test_saving_refuses_an_unknown_currency_or_a_negative_price",
)
@pytest.mark.parametrize("fields", [{"currency": "xyz"}, {"price_cents": -1}])
def test_database_refuses_an_unknown_currency_or_a_negative_price(fields):
    """A raw write (``bulk_create`` skips ``Course.save()``) meets the check constraints."""
    with pytest.raises(IntegrityError), transaction.atomic():
        Course.objects.bulk_create([CourseFactory.build(**fields)])
