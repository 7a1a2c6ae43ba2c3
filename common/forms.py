"""Form fields shared by the apps."""

from django import forms
from django.core.exceptions import ValidationError


class ModelChoiceField(forms.ModelChoiceField):
    """Django's ``ModelChoiceField``, whose "not one of the choices" error also covers a value
    that cannot be a primary key at all: a MongoDB ObjectId field refuses ``"abc"`` with a
    ``ValidationError`` of its own (an integer key raises ``ValueError``, which Django already
    turns into ``invalid_choice``)."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as error:
            if error.code == "invalid_choice":
                raise
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            ) from None
