from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import IntegrityError, models
from django.urls import reverse

from common.money import CURRENCIES, CURRENCY_CHOICES, format_money

from .covers import Cover


def validate_features(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValidationError("Features must be a list of non-empty strings.")


class Course(models.Model):
    class Level(models.TextChoices):
        BEGINNER = "beginner", "Beginner"
        INTERMEDIATE = "intermediate", "Intermediate"
        ADVANCED = "advanced", "Advanced"

    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=200)
    subtitle = models.CharField(max_length=300, blank=True)
    description = models.TextField()
    price_cents = models.PositiveIntegerField(
        "price (cents)",
        validators=[MinValueValidator(0)],
        help_text="In minor units: 49900 = 499.00",
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="usd")
    features = models.JSONField(default=list, blank=True, validators=[validate_features])
    level = models.CharField(max_length=20, choices=Level.choices, default=Level.BEGINNER)
    duration = models.CharField(max_length=60, blank=True, help_text='e.g. "6 weeks, 40 hours"')
    image = models.ImageField(
        upload_to="courses/",
        blank=True,
        help_text="The cover; resized copies (WebP and JPEG) are made from it on upload.",
    )
    # The image name the thumbnails below were made from: when it differs from ``image``, the
    # thumbnails are stale and ``courses.services.refresh_cover`` makes new ones.
    cover_source = models.CharField(max_length=255, blank=True, editable=False)
    # [{"width", "height", "webp", "fallback", "fallback_type"}], smallest first (storage names).
    cover_thumbnails = models.JSONField(default=list, blank=True, editable=False)
    is_published = models.BooleanField("published", default=False)
    is_featured = models.BooleanField(
        "featured", default=False, help_text="Shown on the home page (published courses only)."
    )
    frappe_course = models.CharField(
        "Frappe LMS course name",
        max_length=140,
        blank=True,
        help_text="The LMS Course document name (its slug, e.g. intro-to-django), not its title.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__in=list(CURRENCIES)), name="course_currency_known"
            ),
        ]
        indexes = [
            # The catalog: published courses in title order.
            models.Index(fields=["is_published", "title"], name="course_catalog_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        # The check constraints' rules, kept on every backend (MongoDB enforces none).
        broken = self.broken_rules()
        if broken:
            raise IntegrityError("Course refused: " + ", ".join(broken))
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("courses:detail", kwargs={"slug": self.slug})

    def broken_rules(self) -> list[str]:
        """The database's check rules this row breaks, by name: the known currency
        (``course_currency_known``) and the positive price (PositiveIntegerField's check)."""
        broken = []
        if self.currency not in CURRENCIES:
            broken.append("course_currency_known")
        if self.price_cents is not None and self.price_cents < 0:
            broken.append("price_cents_positive")
        return broken

    @property
    def price_display(self) -> str:
        return format_money(self.price_cents, self.currency)

    @property
    def cover(self) -> Cover | None:
        """The cover's thumbnails, or None while there is no image or they are being made."""
        return Cover.of(self)


class CourseOutline(models.Model):
    """What is inside a course, as its Frappe LMS course says: chapters, lessons, instructors.

    One row per course, written whole by ``courses.services.store_outline`` (the LMS sync task
    calls it); the LMS is the only source, this is a copy the course page reads without calling
    the LMS. ``lms_course`` is the LMS course it was read from: a copy from an older mapping is
    not shown.
    """

    course = models.OneToOneField(Course, on_delete=models.CASCADE, related_name="outline")
    lms_course = models.CharField(max_length=140)
    # [{"title", "lessons": [{"title", "preview"}]}] in course order.
    chapters = models.JSONField(default=list)
    # [{"name", "full_name"}] in the LMS's order.
    instructors = models.JSONField(default=list)
    digest = models.CharField(max_length=64)
    synced_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Outline of {self.course_id} from {self.lms_course}"

    @property
    def lesson_count(self) -> int:
        return sum(len(chapter["lessons"]) for chapter in self.chapters)
