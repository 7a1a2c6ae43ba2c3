"""The Site named after SITE_URL on MongoDB: the same step as migrations/0002_site_domain."""

from importlib import import_module

from django.db import migrations

name_site = import_module("accounts.migrations.0002_site_domain").name_site


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("sites", "0001_initial")]

    operations = [migrations.RunPython(name_site, migrations.RunPython.noop)]
