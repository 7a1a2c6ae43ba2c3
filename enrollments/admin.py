from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from common.admin import RecordAdmin
from common.money import format_money
from common.outbox_admin import emails_cell

from . import selectors, services
from .admin_forms import RefundForm
from .models import Enrollment, RefundRequest, StripeEvent
from .services import emails as email_keys


@admin.register(Enrollment)
class EnrollmentAdmin(RecordAdmin):
    list_display = (
        "id",
        "email",
        "course",
        "status",
        "kind",
        "amount_due_display",
        "needs_review",
        "created_at",
    )
    # LMS sync state: the LMS sync jobs admin (lms_sync), which enrollments does not import.
    list_filter = ("status", "kind", "needs_review", "course", "created_at")
    search_fields = ("email", "stripe_session_id", "stripe_payment_intent_id")
    list_select_related = ("course",)
    date_hierarchy = "created_at"
    readonly_fields = ["refund_link", "emails"]
    actions = ["refund_selected"]

    @admin.display(description="e-mails")
    def emails(self, enrollment: Enrollment) -> str:
        pk = enrollment.pk
        return emails_cell(
            keys=[
                email_keys.confirmation_key(pk),
                email_keys.payment_failed_key(pk),
                email_keys.dispute_alert_key(pk),
            ],
            prefixes=[email_keys.refund_notice_key(pk, "")],
        )

    def get_urls(self):
        refund = self.admin_site.admin_view(self.refund_view)
        return [
            path("<pk:enrollment_id>/refund/", refund, name="enrollments_enrollment_refund"),
            *super().get_urls(),
        ]

    @admin.display(description="refund")
    def refund_link(self, enrollment: Enrollment) -> str:
        if enrollment.status not in (Enrollment.Status.PAID, Enrollment.Status.REFUNDED):
            return "—"
        url = reverse("admin:enrollments_enrollment_refund", args=[enrollment.pk])
        return format_html('<a href="{}">Refund…</a>', url)

    @admin.action(description="Refund the selected enrollment…")
    def refund_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one enrollment to refund.", messages.ERROR)
            return None
        return redirect("admin:enrollments_enrollment_refund", enrollment_id=queryset.get().pk)

    def refund_view(self, request, enrollment_id: int):
        """Preview exactly what a refund does, then make it on confirmation (staff only)."""
        if not self.has_change_permission(request):
            return redirect("admin:index")
        enrollment = get_object_or_404(
            Enrollment.objects.select_related("course"), pk=enrollment_id
        )
        remaining = selectors.refundable_cents(enrollment)
        form = RefundForm(
            request.POST if request.method == "POST" else None,
            initial={"amount": f"{remaining / 100:.2f}"},
        )
        preview = None
        if request.method == "POST" and form.is_valid():
            confirmed_total = form.cleaned_data["confirmed_total_cents"]
            if confirmed_total is not None and selectors.refund_made(
                enrollment=enrollment, refunded_total_cents=confirmed_total
            ):
                self.message_user(request, "This refund was already made.", messages.WARNING)
                return redirect("admin:enrollments_enrollment_change", enrollment.pk)
            try:
                preview = selectors.preview_refund(
                    enrollment=enrollment,
                    amount_cents=form.amount_cents(),
                    revoke_access=form.cleaned_data["revoke_access"],
                    restore_coupon=form.cleaned_data["restore_coupon"],
                )
                if confirmed_total is not None:
                    services.refund_enrollment(
                        preview=preview,
                        confirmed_total_cents=confirmed_total,
                        reason=form.cleaned_data["reason"],
                        staff_user=request.user,
                    )
                    self.message_user(
                        request, f"Refunded {preview.amount_display}.", messages.SUCCESS
                    )
                    return redirect("admin:enrollments_enrollment_change", enrollment.pk)
            except services.RefundError as error:
                form.add_error(None, error.message)
                preview = None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund enrollment #{enrollment.pk}",
            "enrollment": enrollment,
            "remaining": format_money(remaining, enrollment.currency),
            "form": form,
            "preview": preview,
            "opts": self.model._meta,
        }
        return render(request, "admin/enrollments/refund.html", context)

    @admin.display(description="amount due", ordering="amount_due_cents")
    def amount_due_display(self, enrollment: Enrollment) -> str:
        return enrollment.amount_due_display


@admin.register(RefundRequest)
class RefundRequestAdmin(RecordAdmin):
    list_display = (
        "enrollment",
        "amount_cents",
        "revoke_access",
        "restore_coupon",
        "created_by",
        "created_at",
    )


@admin.register(StripeEvent)
class StripeEventAdmin(RecordAdmin):
    list_display = ("event_id", "type", "outcome", "result", "attempts", "received_at")
    list_filter = ("outcome", "type")
    search_fields = ("event_id",)
    actions = ["reprocess"]

    @admin.action(description="Reprocess selected events (safe: handlers are idempotent)")
    def reprocess(self, request, queryset) -> None:
        result = services.reprocess_stripe_events(
            event_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(request, f"Reprocessed {result.processed} event(s).", messages.SUCCESS)
        if result.failed:
            self.message_user(request, f"{result.failed} event(s) failed again.", messages.ERROR)
