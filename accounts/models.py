from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from common.fields import user_primary_key


def normalize_email(email: str) -> str:
    """E-mail is the login and is compared case-insensitively: we store it lower-cased."""
    return (email or "").strip().lower()


# Addresses in the reserved .invalid top-level domain (RFC 2606) can never receive mail: a
# deleted account's address is replaced by one, and common.mail never sends to it.
ERASED_EMAIL_DOMAIN = "erased.invalid"


def erased_email(user_id: int) -> str:
    """The placeholder that replaces a deleted account's e-mail everywhere we keep records."""
    return f"deleted-user-{user_id}@{ERASED_EMAIL_DOMAIN}"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, email: str):
        return self.get(email=normalize_email(email))


class User(AbstractBaseUser, PermissionsMixin):
    if settings.ON_MONGODB:
        id = user_primary_key()
    email = models.EmailField("e-mail address", unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            # Backs up normalize_email: two spellings of one address can never both exist.
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        # Every write stores the normalised address, so the plain unique index on ``email`` is
        # the case-insensitive rule on every backend (MongoDB skips the expression index).
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)
