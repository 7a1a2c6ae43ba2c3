"""The outbox in the admin: what was sent, what is waiting, and what failed (with its error)."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from . import outbox
from .admin import RecordAdmin
from .models import OutboxEmail


@admin.register(OutboxEmail)
class OutboxEmailAdmin(RecordAdmin):
    list_display = ("key", "template", "status", "attempts", "created_at", "sent_at", "last_error")
    list_filter = ("status", "template")
    search_fields = ("key", "to")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ("retry_failed",)

    @admin.action(description="Retry the selected failed e-mails now")
    def retry_failed(self, request, queryset):
        retried = outbox.retry_now(queryset.values_list("key", flat=True))
        self.message_user(request, f"{retried} failed e-mail(s) queued again.", messages.SUCCESS)


def emails_cell(*, keys=(), prefixes=()) -> str:
    """For a domain admin's read-only field: the outbox e-mails about one row, each with its
    status, linked to its outbox page; "—" when none is owed."""
    rows = outbox.emails_about(keys=keys, prefixes=prefixes)
    if not rows:
        return "—"
    return format_html_join(
        mark_safe("<br>"),
        '<a href="{}">{}</a>: {}',
        (
            (
                reverse("admin:common_outboxemail_change", args=[row.pk]),
                row.key,
                f"sent {row.sent_at:%Y-%m-%d %H:%M} UTC" if row.sent_at else row.status,
            )
            for row in rows
        ),
    )
