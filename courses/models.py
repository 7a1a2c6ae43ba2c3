from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse

from .money import CURRENCIES, CURRENCY_CHOICES, format_money


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
    image = models.ImageField(upload_to="courses/", blank=True)
    is_published = models.BooleanField("published", default=False)
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

    def get_absolute_url(self) -> str:
        return reverse("courses:detail", kwargs={"slug": self.slug})

    @property
    def price_display(self) -> str:
        return format_money(self.price_cents, self.currency)
