from django.contrib import admin, messages

from . import services
from .models import Enrollment, StripeEvent


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "email",
        "course",
        "status",
        "kind",
        "amount_due_display",
        "lms_status",
        "needs_review",
        "created_at",
    )
    list_filter = ("status", "kind", "needs_review", "lms_status", "course", "created_at")
    search_fields = ("email", "stripe_session_id", "stripe_payment_intent_id")
    list_select_related = ("course",)
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Enrollment._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # enrollments are made by checkout and grants, never by hand

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the money trail is kept

    @admin.display(description="amount due", ordering="amount_due_cents")
    def amount_due_display(self, enrollment: Enrollment) -> str:
        return enrollment.amount_due_display


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "type", "outcome", "result", "attempts", "received_at")
    list_filter = ("outcome", "type")
    search_fields = ("event_id",)
    readonly_fields = [field.name for field in StripeEvent._meta.fields]
    actions = ["reprocess"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Reprocess selected events (safe: handlers are idempotent)")
    def reprocess(self, request, queryset) -> None:
        done = failed = 0
        for stripe_event in queryset:
            try:
                services.process_stripe_event(stripe_event)
            except Exception:
                failed += 1
            else:
                done += 1
        self.message_user(request, f"Reprocessed {done} event(s).", messages.SUCCESS)
        if failed:
            self.message_user(request, f"{failed} event(s) failed again.", messages.ERROR)
