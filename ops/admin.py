from django.contrib import admin

from .models import Incident, ReconciliationRun


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """The history of alerts; incidents open and close by themselves (``ops.alerts``)."""

    list_display = ("kind", "opened_at", "resolved_at", "opened_notified_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))
    date_hierarchy = "opened_at"
    readonly_fields = [field.name for field in Incident._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(admin.ModelAdmin):
    list_display = ("__str__", "since", "finished_at", "unrepaired")
    list_filter = ("dry_run",)
    readonly_fields = [field.name for field in ReconciliationRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
