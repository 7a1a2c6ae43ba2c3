import django.contrib.sites.models
import django_mongodb_backend.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Site",
            fields=[
                (
                    "id",
                    django_mongodb_backend.fields.ObjectIdAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "domain",
                    models.CharField(
                        max_length=100,
                        unique=True,
                        validators=[django.contrib.sites.models._simple_domain_name_validator],
                        verbose_name="domain name",
                    ),
                ),
                ("name", models.CharField(max_length=50, verbose_name="display name")),
            ],
            options={
                "verbose_name": "site",
                "verbose_name_plural": "sites",
                "db_table": "django_site",
                "ordering": ["domain"],
            },
            managers=[
                ("objects", django.contrib.sites.models.SiteManager()),
            ],
        ),
    ]
