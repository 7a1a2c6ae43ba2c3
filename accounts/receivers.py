"""Every saved or deleted user row bumps that user's version (``accounts.user_versions``):
the admin's user form, a password change, the sign-in's ``last_login``."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import user_versions
from .models import User


@receiver(post_save, sender=User, dispatch_uid="accounts.saved_user_changes_its_version")
@receiver(post_delete, sender=User, dispatch_uid="accounts.deleted_user_changes_its_version")
def user_row_written(sender, instance, **kwargs):
    user_versions.changed(instance.pk)
