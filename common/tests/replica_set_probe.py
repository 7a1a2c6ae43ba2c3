"""Run by test_transactions under ``fakes.with_mongo --replica-set``: common.transactions.atomic
on a MongoDB replica set is a real transaction. Prints one line per proven fact."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maaledu.settings.test")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from common.transactions import atomic  # noqa: E402
from ops.models import Incident  # noqa: E402


class Crash(Exception):
    pass


def main() -> None:
    call_command("migrate", verbosity=0)
    assert connection.vendor == "mongodb"
    assert connection.features._supports_transactions, "the server is not a replica set"
    print("replica set: transactions supported")

    try:
        with atomic():
            Incident.objects.create(kind=Incident.Kind.LMS_CONFIG, key="first")
            with atomic():  # an inner block joins the outer transaction
                Incident.objects.create(kind=Incident.Kind.LMS_MAPPING, key="second")
            raise Crash
    except Crash:
        pass
    assert not Incident.objects.exists(), list(Incident.objects.values_list("key", flat=True))
    print("a failed block leaves nothing")

    seen_at_commit = []
    with atomic():
        Incident.objects.create(kind=Incident.Kind.LMS_CONFIG, key="first")
        transaction.on_commit(lambda: seen_at_commit.append(Incident.objects.count()))
        assert seen_at_commit == [], "on_commit ran before the commit"
        Incident.objects.create(kind=Incident.Kind.LMS_MAPPING, key="second")
    assert seen_at_commit == [2], seen_at_commit
    print("a block commits its writes together, then runs its on_commit callbacks")


if __name__ == "__main__":
    main()
