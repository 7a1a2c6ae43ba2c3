import django.core.validators
import django.db.models.deletion
import django.db.models.functions.text
import django_mongodb_backend.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("courses", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Grant",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=150, verbose_name="applicant name")),
                (
                    "email",
                    models.EmailField(
                        help_text="Stored lower-case.", max_length=254, verbose_name="e-mail"
                    ),
                ),
                ("statement", models.TextField(verbose_name="statement of need")),
                ("organisation", models.CharField(blank=True, max_length=200)),
                ("country", models.CharField(blank=True, max_length=100)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending review"),
                            ("approved", "Approved"),
                            ("rejected", "Rejected"),
                            ("expired", "Expired"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                (
                    "discount_percent",
                    models.PositiveSmallIntegerField(
                        blank=True,
                        help_text="Set on approval: 10–100.",
                        null=True,
                        validators=[
                            django.core.validators.MinValueValidator(10),
                            django.core.validators.MaxValueValidator(100),
                        ],
                    ),
                ),
                (
                    "coupon_code",
                    models.CharField(blank=True, max_length=32, null=True, unique=True),
                ),
                ("coupon_expires_at", models.DateTimeField(blank=True, null=True)),
                (
                    "coupon_state",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "No coupon"),
                            ("available", "Available"),
                            ("reserved", "Reserved"),
                            ("redeemed", "Redeemed"),
                        ],
                        default="",
                        max_length=10,
                    ),
                ),
                (
                    "holder_enrollment_id",
                    django_mongodb_backend.fields.ObjectIdField(
                        blank=True, help_text="The enrollment holding the reservation.", null=True
                    ),
                ),
                (
                    "reserved_until",
                    models.DateTimeField(
                        blank=True, help_text="Empty while a delayed payment settles.", null=True
                    ),
                ),
                (
                    "redeemed_enrollment_id",
                    django_mongodb_backend.fields.ObjectIdField(blank=True, null=True, unique=True),
                ),
                ("redeemed_at", models.DateTimeField(blank=True, null=True)),
                ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                ("admin_notes", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "course",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="grants",
                        to="courses.course",
                    ),
                ),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="reviewed_grants",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
                "permissions": [("review_grant", "Can approve or reject grant applications")],
                "indexes": [
                    models.Index(fields=["status", "-created_at"], name="grant_status_created_idx"),
                    models.Index(
                        condition=models.Q(("coupon_state", "available"), ("status", "approved")),
                        fields=["coupon_expires_at"],
                        name="grant_expiry_sweep_idx",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status", "pending")),
                        fields=("email", "course"),
                        name="grant_one_pending_per_email_course",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("email", django.db.models.functions.text.Lower("email"))
                        ),
                        name="grant_email_lower",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("discount_percent__isnull", True),
                            models.Q(("discount_percent__gte", 10), ("discount_percent__lte", 100)),
                            _connector="OR",
                        ),
                        name="grant_discount_10_to_100",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("coupon_code__isnull", True),
                                ("coupon_expires_at__isnull", True),
                                ("coupon_state", ""),
                                ("discount_percent__isnull", True),
                                ("status__in", ["pending", "rejected"]),
                            ),
                            models.Q(
                                ("coupon_code__isnull", False),
                                ("coupon_expires_at__isnull", False),
                                ("coupon_state__in", ["available", "reserved", "redeemed"]),
                                ("discount_percent__isnull", False),
                                ("status", "approved"),
                            ),
                            models.Q(
                                ("coupon_code__isnull", False),
                                ("coupon_expires_at__isnull", False),
                                ("coupon_state", "available"),
                                ("discount_percent__isnull", False),
                                ("status", "expired"),
                            ),
                            _connector="OR",
                        ),
                        name="grant_coupon_matches_status",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("coupon_state__in", ["", "available"]),
                                ("holder_enrollment_id__isnull", True),
                                ("redeemed_at__isnull", True),
                                ("redeemed_enrollment_id__isnull", True),
                                ("reserved_until__isnull", True),
                            ),
                            models.Q(
                                ("coupon_state", "reserved"),
                                ("redeemed_at__isnull", True),
                                ("redeemed_enrollment_id__isnull", True),
                                models.Q(
                                    ("holder_enrollment_id__isnull", False),
                                    ("reserved_until__isnull", False),
                                    _connector="OR",
                                ),
                            ),
                            models.Q(
                                ("coupon_state", "redeemed"),
                                ("holder_enrollment_id__isnull", True),
                                ("redeemed_at__isnull", False),
                                ("redeemed_enrollment_id__isnull", False),
                                ("reserved_until__isnull", True),
                            ),
                            _connector="OR",
                        ),
                        name="grant_coupon_holder_matches_state",
                    ),
                ],
            },
        ),
    ]
