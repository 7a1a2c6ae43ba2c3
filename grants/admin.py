from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

from common.outbox_admin import emails_cell

from .coupons import normalize_coupon_code, normalize_legacy_coupon_code
from .forms import ApproveGrantsForm, RejectGrantsForm
from .models import Grant
from .services import approve_grants, reject_grants, update_admin_notes
from .services import emails as email_keys

_COUPON_FIELDS = (
    "discount_percent",
    "coupon_code",
    "coupon_expires_at",
    "coupon_state",
    "holder_enrollment_id",
    "reserved_until",
    "redeemed_enrollment_id",
    "redeemed_at",
)
_EMAIL_FIELDS = ("emails",)
_APPLICATION_FIELDS = (
    "name",
    "email",
    "organisation",
    "country",
    "course",
    "statement",
    "created_at",
    "updated_at",
)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    """Staff review grants here. Every change goes through ``grants.services``: the actions
    approve or reject, and the change page edits only the internal notes."""

    list_display = (
        "email",
        "name",
        "course",
        "status",
        "discount_percent",
        "coupon_state",
        "coupon_expires_at",
        "created_at",
    )
    list_filter = ("status", "course", "coupon_state")
    search_fields = ("email", "name", "coupon_code")
    list_select_related = ("course",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    actions = ("approve_selected", "reject_selected")
    fieldsets = (
        ("Application", {"fields": _APPLICATION_FIELDS}),
        ("Review", {"fields": ("status", "reviewed_by", "reviewed_at", "admin_notes")}),
        ("Coupon", {"fields": _COUPON_FIELDS}),
        ("E-mails", {"fields": _EMAIL_FIELDS, "classes": ("collapse",)}),
    )
    readonly_fields = (
        *_APPLICATION_FIELDS,
        "status",
        "reviewed_by",
        "reviewed_at",
        *_COUPON_FIELDS,
        *_EMAIL_FIELDS,
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # applications come from the public form

    @admin.display(description="e-mails (outbox)")
    def emails(self, grant: Grant) -> str:
        return emails_cell(
            keys=[
                email_keys.received_key(grant.pk),
                email_keys.staff_notice_key(grant.pk),
                email_keys.decision_key(grant.pk),
            ]
        )

    def has_delete_permission(self, request: HttpRequest, obj: Grant | None = None) -> bool:
        return False  # the record of who was granted what, and which enrollment used it

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("grants.review_grant")

    def save_model(self, request: HttpRequest, obj: Grant, form, change: bool) -> None:
        update_admin_notes(grant_id=obj.pk, admin_notes=form.cleaned_data["admin_notes"])

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # A code pasted in any spelling ("maal 7kq9…") finds its grant.
        code = normalize_coupon_code(search_term) or normalize_legacy_coupon_code(search_term)
        if code:
            results |= queryset.filter(coupon_code=code)
        return results, may_have_duplicates

    @admin.action(description="Approve selected grants…", permissions=["review"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Grant]):
        form = ApproveGrantsForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            selected = list(queryset.values_list("pk", flat=True))
            approved = approve_grants(
                grant_ids=selected,
                reviewer=request.user,
                discount_percent=form.cleaned_data["discount_percent"],
                valid_days=form.cleaned_data["valid_days"],
            )
            self._report(request, done=approved, selected=len(selected), verb="Approved")
            return None
        return self._decision_page(
            request, queryset, form, action="approve_selected", title="Approve grants"
        )

    @admin.action(description="Reject selected grants…", permissions=["review"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Grant]):
        form = RejectGrantsForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            selected = list(queryset.values_list("pk", flat=True))
            rejected = reject_grants(
                grant_ids=selected, reviewer=request.user, note=form.cleaned_data["note"]
            )
            self._report(request, done=rejected, selected=len(selected), verb="Rejected")
            return None
        return self._decision_page(
            request, queryset, form, action="reject_selected", title="Reject grants"
        )

    def _report(self, request: HttpRequest, *, done: int, selected: int, verb: str) -> None:
        skipped = selected - done
        text = f"{verb} {_plural(done, 'grant')}."
        if skipped:
            text += f" Skipped {_plural(skipped, 'grant')} that {'was' if skipped == 1 else 'were'}"
            text += " not pending."
        self.message_user(request, text, messages.SUCCESS if done else messages.WARNING)

    def _decision_page(
        self, request: HttpRequest, queryset: QuerySet[Grant], form, *, action: str, title: str
    ) -> TemplateResponse:
        grants = list(queryset.select_related("course").order_by("-created_at"))
        pending = sum(1 for grant in grants if grant.status == Grant.Status.PENDING)
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "grants": grants,
            "pending": pending,
            "skipped": len(grants) - pending,
            "form": form,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": reverse("admin:grants_grant_changelist"),
        }
        return TemplateResponse(request, "grants/admin/decision.html", context)
