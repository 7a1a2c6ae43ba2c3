"""The admin shows, on every imported row, the old MaalEdu ``_id`` it came from.

The apps below must not import ``legacy``, so this module adds the column to their registered
admins itself (it is loaded last: ``legacy`` is the last app). The ids come from one query per
page (``attach_legacy_ids``): no query per row.
"""

from django.contrib import admin

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


def attach_legacy_ids(objects) -> None:
    """Set each object's old ``_id`` (the first, for merged learners; None for rows not
    imported) as an attribute, with one query for all of them. Keys are matched as text, so
    integer and ObjectId primary keys alike. (An annotation on the admin's queryset would do the
    same, but django-mongodb-backend mixes up the columns of a subquery annotation combined
    with ``select_related`` and an ordering, as every changelist has.)"""
    objects = list(objects)
    if not objects:
        return
    first: dict[str, str] = {}
    records = (
        LegacyRecord.objects.filter(
            target_model=objects[0]._meta.label_lower,
            target_id__in={str(obj.pk) for obj in objects},
        )
        .order_by("legacy_id")
        .values_list("target_id", "legacy_id")
    )
    for target_id, legacy_id in records:
        first.setdefault(target_id, legacy_id)
    for obj in objects:
        setattr(obj, FIELD, first.get(str(obj.pk)))


def _legacy_id(obj) -> str:
    return getattr(obj, FIELD, None) or "—"


_legacy_id.short_description = "old MaalEdu _id"


def show_legacy_ids(model_admin: admin.ModelAdmin) -> None:
    """Add the "old MaalEdu _id" column and read-only field to one registered admin."""
    get_changelist_instance = model_admin.get_changelist_instance
    get_object = model_admin.get_object
    get_readonly_fields = model_admin.get_readonly_fields
    get_fieldsets = model_admin.get_fieldsets

    def changelist_with_ids(request):
        changelist = get_changelist_instance(request)
        # The page's queryset caches these instances, so the column finds the ids on them.
        attach_legacy_ids(changelist.result_list)
        return changelist

    def object_with_id(request, object_id, from_field=None):
        obj = get_object(request, object_id, from_field)
        if obj is not None:
            attach_legacy_ids([obj])
        return obj

    def readonly_fields_with_id(request, obj=None):
        return (*get_readonly_fields(request, obj), FIELD)

    def fieldsets_with_id(request, obj=None):
        fieldsets = list(get_fieldsets(request, obj))
        shown = {name for _title, options in fieldsets for name in options.get("fields", ())}
        if FIELD not in shown and obj is not None and getattr(obj, FIELD, None):
            fieldsets.append(("Old MaalEdu", {"fields": (FIELD,)}))
        return fieldsets

    setattr(model_admin, FIELD, _legacy_id)
    model_admin.get_changelist_instance = changelist_with_ids
    model_admin.get_object = object_with_id
    model_admin.get_readonly_fields = readonly_fields_with_id
    model_admin.get_fieldsets = fieldsets_with_id
    model_admin.list_display = (*model_admin.list_display, FIELD)


for _model, _model_admin in list(admin.site._registry.items()):
    if _model._meta.label_lower in IMPORTED_MODELS:
        show_legacy_ids(_model_admin)
