"""Any course change invalidates the cached catalog and course pages, whoever made it
(admin, shell, seed command, a migration); a new image gets its thumbnails made."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from common.queue import enqueue_on_commit

from .models import Course
from .services import bump_catalog_version


@receiver(post_save, sender=Course)
@receiver(post_delete, sender=Course)
def invalidate_catalog_cache(sender, **kwargs) -> None:
    bump_catalog_version()
    # A reader between save and commit could re-cache the old row: bump again once committed.
    transaction.on_commit(bump_catalog_version)


@receiver(post_save, sender=Course)
def make_cover_thumbnails(sender, instance: Course, raw: bool = False, **kwargs) -> None:
    image = instance.image.name if instance.image else ""
    if raw or image == instance.cover_source:
        return
    from .tasks import refresh_cover

    # A lost publish (Redis down) is redone by the hourly cover sweep.
    enqueue_on_commit(refresh_cover, instance.pk)
