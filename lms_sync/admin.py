from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from common.admin import RecordAdmin
from common.logging import mask_email

from . import services
from .models import LmsSyncJob, LmsUserErasure

JOB_FIELDS = (
    "id",
    "enrollment",
    "learner",
    "course",
    "action",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "lms_enrollment_name",
    "synced_at",
    "lease_until",
    "progress",
    "progress_at",
    "current_lesson",
    "dispute",
    "created_at",
    "updated_at",
)


@admin.register(LmsSyncJob)
class LmsSyncJobAdmin(admin.ModelAdmin):
    """The LMS sync jobs; open LMS incidents are ``ops`` incidents (the ops page, its admin)."""

    list_display = (
        "id",
        "enrollment_id",
        "course",
        "learner",
        "status",
        "action",
        "attempts",
        "next_attempt_at",
        "short_error",
        "synced_at",
    )
    list_filter = ("status", "action", "enrollment__course")
    list_select_related = ("enrollment__course",)
    search_fields = ("=enrollment__email", "=lms_enrollment_name", "=enrollment__id")
    ordering = ("-next_attempt_at",)
    fields = JOB_FIELDS
    readonly_fields = JOB_FIELDS
    actions = ["retry_sync_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are made by lms_sync when an enrollment is paid, refunded, disputed

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="course", ordering="enrollment__course")
    def course(self, job: LmsSyncJob):
        return job.enrollment.course

    @admin.display(description="learner", ordering="enrollment__email")
    def learner(self, job: LmsSyncJob) -> str:
        return mask_email(job.enrollment.email)

    @admin.display(description="dispute")
    def dispute(self, job: LmsSyncJob) -> str:
        return job.enrollment.get_dispute_status_display()

    @admin.display(description="last error")
    def short_error(self, job: LmsSyncJob) -> str:
        return Truncator(job.last_error).chars(120)

    @admin.action(description="Retry LMS sync now", permissions=["change"])
    def retry_sync_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        retried = services.retry_now(job_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Retrying {retried} LMS sync job(s) now.", messages.SUCCESS)
        skipped = queryset.count() - retried
        if skipped:
            self.message_user(
                request,
                f"{skipped} job(s) skipped: already synced or being synced right now.",
                messages.WARNING,
            )


@admin.register(LmsUserErasure)
class LmsUserErasureAdmin(RecordAdmin):
    """Deleted accounts whose LMS user is being removed; a failed one needs staff in the LMS."""

    list_display = ("id", "status", "attempts", "next_attempt_at", "last_error", "done_at")
    list_filter = ("status",)
    ordering = ("-created_at",)
