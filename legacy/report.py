"""What an import did (or, in a dry run, would do): per collection, per skip reason, and the
findings staff must look at. Printed as text; ``--report FILE`` also writes it as JSON.

No e-mail address appears in full: documents are named by their old ``_id``, learners masked.
"""

import json
from collections import Counter
from dataclasses import asdict, dataclass, field

COLLECTIONS = ("users", "courses", "affiliates", "enrollments", "grants", "payouts", "retryjobs")


@dataclass
class CollectionReport:
    read: int = 0
    imported: int = 0
    already_imported: int = 0
    skipped: int = 0
    skip_reasons: Counter = field(default_factory=Counter)
    # (old _id, reason, detail) of every skipped document.
    skips: list = field(default_factory=list)
    # Fields no rule reads, and how many documents had each.
    unknown_fields: Counter = field(default_factory=Counter)


@dataclass
class Report:
    dry_run: bool = False
    amount_unit: str = ""
    collections: dict = field(default_factory=lambda: {c: CollectionReport() for c in COLLECTIONS})
    # Findings: each a list of dicts naming old ids, for staff.
    merged_users: list = field(default_factory=list)
    double_used_coupons: list = field(default_factory=list)
    used_coupons_without_enrollment: list = field(default_factory=list)
    commission_mismatches: list = field(default_factory=list)
    commissions_not_recorded: list = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def of(self, collection: str) -> CollectionReport:
        return self.collections[collection]

    @property
    def changed(self) -> int:
        return sum(c.imported for c in self.collections.values())

    def as_dict(self) -> dict:
        data = asdict(self)
        for name, collection in data["collections"].items():
            collection["skip_reasons"] = dict(self.collections[name].skip_reasons)
            collection["unknown_fields"] = dict(self.collections[name].unknown_fields)
        data["counts"] = dict(self.counts)
        data["changed"] = self.changed
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True, default=str)

    def to_text(self) -> str:
        lines = []
        head = "Import from the old MaalEdu"
        if self.dry_run:
            head += " — DRY RUN: nothing was written; 'imported' means 'would be imported'"
        lines += [head, f"Amounts read as: {self.amount_unit}", ""]
        lines.append(
            f"{'collection':<12} {'read':>6} {'imported':>9} {'already':>8} {'skipped':>8}"
        )
        for name, c in self.collections.items():
            lines.append(
                f"{name:<12} {c.read:>6} {c.imported:>9} {c.already_imported:>8} {c.skipped:>8}"
            )
        for name, c in self.collections.items():
            if c.skip_reasons:
                lines += ["", f"Skipped {name}:"]
                for reason, count in sorted(c.skip_reasons.items()):
                    lines.append(f"  {reason}: {count}")
                for old_id, reason, detail in c.skips:
                    lines.append(f"    {old_id}  {reason}" + (f" ({detail})" if detail else ""))
        unknown = [
            f"  {name}.{key}: {count} document(s)"
            for name, c in self.collections.items()
            for key, count in sorted(c.unknown_fields.items())
        ]
        if unknown:
            lines += ["", "Unknown fields (ignored):", *unknown]
        lines += self._findings()
        lines.append("")
        if self.changed == 0:
            lines.append(
                "Nothing to import: every document was already imported or is skipped as above."
                if not self.dry_run
                else "A real run would change nothing."
            )
        else:
            verb = "would be" if self.dry_run else "were"
            lines.append(f"{self.changed} document(s) {verb} imported.")
        return "\n".join(lines) + "\n"

    def _findings(self) -> list[str]:
        lines = []

        def section(title: str, rows: list, fmt) -> None:
            if rows:
                lines.extend(["", f"{title} ({len(rows)}):", *(f"  {fmt(row)}" for row in rows)])

        section(
            "Learners merged (same e-mail after trimming and lower-casing)",
            self.merged_users,
            lambda r: f"{r['legacy_id']} merged into {r['into']} ({r['email']})",
        )
        section(
            "Coupons used by more than one enrollment (the old race): check with the learners",
            self.double_used_coupons,
            lambda r: (
                f"grant {r['grant']} (code …{r['code_end']}): redeemed by enrollment "
                f"{r['redeemed_by']}, also used by {', '.join(r['also_used_by'])}"
            ),
        )
        section(
            "Coupons marked used whose enrollment was not imported (now expired)",
            self.used_coupons_without_enrollment,
            lambda r: f"grant {r['grant']}: enrollment {r['enrollment'] or 'unknown'}",
        )
        section(
            "Affiliates whose old pendingCommissions disagrees with the stored commissions",
            self.commission_mismatches,
            lambda r: (
                f"affiliate {r['affiliate']}: old pendingCommissions {r['old_pending']}, "
                f"stored commissions − totalPaid = {r['stored_minus_paid']}"
            ),
        )
        section(
            "Affiliate sales imported without a commission",
            self.commissions_not_recorded,
            lambda r: f"enrollment {r['enrollment']}: {r['reason']}",
        )
        notes = {
            "lms_jobs_queued": "paid enrollments given an LMS sync job (not synced in the old "
            "system, or synced without a Frappe enrollment name)",
            "lms_synced_kept": "paid enrollments kept as synced with their Frappe enrollment",
            "legacy_coupon_codes": "coupon codes in the old format kept valid as they are",
            "admin_roles_not_carried": "admin/staff roles not carried (use --staff-from-role)",
            "staff_from_role": "users made staff from their old role",
            "existing_accounts_unproven": "accounts opened here before the import with an "
            "unverified address: left unverified and not staff (the owner verifies by e-mail)",
            "passwords_unusable": "users without a bcrypt hash (they set a password by reset link)",
            "courses_created_unpublished": "courses created unpublished (publish after checking)",
            "retry_jobs_superseded": "old retry jobs superseded by the new LMS sync jobs",
        }
        counted = [
            f"  {note}: {self.counts[key]}" for key, note in notes.items() if self.counts[key]
        ]
        if counted:
            lines += ["", "Notes:", *counted]
        return lines
