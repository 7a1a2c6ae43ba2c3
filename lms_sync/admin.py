from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from common.admin import RecordAdmin
from common.logging import mask_email
from enrollments.models import Enrollment

from . import selectors, services
from .models import LmsAlert, LmsSyncJob, LmsUserErasure

JOB_FIELDS = (
    "id",
    "email",
    "course",
    "status",
    "lms_status",
    "lms_action",
    "lms_attempts",
    "lms_next_attempt_at",
    "lms_last_error",
    "lms_enrollment_name",
    "lms_synced_at",
    "lms_lease_until",
    "lms_progress",
    "lms_progress_at",
    "lms_current_lesson",
    "dispute_status",
)


@admin.register(LmsSyncJob)
class LmsSyncJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "course",
        "learner",
        "lms_status",
        "lms_action",
        "lms_attempts",
        "lms_next_attempt_at",
        "last_error",
        "lms_synced_at",
    )
    list_filter = ("lms_status", "lms_action", "course")
    list_select_related = ("course",)
    search_fields = ("=email", "=lms_enrollment_name")
    ordering = ("-lms_next_attempt_at",)
    fields = JOB_FIELDS
    readonly_fields = JOB_FIELDS
    actions = ["retry_sync_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).exclude(lms_status=Enrollment.LmsStatus.NOT_REQUIRED)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are made by the update that makes an enrollment paid or refunded

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        for alert in selectors.open_alerts():
            self.message_user(
                request,
                f"Open LMS alert since {alert.opened_at:%Y-%m-%d %H:%M} UTC: {alert}. "
                f"{alert.detail}",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    @admin.display(description="learner", ordering="email")
    def learner(self, job: LmsSyncJob) -> str:
        return mask_email(job.email)

    @admin.display(description="last error")
    def last_error(self, job: LmsSyncJob) -> str:
        return Truncator(job.lms_last_error).chars(120)

    @admin.action(description="Retry LMS sync now", permissions=["change"])
    def retry_sync_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        retried = services.retry_now(enrollment_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Retrying {retried} LMS sync job(s) now.", messages.SUCCESS)
        skipped = queryset.count() - retried
        if skipped:
            self.message_user(
                request,
                f"{skipped} job(s) skipped: already synced or being synced right now.",
                messages.WARNING,
            )


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(LmsAlert)
class LmsAlertAdmin(RecordAdmin):
    """Opened by failing sync jobs, resolved by the next successful one."""

    list_display = ("kind", "key", "detail", "opened_at", "notified_at", "resolved_at")
    list_filter = (OpenFilter, "kind")


@admin.register(LmsUserErasure)
class LmsUserErasureAdmin(RecordAdmin):
    """Deleted accounts whose LMS user is being removed; a failed one needs staff in the LMS."""

    list_display = ("id", "status", "attempts", "next_attempt_at", "last_error", "done_at")
    list_filter = ("status",)
    ordering = ("-created_at",)
