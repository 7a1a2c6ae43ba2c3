"""The admin shows, on every imported row, the old MaalEdu ``_id`` it came from.

The apps below must not import ``legacy``, so this module adds the column to their registered
admins itself (it is loaded last: ``legacy`` is the last app). The id comes from a subquery
annotation on the admin's own queryset: no query per row.
"""

from django.contrib import admin
from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Cast

from .models import LegacyRecord

# The models the import writes whole rows of.
IMPORTED_MODELS = (
    "accounts.user",
    "courses.course",
    "affiliates.affiliate",
    "affiliates.payout",
    "enrollments.enrollment",
    "grants.grant",
)
FIELD = "old_maaledu_id"


@admin.register(LegacyRecord)
class LegacyRecordAdmin(admin.ModelAdmin):
    list_display = ("collection", "legacy_id", "target_model", "target_id", "imported_at")
    list_filter = ("collection", "target_model")
    search_fields = ("legacy_id", "target_id")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def with_legacy_id(queryset):
    """The queryset with each row's old ``_id`` (the first, for merged learners) as an
    annotation; None for rows not imported."""
    records = LegacyRecord.objects.filter(
        target_model=queryset.model._meta.label_lower,
        target_id=Cast(OuterRef("pk"), output_field=CharField()),
    ).order_by("legacy_id")
    return queryset.annotate(**{FIELD: Subquery(records.values("legacy_id")[:1])})


def _legacy_id(obj) -> str:
    return getattr(obj, FIELD, None) or "—"


_legacy_id.short_description = "old MaalEdu _id"


def show_legacy_ids(model_admin: admin.ModelAdmin) -> None:
    """Add the "old MaalEdu _id" column and read-only field to one registered admin."""
    get_queryset = model_admin.get_queryset
    get_readonly_fields = model_admin.get_readonly_fields
    get_fieldsets = model_admin.get_fieldsets

    def get_queryset_with_id(request):
        return with_legacy_id(get_queryset(request))

    def readonly_fields_with_id(request, obj=None):
        return (*get_readonly_fields(request, obj), FIELD)

    def fieldsets_with_id(request, obj=None):
        fieldsets = list(get_fieldsets(request, obj))
        shown = {name for _title, options in fieldsets for name in options.get("fields", ())}
        if FIELD not in shown and obj is not None and getattr(obj, FIELD, None):
            fieldsets.append(("Old MaalEdu", {"fields": (FIELD,)}))
        return fieldsets

    setattr(model_admin, FIELD, _legacy_id)
    model_admin.get_queryset = get_queryset_with_id
    model_admin.get_readonly_fields = readonly_fields_with_id
    model_admin.get_fieldsets = fieldsets_with_id
    model_admin.list_display = (*model_admin.list_display, FIELD)


for _model, _model_admin in list(admin.site._registry.items()):
    if _model._meta.label_lower in IMPORTED_MODELS:
        show_legacy_ids(_model_admin)
