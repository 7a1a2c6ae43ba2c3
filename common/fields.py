"""Model fields whose database type follows the backend (settings/database.py).

Kept to primary keys: integers on SQL databases, ObjectIds on MongoDB. Each backend has its own
migrations, so a field built here is written into each with that backend's type.
"""

from bson import ObjectId
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django_mongodb_backend.fields import ObjectIdField


def primary_key_reference(**options) -> models.Field:
    """Another app's primary key, held without a foreign key (so imports run one way): a
    positive integer on SQL databases, an ObjectId on MongoDB."""
    if settings.ON_MONGODB:
        return ObjectIdField(**options)
    return models.PositiveBigIntegerField(**options)


class InvalidObjectId(ValidationError, ValueError):
    """A malformed ObjectId, catchable as either: Django's forms catch ValidationError, allauth's
    reset-link check catches ValueError."""


class UserObjectIdField(ObjectIdField):
    """The user's primary key on MongoDB.

    ObjectIdAutoField subclasses IntegerField, so allauth would encode it with ``int()`` into
    password-reset links; a plain ObjectId key takes allauth's ``str()`` path instead, and a
    forged link's malformed id is a ValueError there, so the form says "invalid link"."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as error:
            raise InvalidObjectId(error.messages[0], code="invalid") from None


def user_primary_key() -> UserObjectIdField:
    """The user model's ``id`` on MongoDB (elsewhere the default auto field)."""
    return UserObjectIdField(primary_key=True, default=ObjectId, editable=False, db_column="_id")
