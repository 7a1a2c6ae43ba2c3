"""Demo data for a fresh machine: a handful of courses and a staff login. Safe to run again."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError

from accounts import services as account_services
from common.transactions import atomic
from courses import services
from courses.demo_covers import draw_cover
from courses.models import Course

# The demo courses shown on the home page.
FEATURED_SLUGS = {
    "aws-solutions-architect-associate",
    "certified-kubernetes-administrator",
    "comptia-security-plus",
}

DEMO_COURSES = [
    {
        "slug": "aws-solutions-architect-associate",
        "title": "AWS Solutions Architect – Associate",
        "subtitle": "Design resilient, cost-aware architectures and pass SAA-C03.",
        "description": (
            "A structured path through the SAA-C03 exam guide: networking with VPCs, storage "
            "tiers, high availability, security and cost optimisation. Every module ends with "
            "exam-style questions and a hands-on lab."
        ),
        "price_cents": 49900,
        "level": Course.Level.INTERMEDIATE,
        "duration": "8 weeks · 45 hours",
        "features": [
            "6 full-length practice exams",
            "24 guided labs in a sandbox account",
            "Certificate of completion",
        ],
    },
    {
        "slug": "certified-kubernetes-administrator",
        "title": "Certified Kubernetes Administrator (CKA)",
        "subtitle": "Operate production clusters with confidence.",
        "description": (
            "Cluster installation, workloads, scheduling, networking, storage and "
            "troubleshooting, taught against the current CKA curriculum with timed drills."
        ),
        "price_cents": 39900,
        "level": Course.Level.ADVANCED,
        "duration": "6 weeks · 36 hours",
        "features": ["Timed terminal drills", "Two mock exams", "Troubleshooting playbook"],
    },
    {
        "slug": "pmp-exam-prep",
        "title": "PMP Exam Prep",
        "subtitle": "35 contact hours and a plan to pass on the first attempt.",
        "description": (
            "People, process and business environment domains, predictive and agile "
            "approaches, with 1,200 practice questions explained."
        ),
        "price_cents": 29900,
        "level": Course.Level.INTERMEDIATE,
        "duration": "35 contact hours",
        "features": ["35 PDUs / contact hours", "1,200 practice questions", "Study planner"],
    },
    {
        "slug": "comptia-security-plus",
        "title": "CompTIA Security+",
        "subtitle": "The foundation certification for a career in cyber security.",
        "description": (
            "Threats, architecture, operations and governance for SY0-701, with "
            "performance-based question practice."
        ),
        "price_cents": 24900,
        "level": Course.Level.BEGINNER,
        "duration": "5 weeks · 30 hours",
        "features": ["Performance-based question labs", "Flashcards", "Two practice exams"],
    },
    {
        "slug": "data-analytics-professional",
        "title": "Data Analytics Professional",
        "subtitle": "SQL, spreadsheets and dashboards for your first analyst role.",
        "description": (
            "Ask, prepare, process, analyse, share and act: a portfolio-driven programme "
            "with real data sets and a capstone reviewed by mentors."
        ),
        "price_cents": 19900,
        "level": Course.Level.BEGINNER,
        "duration": "10 weeks · 60 hours",
        "features": ["Capstone project", "Mentor review", "Portfolio template"],
    },
    {
        "slug": "professional-scrum-master",
        "title": "Professional Scrum Master I",
        "subtitle": "Serve your team with the Scrum framework, and prove it with PSM I.",
        "description": (
            "Empiricism, the Scrum values, accountabilities, events and artefacts, with "
            "scenario-based practice for the PSM I assessment."
        ),
        "price_cents": 14900,
        "level": Course.Level.BEGINNER,
        "duration": "3 weeks · 16 hours",
        "features": ["Scenario practice", "Open assessment drills", "Team facilitation kit"],
    },
]

DEMO_STAFF_EMAIL = "admin@maaledu.local"


class Command(BaseCommand):
    help = "Create or refresh the demo courses and the demo staff account (idempotent)."

    def handle(self, *args, **options):
        with atomic():
            courses = self._seed()
        # Thumbnails now, not only through the queued task: the pages show covers at once
        # even when no worker runs yet (the task then finds nothing to do).
        for course in courses:
            services.refresh_cover(course.pk)

    def _seed(self) -> list[Course]:
        created = 0
        courses = []
        for index, data in enumerate(DEMO_COURSES):
            course, was_created = Course.objects.update_or_create(
                slug=data["slug"],
                defaults={
                    **data,
                    "is_published": True,
                    "is_featured": data["slug"] in FEATURED_SLUGS,
                    "frappe_course": data["slug"],
                },
            )
            created += was_created
            if not (course.image and course.image.storage.exists(course.image.name)):
                cover = draw_cover(title=course.title, subtitle=course.subtitle, index=index)
                course.image.save(f"{course.slug}.jpg", ContentFile(cover), save=True)
            courses.append(course)
        updated = len(DEMO_COURSES) - created
        self.stdout.write(f"Demo courses: {created} created, {updated} updated.")

        password = settings.DEMO_ADMIN_PASSWORD
        if not password:
            raise CommandError("Set DEMO_ADMIN_PASSWORD to create the demo staff account.")
        account_services.ensure_demo_staff(email=DEMO_STAFF_EMAIL, password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo staff login: {DEMO_STAFF_EMAIL} / {password}  "
                f"(admin at {settings.SITE_URL}/admin/)"
            )
        )
        return courses
