import affiliates.models
import django.core.validators
import django.db.models.deletion
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
            name="Affiliate",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "referral_code",
                    models.CharField(
                        default=affiliates.models.new_referral_code, max_length=32, unique=True
                    ),
                ),
                (
                    "rate_percent",
                    models.PositiveSmallIntegerField(
                        default=affiliates.models.default_rate_percent,
                        help_text="Applies to sales from now on; recorded commissions keep their rate.",
                        validators=[django.core.validators.MaxValueValidator(100)],
                        verbose_name="commission rate (%)",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("active", "Active"), ("suspended", "Suspended")],
                        default="active",
                        max_length=10,
                    ),
                ),
                (
                    "payout_method",
                    models.CharField(
                        choices=[("paypal", "PayPal"), ("bank", "Bank transfer")], max_length=10
                    ),
                ),
                (
                    "paypal_email",
                    models.EmailField(blank=True, max_length=254, verbose_name="PayPal e-mail"),
                ),
                (
                    "bank_account_holder",
                    models.CharField(blank=True, max_length=140, verbose_name="account holder"),
                ),
                (
                    "bank_account",
                    models.CharField(
                        blank=True, max_length=34, verbose_name="IBAN or account number"
                    ),
                ),
                ("bank_name", models.CharField(blank=True, max_length=140)),
                (
                    "bank_swift",
                    models.CharField(blank=True, max_length=11, verbose_name="SWIFT/BIC"),
                ),
                ("terms_accepted_at", models.DateTimeField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="affiliate",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="EarningsDay",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
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
                        max_length=3,
                    ),
                ),
                ("day", models.DateField()),
                ("sales", models.PositiveIntegerField(default=0)),
                ("referrals", models.PositiveIntegerField(default=0)),
                ("pending_cents", models.PositiveBigIntegerField(default=0)),
                ("approved_cents", models.PositiveBigIntegerField(default=0)),
                ("paid_cents", models.PositiveBigIntegerField(default=0)),
                ("reversed_cents", models.PositiveBigIntegerField(default=0)),
                ("stamp", models.PositiveBigIntegerField(default=0)),
                (
                    "affiliate",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="affiliates.affiliate",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Payout",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sequence", models.PositiveIntegerField()),
                ("amount_cents", models.PositiveIntegerField(verbose_name="amount (cents)")),
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
                (
                    "method",
                    models.CharField(
                        choices=[("paypal", "PayPal"), ("bank", "Bank transfer")], max_length=10
                    ),
                ),
                (
                    "reference",
                    models.CharField(
                        help_text="PayPal or bank transaction reference", max_length=200
                    ),
                ),
                ("commissions_claimed", models.PositiveIntegerField(default=0, editable=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "affiliate",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payouts",
                        to="affiliates.affiliate",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="Commission",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "sale_id",
                    django_mongodb_backend.fields.ObjectIdField(
                        help_text="The enrollments.Enrollment pk; no FK so affiliates stays below enrollments.",
                        unique=True,
                    ),
                ),
                ("buyer_email_masked", models.CharField(max_length=254, verbose_name="buyer")),
                ("sold_at", models.DateTimeField()),
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
                (
                    "sale_amount_cents",
                    models.PositiveIntegerField(verbose_name="amount paid (cents)"),
                ),
                ("rate_percent", models.PositiveSmallIntegerField(verbose_name="rate (%)")),
                ("amount_cents", models.PositiveIntegerField(verbose_name="commission (cents)")),
                (
                    "reversed_cents",
                    models.PositiveIntegerField(default=0, verbose_name="reversed (cents)"),
                ),
                ("paid_cents", models.PositiveIntegerField(default=0, verbose_name="paid (cents)")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("approved", "Approved"),
                            ("paid", "Paid"),
                            ("reversed", "Reversed"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("on_hold", models.BooleanField(default=False)),
                ("approved_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("version", models.PositiveIntegerField(db_default=1, default=1, editable=False)),
                (
                    "totals_stale",
                    models.BooleanField(db_default=True, default=True, editable=False),
                ),
                (
                    "affiliate",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="commissions",
                        to="affiliates.affiliate",
                    ),
                ),
                (
                    "course",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="courses.course",
                    ),
                ),
                (
                    "payout",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="commissions",
                        to="affiliates.payout",
                    ),
                ),
            ],
            options={
                "ordering": ["-sold_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ReferralClick",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("visitor_key", models.CharField(max_length=64)),
                ("day", models.DateField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "affiliate",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="clicks",
                        to="affiliates.affiliate",
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="affiliate",
            constraint=models.CheckConstraint(
                condition=models.Q(("rate_percent__lte", 100)), name="affiliate_rate_at_most_100"
            ),
        ),
        migrations.AddConstraint(
            model_name="affiliate",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["active", "suspended"])),
                name="affiliate_status_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="affiliate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("payout_method", "paypal"), models.Q(("paypal_email", ""), _negated=True)
                    ),
                    models.Q(
                        ("payout_method", "bank"),
                        models.Q(("bank_account_holder", ""), _negated=True),
                        models.Q(("bank_account", ""), _negated=True),
                        models.Q(("bank_name", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="affiliate_payout_details_present",
            ),
        ),
        migrations.AddConstraint(
            model_name="earningsday",
            constraint=models.UniqueConstraint(
                fields=("affiliate", "day", "currency"), name="earnings_day_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="payout",
            constraint=models.UniqueConstraint(
                fields=("affiliate", "sequence"), name="payout_sequence_per_affiliate"
            ),
        ),
        migrations.AddConstraint(
            model_name="payout",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_cents__gt", 0)), name="payout_amount_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="payout",
            constraint=models.CheckConstraint(
                condition=models.Q(("currency__in", ["usd", "eur", "gbp", "cad", "aud", "inr"])),
                name="payout_currency_known",
            ),
        ),
        migrations.AddIndex(
            model_name="commission",
            index=models.Index(
                fields=["affiliate", "-sold_at", "-id"], name="commission_affiliate_sold_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="commission",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["sold_at"],
                name="commission_pending_sold_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="commission",
            index=models.Index(
                condition=models.Q(("status", "approved")),
                fields=["affiliate", "currency"],
                name="commission_payable_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="commission",
            index=models.Index(
                condition=models.Q(("totals_stale", True)),
                fields=["affiliate"],
                name="commission_totals_stale_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="commission",
            constraint=models.CheckConstraint(
                condition=models.Q(("rate_percent__lte", 100)), name="commission_rate_at_most_100"
            ),
        ),
        migrations.AddConstraint(
            model_name="commission",
            constraint=models.CheckConstraint(
                condition=models.Q(("reversed_cents__lte", models.F("amount_cents"))),
                name="commission_reversed_within_amount",
            ),
        ),
        migrations.AddConstraint(
            model_name="commission",
            constraint=models.CheckConstraint(
                condition=models.Q(("paid_cents__lte", models.F("amount_cents"))),
                name="commission_paid_within_amount",
            ),
        ),
        migrations.AddConstraint(
            model_name="commission",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["pending", "approved", "paid", "reversed"])),
                name="commission_status_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="commission",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "paid"), _negated=True),
                    ("payout__isnull", False),
                    _connector="OR",
                ),
                name="commission_paid_has_payout",
            ),
        ),
        migrations.AddConstraint(
            model_name="commission",
            constraint=models.CheckConstraint(
                condition=models.Q(("currency__in", ["usd", "eur", "gbp", "cad", "aud", "inr"])),
                name="commission_currency_known",
            ),
        ),
        migrations.AddIndex(
            model_name="referralclick",
            index=models.Index(fields=["affiliate", "day"], name="referral_click_affiliate_day"),
        ),
        migrations.AddConstraint(
            model_name="referralclick",
            constraint=models.UniqueConstraint(
                fields=("affiliate", "visitor_key", "day"),
                name="referral_click_once_per_visitor_day",
            ),
        ),
    ]
