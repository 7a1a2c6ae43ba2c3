"""Every saved or deleted affiliate row bumps its user's version (``accounts.user_versions``):
the row is kept in memory with the signed-in user (``signed_in``), and the admin's affiliate
form (payout details, rate, status) must show on the affiliate's next page."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts import user_versions

from .models import Affiliate


@receiver(post_save, sender=Affiliate, dispatch_uid="affiliates.saved_affiliate_changes_user")
@receiver(post_delete, sender=Affiliate, dispatch_uid="affiliates.deleted_affiliate_changes_user")
def affiliate_row_written(sender, instance, **kwargs):
    user_versions.changed(instance.user_id)
