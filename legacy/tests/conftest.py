import io
import json
import uuid
from dataclasses import dataclass

import pymongo
import pytest
from django.core.management import call_command

from courses.models import Course

from .old_data import documents


@dataclass
class OldDatabase:
    uri: str
    name: str
    db: object

    def run(self, *extra: str, tmp_path=None, unit: str = "dollars") -> tuple[str, dict | None]:
        """``import_legacy`` against this database: its printed report, and the JSON report."""
        out = io.StringIO()
        args = ["--mongodb-uri", self.uri, "--database", self.name, "--amount-unit", unit]
        report_file = None
        if tmp_path is not None:
            report_file = tmp_path / f"report-{uuid.uuid4().hex[:6]}.json"
            args += ["--report", str(report_file)]
        call_command("import_legacy", *args, *extra, stdout=out, stderr=io.StringIO())
        data = json.loads(report_file.read_text()) if report_file else None
        return out.getvalue(), data


@pytest.fixture
def old_db(mongodb_server):
    """A fresh old MaalEdu database on the session's MongoDB server, loaded with the old-shaped
    documents of ``old_data``; dropped afterwards."""
    client = pymongo.MongoClient(mongodb_server.uri)
    name = f"old_maaledu_{uuid.uuid4().hex[:10]}"
    db = client[name]
    for collection, docs in documents().items():
        db[collection].insert_many(docs)
    yield OldDatabase(mongodb_server.uri, name, db)
    client.drop_database(name)
    client.close()


@pytest.fixture
def blockchain_course(db):
    """The course the school already set up here, which the old ``blockchain-101`` matches."""
    return Course.objects.create(
        slug="blockchain-101",
        title="Blockchain 101",
        description="Ledgers.",
        price_cents=49900,
        currency="usd",
        is_published=True,
        frappe_course="blockchain-101",
    )
