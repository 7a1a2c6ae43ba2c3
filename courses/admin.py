from django.contrib import admin
from django.utils.html import format_html

from .models import Course, CourseOutline


class CourseOutlineInline(admin.StackedInline):
    """The copy of the LMS course's outline (read-only: the LMS is its only source)."""

    model = CourseOutline
    fields = ("lms_course", "chapter_list", "instructor_list", "synced_at")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0

    @admin.display(description="chapters")
    def chapter_list(self, outline: CourseOutline) -> str:
        return "; ".join(
            f"{chapter['title']} ({len(chapter['lessons'])} lessons)"
            for chapter in outline.chapters
        )

    @admin.display(description="instructors")
    def instructor_list(self, outline: CourseOutline) -> str:
        return ", ".join(person["full_name"] for person in outline.instructors)


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
    readonly_fields = ("cover_preview", "created_at", "updated_at")
    inlines = [CourseOutlineInline]

    @admin.display(description="cover thumbnail")
    def cover_preview(self, course: Course) -> str:
        cover = course.cover
        if cover is None:
            return "—" if not course.image else "Being made from the uploaded image…"
        return format_html(
            '<img src="{}" width="{}" height="{}" alt="">',
            cover.small.fallback_url,
            cover.small.width,
            cover.small.height,
        )

    @admin.display(description="price", ordering="price_cents")
    def price_display(self, course: Course) -> str:
        return course.price_display
