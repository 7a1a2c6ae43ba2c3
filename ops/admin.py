from django.contrib import admin

from common.admin import RecordAdmin

from .models import Incident, ReconciliationRun


@admin.register(Incident)
class IncidentAdmin(RecordAdmin):
    """The history of alerts; incidents open and close by themselves (``ops.alerts``)."""

    list_display = ("kind", "opened_at", "resolved_at", "opened_notified_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))
    date_hierarchy = "opened_at"


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(RecordAdmin):
    list_display = ("__str__", "since", "finished_at", "unrepaired")
    list_filter = ("dry_run",)
