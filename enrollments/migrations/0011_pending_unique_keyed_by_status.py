from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("affiliates", "0006_payable_index_without_is_null"),
        ("courses", "0002_covers_featured_outline"),
        ("enrollments", "0010_remove_lms_columns"),
        ("grants", "0002_drop_email_claim_columns"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="enrollment",
            name="enrollment_one_pending_per_email_course",
        ),
        migrations.AddConstraint(
            model_name="enrollment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "pending")),
                fields=("email", "course", "status"),
                name="enrollment_one_pending_per_email_course",
            ),
        ),
    ]
