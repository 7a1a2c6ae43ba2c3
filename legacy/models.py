from django.db import models


class LegacyRecord(models.Model):
    """One document of the old MaalEdu database and the row it became here.

    The unique (collection, legacy id) pair is the import's idempotency guard: a document with a
    record is never imported again. Written last, in the same transaction as the rows it points
    at; on a database without transactions every earlier step finds its own row again by a
    natural key (e-mail, slug, Stripe session, coupon code), so a re-run finishes the work.
    Several documents may point at one row (duplicate learners merged into one account).
    Ids are strings so any primary key fits (integers here, ObjectIds on MongoDB).
    """

    collection = models.CharField(max_length=40)
    legacy_id = models.CharField("old _id", max_length=64)
    target_model = models.CharField(max_length=60, help_text='e.g. "accounts.user"')
    target_id = models.CharField(max_length=64)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["collection", "legacy_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "legacy_id"], name="legacy_record_once_per_document"
            ),
        ]
        indexes = [
            # The admin's "old _id" column: the record of a row.
            models.Index(fields=["target_model", "target_id"], name="legacy_record_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.collection}/{self.legacy_id} → {self.target_model}#{self.target_id}"
