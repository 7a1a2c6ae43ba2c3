from allauth.account.models import EmailAddress

from .models import normalize_email


def verified_email_of(user) -> str | None:
    """The user's verified login e-mail (lower-case), or None if it is not verified yet."""
    if not user.is_authenticated:
        return None
    # Compared here, not with ``email__iexact``: MongoDB's backend would make the address (which
    # may hold "+" or "(") a regular expression.
    verified = EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    wanted = normalize_email(user.email)
    return user.email if any(normalize_email(email) == wanted for email in verified) else None
