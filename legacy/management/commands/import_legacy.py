"""``python manage.py import_legacy --mongodb-uri mongodb://… --amount-unit dollars``

Imports the old MaalEdu's MongoDB (users, courses, affiliates, enrollments, grants, retry jobs)
into this site, whatever database the site runs on. Safe to run again: what was imported is
recognised and left alone; a run stopped halfway finishes on the next one. See README, "Moving
from the old MaalEdu".
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from legacy.documents import AMOUNT_UNITS
from legacy.importer import Importer

OLD_COLLECTIONS = {"users", "courses", "enrollments", "affiliates", "grants"}
SERVER_TIMEOUT_MS = 10_000


class Command(BaseCommand):
    help = "Import the old MaalEdu's MongoDB data (dry run first: --dry-run)."

    def add_arguments(self, parser):
        parser.add_argument("--mongodb-uri", required=True, help="mongodb:// or mongodb+srv://")
        parser.add_argument(
            "--database", help="the old database's name (default: the one in the URI)"
        )
        parser.add_argument(
            "--amount-unit",
            required=True,
            choices=AMOUNT_UNITS,
            help="how the old system stored amounts: 49.9 (dollars) or 4990 (cents)",
        )
        parser.add_argument("--dry-run", action="store_true", help="read and check; write nothing")
        parser.add_argument("--report", type=Path, help="also write the report here, as JSON")
        parser.add_argument(
            "--course-map",
            type=Path,
            help='JSON file {"<old courseId>": "<course slug here>", …}; '
            "otherwise a courseId matches the course whose slug it is",
        )
        parser.add_argument(
            "--staff-from-role",
            action="store_true",
            help="make users whose old role is admin staff users (not superusers)",
        )

    def handle(self, *args, **options):
        from pymongo.errors import PyMongoError

        course_map = self._course_map(options["course_map"])
        client, db = self._connect(options["mongodb_uri"], options["database"])
        try:
            importer = Importer(
                db,
                amount_unit=options["amount_unit"],
                dry_run=options["dry_run"],
                course_map=course_map,
                staff_from_role=options["staff_from_role"],
                progress_stream=self.stderr._out,
            )
            report = importer.run()
        except PyMongoError as error:
            raise CommandError(
                f"Lost the old database mid-run ({type(error).__name__}: {str(error)[:200]}). "
                "What was imported is kept: run the same command again to finish the rest; "
                "nothing is imported twice."
            ) from error
        finally:
            client.close()
        self.stdout.write(report.to_text(), ending="")
        if options["report"] is not None:
            try:
                options["report"].write_text(report.to_json(), encoding="utf-8")
            except OSError as error:
                raise CommandError(f"Could not write the report: {error}") from error

    @staticmethod
    def _course_map(path: Path | None) -> dict:
        if path is None:
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise CommandError(f"--course-map: cannot read {path}: {error}") from error
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in data.items()
        ):
            raise CommandError('--course-map: expected {"<old courseId>": "<slug>", …}')
        return data

    @staticmethod
    def _connect(uri: str, database: str | None):
        import pymongo
        from pymongo.errors import ConfigurationError, InvalidURI, PyMongoError

        try:
            client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=SERVER_TIMEOUT_MS)
            name = database or client.get_default_database().name
        except (ConfigurationError, InvalidURI, ValueError, TypeError) as error:
            message = str(error)
            if "default database" in message.lower():
                message = "no database in the URI: pass --database NAME"
            raise CommandError(f"--mongodb-uri: {message}") from error
        try:
            present = set(client[name].list_collection_names())
        except PyMongoError as error:
            client.close()
            raise CommandError(f"Cannot read the old database {name!r}: {error}") from error
        if not present & OLD_COLLECTIONS:
            client.close()
            expected = ", ".join(sorted(OLD_COLLECTIONS))
            raise CommandError(f"Database {name!r} has none of the old collections ({expected}).")
        return client, client[name]
