from allauth.account.forms import SignupForm as AllauthSignupForm
from django.db import IntegrityError

from common.transactions import atomic


class EmailTakenMeanwhile(Exception):
    """Another sign-up with the same address was saved between validation and insert."""


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form; the unique e-mail index, not the earlier lookup, decides who
    gets an address two people (or one double click) submit at once."""

    def try_save(self, request):
        try:
            with atomic():  # a savepoint: the request goes on after losing
                return super().try_save(request)
        except IntegrityError:
            raise EmailTakenMeanwhile from None
