"""What the fake Frappe LMS holds for the demo courses (``seed_demo``): chapters of lessons and
an instructor each, so course pages have an outline to show. Used by ``make demo`` and the
browser tests' stack."""

from __future__ import annotations

from collections.abc import Iterable

from .frappe_server import FakeFrappe

INSTRUCTORS = [
    ("amira.haddad@maaledu.local", "Amira Haddad"),
    ("jonas.berg@maaledu.local", "Jonas Berg"),
    ("priya.raman@maaledu.local", "Priya Raman"),
]
# What the fake LMS holds for each demo course (its LMS name is its slug): chapters of lessons;
# a lesson marked True is a free preview.
OUTLINES: dict[str, list[tuple[str, list[str | tuple[str, bool]]]]] = {
    "aws-solutions-architect-associate": [
        (
            "Designing secure architectures",
            [("How the exam is scored", True), "IAM in depth", "VPC security"],
        ),
        (
            "Resilient and high-performing designs",
            ["Multi-AZ and multi-Region", "Storage tiers", "Caching"],
        ),
        ("Cost-optimised architectures", ["Pricing models", "Mock exam review"]),
    ],
    "certified-kubernetes-administrator": [
        (
            "Cluster architecture",
            [("The CKA in 10 minutes", True), "kubeadm installs", "etcd backup and restore"],
        ),
        ("Workloads and scheduling", ["Deployments", "Taints and tolerations"]),
        ("Troubleshooting", ["Broken nodes", "Networking drills", "Timed mock exam"]),
    ],
    "pmp-exam-prep": [
        ("People", [("Your study plan", True), "Leading teams", "Conflict"]),
        ("Process", ["Predictive planning", "Agile delivery", "Risk"]),
        ("Business environment", ["Compliance", "Benefits realisation"]),
    ],
    "comptia-security-plus": [
        ("Threats and vulnerabilities", [("Attack types", True), "Social engineering"]),
        ("Security architecture", ["Zero trust", "Cryptography basics"]),
        ("Operations and governance", ["Incident response", "Risk management"]),
    ],
    "data-analytics-professional": [
        ("Ask and prepare", [("Thinking like an analyst", True), "Data sources"]),
        ("Process and analyse", ["SQL fundamentals", "Spreadsheets", "Cleaning data"]),
        ("Share and act", ["Dashboards", "Capstone project"]),
    ],
    "professional-scrum-master": [
        ("Scrum theory", [("Empiricism", True), "Values"]),
        ("The Scrum Team", ["Accountabilities", "Self-management"]),
        ("Events and artefacts", ["Sprint Planning", "Increments", "Assessment drills"]),
    ],
}


def add_demo_courses(fake: FakeFrappe, names: Iterable[str] | None = None) -> None:
    """Add the LMS courses ``names`` (default: every demo course), published and free, with
    their outline when there is one."""
    for index, name in enumerate(OUTLINES if names is None else names):
        fake.add_course(name)
        for title, lessons in OUTLINES.get(name, []):
            fake.add_chapter(name, title, lessons)
        email, full_name = INSTRUCTORS[index % len(INSTRUCTORS)]
        fake.add_instructor(name, email, full_name)
