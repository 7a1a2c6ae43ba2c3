from allauth.account.adapter import DefaultAccountAdapter

from maaledu.client_ip import client_ip

from .models import normalize_email


class AccountAdapter(DefaultAccountAdapter):
    """Store every address lower-cased, so ``Ada@X.com`` and ``ada@x.com`` are one account."""

    def clean_email(self, email: str) -> str:
        return normalize_email(super().clean_email(email))

    def get_client_ip(self, request) -> str:
        """allauth's per-IP limits count the address our trusted proxy header names."""
        return client_ip(request)
