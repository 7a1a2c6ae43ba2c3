from allauth.account.adapter import DefaultAccountAdapter

from .models import normalize_email


class AccountAdapter(DefaultAccountAdapter):
    """Store every address lower-cased, so ``Ada@X.com`` and ``ada@x.com`` are one account."""

    def clean_email(self, email: str) -> str:
        return normalize_email(super().clean_email(email))
