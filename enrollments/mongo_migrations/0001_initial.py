import django.db.models.deletion
import django.db.models.expressions
import django_mongodb_backend.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("affiliates", "0001_initial"),
        ("courses", "0001_initial"),
        ("grants", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Enrollment",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "email",
                    models.EmailField(
                        help_text="The learner's e-mail, lower-case.", max_length=254
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Awaiting payment"),
                            ("paid", "Paid"),
                            ("failed", "Payment failed"),
                            ("expired", "Checkout expired"),
                            ("refunded", "Refunded"),
                            ("canceled", "Canceled"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("paid", "Paid"),
                            ("full_grant", "Grant (100% off)"),
                            ("partial_grant", "Grant (partial discount)"),
                        ],
                        default="paid",
                        max_length=14,
                    ),
                ),
                ("list_price_cents", models.PositiveIntegerField()),
                ("discount_cents", models.PositiveIntegerField(default=0)),
                ("amount_due_cents", models.PositiveIntegerField()),
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
                        max_length=3,
                    ),
                ),
                ("amount_refunded_cents", models.PositiveIntegerField(default=0)),
                ("stripe_subtotal_cents", models.PositiveIntegerField(blank=True, null=True)),
                ("tax_cents", models.PositiveIntegerField(default=0)),
                ("stripe_total_cents", models.PositiveIntegerField(blank=True, null=True)),
                (
                    "stripe_session_id",
                    models.CharField(blank=True, max_length=255, null=True, unique=True),
                ),
                (
                    "stripe_payment_intent_id",
                    models.CharField(blank=True, db_index=True, max_length=255),
                ),
                ("checkout_url", models.URLField(blank=True, max_length=2000)),
                ("stripe_invoice_id", models.CharField(blank=True, max_length=255)),
                ("invoice_url", models.URLField(blank=True, max_length=2000)),
                ("invoice_pdf_url", models.URLField(blank=True, max_length=2000)),
                ("visitor_hash", models.CharField(blank=True, max_length=64)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("paid_at", models.DateTimeField(blank=True, null=True)),
                ("stripe_checked_at", models.DateTimeField(blank=True, null=True)),
                ("needs_review", models.BooleanField(default=False)),
                ("review_reason", models.CharField(blank=True, max_length=300)),
                (
                    "dispute_status",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "—"),
                            ("open", "Open: access suspended"),
                            ("won", "Won"),
                            ("lost", "Lost"),
                        ],
                        default="",
                        max_length=4,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "affiliate",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="referred_enrollments",
                        to="affiliates.affiliate",
                    ),
                ),
                (
                    "course",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="enrollments",
                        to="courses.course",
                    ),
                ),
                (
                    "grant",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="enrollments",
                        to="grants.grant",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="enrollments",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="RefundRequest",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "amount_cents",
                    models.PositiveIntegerField(help_text="Back to the card (0 for a free grant)."),
                ),
                (
                    "refunded_total_cents",
                    models.PositiveIntegerField(
                        help_text="What the enrollment's refunded amount becomes with this refund."
                    ),
                ),
                ("revoke_access", models.BooleanField()),
                ("restore_coupon", models.BooleanField(default=False)),
                ("reason", models.CharField(max_length=500)),
                ("stripe_refund_id", models.CharField(blank=True, max_length=255)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "enrollment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="refund_requests",
                        to="enrollments.enrollment",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="StripeEvent",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("event_id", models.CharField(max_length=255, unique=True)),
                ("type", models.CharField(db_index=True, max_length=100)),
                ("payload", models.JSONField()),
                ("received_at", models.DateTimeField(auto_now_add=True)),
                ("processed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("received", "Received"),
                            ("processed", "Processed"),
                            ("ignored", "Ignored (type not handled)"),
                            ("failed", "Failed"),
                        ],
                        default="received",
                        max_length=10,
                    ),
                ),
                (
                    "result",
                    models.CharField(blank=True, help_text="What the handler did.", max_length=40),
                ),
                ("error", models.TextField(blank=True)),
                ("attempts", models.PositiveIntegerField(default=0)),
            ],
            options={
                "ordering": ["-received_at"],
                "indexes": [
                    models.Index(fields=["outcome", "received_at"], name="stripe_event_outcome_idx")
                ],
            },
        ),
        migrations.AddIndex(
            model_name="enrollment",
            index=models.Index(fields=["email", "status"], name="enrollment_email_status_idx"),
        ),
        migrations.AddIndex(
            model_name="enrollment",
            index=models.Index(
                fields=["status", "expires_at"], name="enrollment_status_expiry_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="enrollment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "paid")),
                fields=("email", "course"),
                name="enrollment_one_paid_per_email_course",
            ),
        ),
        migrations.AddConstraint(
            model_name="enrollment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "pending")),
                fields=("email", "course", "status"),
                name="enrollment_one_pending_per_email_course",
            ),
        ),
        migrations.AddConstraint(
            model_name="enrollment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "amount_due_cents",
                        django.db.models.expressions.CombinedExpression(
                            models.F("list_price_cents"), "-", models.F("discount_cents")
                        ),
                    )
                ),
                name="enrollment_amount_due_is_price_minus_discount",
            ),
        ),
        migrations.AddConstraint(
            model_name="enrollment",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_refunded_cents__lte", models.F("amount_due_cents"))),
                name="enrollment_refund_at_most_amount_paid",
            ),
        ),
        migrations.AddConstraint(
            model_name="refundrequest",
            constraint=models.UniqueConstraint(
                fields=("enrollment", "refunded_total_cents"), name="refund_request_once_per_total"
            ),
        ),
    ]
