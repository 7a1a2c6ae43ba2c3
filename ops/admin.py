from django.contrib import admin

from common.admin import RecordAdmin
from common.outbox_admin import emails_cell

from .alerts import OPENED_EMAIL, RESOLVED_EMAIL, email_key
from .models import Incident, ReconciliationRun


@admin.register(Incident)
class IncidentAdmin(RecordAdmin):
    """The history of alerts; incidents open and close by themselves (``ops.alerts``)."""

    list_display = ("kind", "opened_at", "resolved_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))
    date_hierarchy = "opened_at"
    readonly_fields = ("emails",)

    @admin.display(description="e-mails (outbox)")
    def emails(self, incident: Incident) -> str:
        return emails_cell(
            keys=[
                email_key(incident.pk, OPENED_EMAIL),
                email_key(incident.pk, RESOLVED_EMAIL),
            ]
        )


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(RecordAdmin):
    list_display = ("__str__", "since", "finished_at", "unrepaired")
    list_filter = ("dry_run",)
