from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("affiliates", "0005_drop_welcome_sent_at"),
        ("courses", "0002_covers_featured_outline"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="commission",
            name="commission_payable_idx",
        ),
        migrations.AddIndex(
            model_name="commission",
            index=models.Index(
                condition=models.Q(("status", "approved")),
                fields=["affiliate", "currency"],
                name="commission_payable_idx",
            ),
        ),
    ]
