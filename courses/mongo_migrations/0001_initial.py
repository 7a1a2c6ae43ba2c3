import courses.models
import django.core.validators
import django.db.models.deletion
import django_mongodb_backend.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Course",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("slug", models.SlugField(max_length=120, unique=True)),
                ("title", models.CharField(max_length=200)),
                ("subtitle", models.CharField(blank=True, max_length=300)),
                ("description", models.TextField()),
                (
                    "price_cents",
                    models.PositiveIntegerField(
                        help_text="In minor units: 49900 = 499.00",
                        validators=[django.core.validators.MinValueValidator(0)],
                        verbose_name="price (cents)",
                    ),
                ),
                (
                    "currency",
                    models.CharField(
                        choices=[
                            ("usd", "USD"),
                            ("eur", "EUR"),
                            ("gbp", "GBP"),
                            ("cad", "CAD"),
                            ("aud", "AUD"),
                            ("inr", "INR"),
                        ],
                        default="usd",
                        max_length=3,
                    ),
                ),
                (
                    "features",
                    models.JSONField(
                        blank=True, default=list, validators=[courses.models.validate_features]
                    ),
                ),
                (
                    "level",
                    models.CharField(
                        choices=[
                            ("beginner", "Beginner"),
                            ("intermediate", "Intermediate"),
                            ("advanced", "Advanced"),
                        ],
                        default="beginner",
                        max_length=20,
                    ),
                ),
                (
                    "duration",
                    models.CharField(
                        blank=True, help_text='e.g. "6 weeks, 40 hours"', max_length=60
                    ),
                ),
                (
                    "image",
                    models.ImageField(
                        blank=True,
                        help_text="The cover; resized copies (WebP and JPEG) are made from it on upload.",
                        upload_to="courses/",
                    ),
                ),
                ("cover_source", models.CharField(blank=True, editable=False, max_length=255)),
                ("cover_thumbnails", models.JSONField(blank=True, default=list, editable=False)),
                ("is_published", models.BooleanField(default=False, verbose_name="published")),
                (
                    "is_featured",
                    models.BooleanField(
                        default=False,
                        help_text="Shown on the home page (published courses only).",
                        verbose_name="featured",
                    ),
                ),
                (
                    "frappe_course",
                    models.CharField(
                        blank=True,
                        help_text="The LMS Course document name (its slug, e.g. intro-to-django), not its title.",
                        max_length=140,
                        verbose_name="Frappe LMS course name",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["title"],
                "indexes": [
                    models.Index(fields=["is_published", "title"], name="course_catalog_idx")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("currency__in", ["usd", "eur", "gbp", "cad", "aud", "inr"])
                        ),
                        name="course_currency_known",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="CourseOutline",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("lms_course", models.CharField(max_length=140)),
                ("chapters", models.JSONField(default=list)),
                ("instructors", models.JSONField(default=list)),
                ("digest", models.CharField(max_length=64)),
                ("synced_at", models.DateTimeField()),
                (
                    "course",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="outline",
                        to="courses.course",
                    ),
                ),
            ],
        ),
    ]
