from django.contrib import admin

from .models import Course


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "slug",
        "price_display",
        "level",
        "is_published",
        "is_featured",
        "frappe_course",
    )
    list_filter = ("is_published", "is_featured", "level", "currency")
    search_fields = ("title", "subtitle", "slug", "frappe_course")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="price", ordering="price_cents")
    def price_display(self, course: Course) -> str:
        return course.price_display
