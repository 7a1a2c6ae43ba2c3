from django.core.management.base import BaseCommand, CommandError

from courses.models import Course
from lms_sync import selectors
from lms_sync.frappe import FrappeClient, LmsError, LmsMappingError, LmsNotConfigured


class Command(BaseCommand):
    help = (
        "Check the Frappe LMS settings and credentials, and that every published course's "
        "Frappe LMS course exists and is published. Exits non-zero when anything is wrong."
    )

    def handle(self, *args, **options) -> None:
        try:
            client = FrappeClient.from_settings()
        except LmsNotConfigured as error:
            raise CommandError(f"The LMS is not configured: {error.detail}.")
        try:
            try:
                api_user = client.check_credentials()
            except LmsError as error:
                raise CommandError(client.explain(error))
            self.stdout.write(f"OK    credentials (API user {api_user})")
            problems = 0
            for course in selectors.published_courses():
                problem = self._problem(client, course)
                if problem:
                    problems += 1
                    self.stdout.write(f"WRONG {course.title} (/courses/{course.slug}/): {problem}")
                else:
                    self.stdout.write(f"OK    {course.title} → {course.frappe_course}")
        finally:
            client.close()
        if problems:
            raise CommandError(f"{problems} published course(s) cannot be synced to the LMS.")
        self.stdout.write(
            self.style.SUCCESS("Every published course maps to a published LMS course.")
        )

    def _problem(self, client: FrappeClient, course: Course) -> str | None:
        if not course.frappe_course:
            return "no Frappe LMS course name is set on the course"
        try:
            lms_course = client.get_course(course.frappe_course)
        except LmsMappingError:
            return f"the LMS course {course.frappe_course!r} does not exist"
        except LmsError as error:
            raise CommandError(f"Could not check {course.frappe_course!r}. {client.explain(error)}")
        if not lms_course.get("published"):
            return f"the LMS course {course.frappe_course!r} is not published"
        return None
