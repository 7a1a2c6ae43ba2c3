from django.contrib import admin


class RecordAdmin(admin.ModelAdmin):
    """Admin for rows the services create and keep as a record (enrollments, events, commissions,
    payouts, incidents, sync jobs): staff read them and run actions, never add or delete by hand.
    Every field is read-only."""

    def get_readonly_fields(self, request, obj=None):
        return [
            *super().get_readonly_fields(request, obj),
            *(field.name for field in self.model._meta.fields),
        ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
