from allauth.account.adapter import DefaultAccountAdapter
from django import forms

from maaledu.client_ip import client_ip

from .models import normalize_email


class AccountAdapter(DefaultAccountAdapter):
    """Store every address lower-cased, so ``Ada@X.com`` and ``ada@x.com`` are one account."""

    def clean_email(self, email: str) -> str:
        email = normalize_email(super().clean_email(email))
        if email.endswith(".invalid"):
            # Reserved (RFC 2606): it cannot receive mail, and deleted accounts' placeholders
            # live there.
            raise forms.ValidationError("This address cannot receive e-mail.")
        return email

    def get_client_ip(self, request) -> str:
        """allauth's per-IP limits count the address our trusted proxy header names."""
        return client_ip(request)
