import logging

from allauth.account.adapter import DefaultAccountAdapter
from django import forms

from common.client_ip import client_ip
from common.mail import validate_deliverable_email

from .models import normalize_email

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    """Store every address lower-cased, so ``Ada@X.com`` and ``ada@x.com`` are one account."""

    def clean_email(self, email: str) -> str:
        """Sign-up, password reset and "add e-mail" all pass here: refuse what we cannot send to
        (the reserved ``.invalid`` domain included: deleted accounts' placeholders live there)."""
        validate_deliverable_email(email)
        email = normalize_email(super().clean_email(email))
        if email.endswith(".invalid"):
            raise forms.ValidationError("This address cannot receive e-mail.")
        return email

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """allauth sends its mails (confirmation, password reset) inside the request: a mail
        provider failing must not turn the page into a 500. The person can ask again."""
        try:
            super().send_mail(template_prefix, email, context)
        except Exception:
            logger.error("event=mail.send_failed template=%s", template_prefix)

    def set_password(self, user, password: str) -> None:
        """Saves the password alone: ``user`` is often ``request.user``, built from the row the
        web process keeps (``affiliates.signed_in``), and a whole-row save would write back
        whatever else that copy holds."""
        user.set_password(password)
        user.save(update_fields=["password"])

    def get_client_ip(self, request) -> str:
        """allauth's per-IP limits count the address our trusted proxy header names."""
        return client_ip(request)
