from allauth.account.models import EmailAddress


def verified_email_of(user) -> str | None:
    """The user's verified login e-mail (lower-case), or None if it is not verified yet."""
    if not user.is_authenticated:
        return None
    verified = EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True)
    return user.email if verified.exists() else None
