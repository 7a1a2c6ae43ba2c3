from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError


class SafeActionsMixin:
    """Mixed into every ModelAdmin the site registers (ours and third-party ones), see
    ``MaalEduAdminSite``."""

    def response_action(self, request, queryset):
        """Refuse a selection that is not row ids (only a hand-made POST sends one) with a
        message, where Django's own code would filter by it and answer 500."""
        pk = self.model._meta.pk
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                pk.run_validators(pk.to_python(value))
        except ValidationError:
            self.message_user(
                request, "That selection is not valid. No items have been changed.", messages.ERROR
            )
            return None
        return super().response_action(request, queryset)


class MaalEduAdminSite(admin.AdminSite):
    """The default admin site (``maaledu.apps.MaalEduAdminConfig``): every ModelAdmin
    registered on it, including Django's and allauth's, refuses malformed action selections."""

    site_header = "MaalEdu administration"
    site_title = "MaalEdu admin"

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, SafeActionsMixin):
            admin_class = type(
                admin_class.__name__,
                (SafeActionsMixin, admin_class),
                {"__module__": admin_class.__module__},
            )
        super().register(model_or_iterable, admin_class, **options)


class RecordAdmin(admin.ModelAdmin):
    """Admin for rows the services create and keep as a record (enrollments, events, commissions,
    payouts, incidents, sync jobs): staff read them and run actions, never add or delete by hand.
    Every field is read-only."""

    def get_readonly_fields(self, request, obj=None):
        return [
            *super().get_readonly_fields(request, obj),
            *(field.name for field in self.model._meta.fields),
        ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
