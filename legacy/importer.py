"""The import from the old MaalEdu's MongoDB into this site, through each app's services.

Order: users → courses → affiliates → enrollments (with their commissions) → grants (linking
the enrollments their coupons paid for) → payouts (each affiliate's old ``totalPaid``) →
retry jobs (read, superseded). Each document is imported in one transaction that ends with its
``LegacyRecord``; a document with a record is "already imported". A document that cannot be
imported raises ``Skip`` (or a validation error) and is reported, never a crash halfway.

The dry run goes through the same reading and checks and stops before each write; later phases
see what earlier phases would have created as unsaved objects.
"""

import contextlib
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError
from django.utils import timezone
from django.utils.text import slugify

from accounts import services as account_services
from accounts.models import User
from accounts.selectors import verified_email_of
from affiliates import services as affiliate_services
from affiliates.models import Affiliate, PayoutMethod
from affiliates.validators import clean_payout_details
from common.logging import mask_email
from common.money import format_money
from common.transactions import atomic
from courses import services as course_services
from courses.models import Course
from enrollments import services as enrollment_services
from enrollments.models import Enrollment
from grants import services as grant_services
from grants.coupons import is_current_format, normalize_coupon_code, normalize_legacy_coupon_code
from grants.models import Grant
from lms_sync import services as lms_services

from .documents import (
    DEFAULT_CURRENCY,
    Skip,
    created_at,
    currency_of,
    email_of,
    legacy_id,
    minor_units,
    moment,
    percent,
    sub,
    text,
    truthy,
    unknown_fields,
)
from .models import LegacyRecord
from .progress import Progress
from .report import Report

PAYOUT_REFERENCE = "Paid by the old MaalEdu before the import (its totalPaid)"
PAID_STATUSES = ("paid", "completed", "refunded")
ADMIN_ROLES = ("admin", "staff", "superadmin")
ALREADY_OWNED = "the learner has another paid enrollment for this course"
# A document of an unexpected shape is skipped with the error, never a crash halfway.
_BAD_DOCUMENT = (
    ValidationError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IntegrityError,
    DataError,
)


class Importer:
    def __init__(
        self,
        db,
        *,
        amount_unit: str,
        dry_run: bool = False,
        course_map: dict | None = None,
        staff_from_role: bool = False,
        progress_stream=None,
    ) -> None:
        self.db = db
        self.unit = amount_unit
        self.dry_run = dry_run
        self.course_map = {str(k): str(v) for k, v in (course_map or {}).items()}
        self.staff_from_role = staff_from_role
        self.progress_stream = progress_stream
        self.report = Report(dry_run=dry_run, amount_unit=amount_unit)
        self.now = timezone.now()
        # collection → {old _id: target id}, and the first old _id of each target.
        self.done: dict[str, dict[str, str]] = defaultdict(dict)
        self.first: dict[str, dict[str, str]] = defaultdict(dict)
        for collection, old_id, target in LegacyRecord.objects.values_list(
            "collection", "legacy_id", "target_id"
        ).order_by("collection", "legacy_id"):
            self.done[collection][old_id] = target
            self.first[collection].setdefault(target, old_id)
        # What this run produced (unsaved objects in a dry run), for later phases.
        self.users_by_email: dict[str, User] = {}
        self.user_lid_by_email: dict[str, str] = {}
        self.courses: dict[str, Course] = {}
        self.old_currencies: dict[str, str] = {}  # old courseId / _id → its old currency
        self.affiliates_by_email: dict[str, Affiliate] = {}
        self.enrollments: dict[str, Enrollment] = {}
        self.enrollment_lids_by_grant: dict[str, list[str]] = defaultdict(list)
        self.enrollment_lids_by_code: dict[str, list[str]] = defaultdict(list)
        self.stored_commissions: dict[str, int] = defaultdict(int)
        self.affiliate_currencies: dict[str, set] = defaultdict(set)
        self.queued_enrollments: set[str] = set()
        self.dry_paid: set[tuple[str, str]] = set()  # (e-mail, course slug) paid in a dry run

    # --- The run ---------------------------------------------------------------------------

    def run(self) -> Report:
        self._each("users", self._user)
        self._each("courses", self._course, remember=self._remember_course)
        self._each("affiliates", self._affiliate)
        self._each("enrollments", self._enrollment, observe=self._observe_enrollment)
        self._each("grants", self._grant)
        self._each("payouts", self._payout, source="affiliates", observe=self._check_balance)
        self._each("retryjobs", self._retry_job)
        return self.report

    def _each(self, collection, handler, *, source=None, observe=None, remember=None) -> None:
        stats = self.report.of(collection)
        documents = self.db[source or collection]
        progress = Progress(collection, documents.count_documents({}), self.progress_stream)
        for doc in documents.find({}).sort("_id", 1):
            progress.step()
            lid = legacy_id(doc)
            if observe is not None and observe(doc, lid) is False:
                continue  # not a document of this phase (an affiliate without totalPaid)
            stats.read += 1
            if source is None:
                for key in unknown_fields(collection, doc):
                    stats.unknown_fields[key] += 1
            if lid in self.done[collection]:
                stats.already_imported += 1
                if remember is not None:
                    remember(doc, self.done[collection][lid])
                continue
            try:
                imported = handler(doc, lid)
            except Skip as skip:
                self._skipped(stats, lid, skip.reason, skip.detail)
                continue
            except _BAD_DOCUMENT as error:
                self._skipped(stats, lid, "invalid_document", _describe(error))
                continue
            if imported is not False:
                stats.imported += 1
        progress.close()

    @staticmethod
    def _skipped(stats, lid: str, reason: str, detail: str) -> None:
        stats.skipped += 1
        stats.skip_reasons[reason] += 1
        stats.skips.append((lid, reason, detail))

    def _record(self, collection: str, lid: str, obj) -> None:
        """The idempotency guard, last write of the document's transaction."""
        LegacyRecord.objects.create(
            collection=collection,
            legacy_id=lid,
            target_model=obj._meta.label_lower,
            target_id=str(obj.pk),
        )
        self.done[collection][lid] = str(obj.pk)
        self.first[collection].setdefault(str(obj.pk), lid)

    # --- Users -----------------------------------------------------------------------------

    def _user(self, doc: dict, lid: str):
        email = email_of(doc.get("email"))
        password = account_services.legacy_password(doc.get("password"))
        verified = truthy(doc.get("emailVerified")) or truthy(doc.get("isVerified"))
        is_admin = text(doc.get("role")).lower() in ADMIN_ROLES
        is_staff = is_admin and self.staff_from_role
        merged_into = self.user_lid_by_email.get(email)
        if merged_into is None:
            existing = User.objects.filter(email=email).first()
            if existing is not None:
                merged_into = self.first["users"].get(str(existing.pk))
            if existing is not None and merged_into is None and not verified_email_of(existing):
                # Opened here before the import by whoever typed this address and never
                # verified: the old system's verification and role prove nothing about it.
                verified = is_staff = False
                self.report.counts["existing_accounts_unproven"] += 1
        if self.dry_run:
            self.users_by_email.setdefault(email, User(email=email))
        else:
            with atomic():
                user, _created = account_services.import_user(
                    email=email,
                    name=text(doc.get("name")),
                    password=password,
                    verified=verified,
                    is_staff=is_staff,
                    date_joined=created_at(doc),
                )
                self._record("users", lid, user)
            self.users_by_email[email] = user
        self.user_lid_by_email.setdefault(email, lid)
        if merged_into is not None:
            self.report.merged_users.append(
                {"legacy_id": lid, "into": merged_into, "email": mask_email(email)}
            )
        if password is None:
            self.report.counts["passwords_unusable"] += 1
        if is_admin:
            self.report.counts["staff_from_role" if is_staff else "admin_roles_not_carried"] += 1

    # --- Courses ---------------------------------------------------------------------------

    def _remember_course(self, doc: dict, target_id: str) -> None:
        course = Course.objects.filter(pk=target_id).first()
        if course is not None:
            self._index_course(doc, course)

    def _index_course(self, doc: dict, course: Course) -> None:
        self.courses[legacy_id(doc)] = course
        if doc.get("courseId") not in (None, ""):
            self.courses[str(doc["courseId"])] = course
        with contextlib.suppress(Skip):  # an unusable currency: its sales say theirs, or usd
            old_currency = currency_of(doc)
            self.old_currencies[legacy_id(doc)] = old_currency
            if doc.get("courseId") not in (None, ""):
                self.old_currencies[str(doc["courseId"])] = old_currency

    def _sale_currency(self, doc: dict) -> str:
        """What an old sale was paid in: its own ``currency``, else its old course's, else the
        old system's (never the currency of the course it maps to here: that may differ)."""
        course_currency = self.old_currencies.get(str(doc.get("courseId")), DEFAULT_CURRENCY)
        return currency_of(doc, course_currency)

    def _course(self, doc: dict, lid: str):
        old_id = doc.get("courseId")
        if old_id in (None, "") or not isinstance(old_id, str | int):
            raise Skip("missing_course_id", "no courseId")
        old_id = str(old_id)
        if old_id in self.course_map:
            course = Course.objects.filter(slug=self.course_map[old_id]).first()
            if course is None:
                raise Skip(
                    "mapped_course_missing", f"--course-map names {self.course_map[old_id]!r}"
                )
        else:
            slug = slugify(old_id)[:120]
            if not slug:
                raise Skip("missing_course_id", f"courseId {old_id!r} gives no slug")
            course = Course.objects.filter(slug=slug).first()
            if course is None:
                course = self._new_course(doc, slug)
        if not self.dry_run:
            with atomic():
                if course.pk is None:
                    course, _created = course_services.import_unpublished_course(
                        slug=course.slug,
                        title=course.title,
                        description=course.description,
                        price_cents=course.price_cents,
                        currency=course.currency,
                        level=course.level,
                    )
                self._record("courses", lid, course)
        self._index_course(doc, course)

    def _new_course(self, doc: dict, slug: str) -> Course:
        """An unknown course, to be created unpublished (never invented as published)."""
        price = doc.get("price")
        price_cents = 0 if price is None else minor_units(price, self.unit, field="price")
        self.report.counts["courses_created_unpublished"] += 1
        return Course(
            slug=slug,
            title=text(doc.get("title")) or str(doc["courseId"]),
            description=doc.get("description") if isinstance(doc.get("description"), str) else "",
            price_cents=price_cents,
            currency=currency_of(doc),
            level=text(doc.get("level")).lower(),
            is_published=False,
        )

    def _course_for(self, value) -> Course:
        """The course an old document names by ``courseId`` (or by the course's ``_id``)."""
        if value in (None, ""):
            raise Skip("missing_course_id", "no courseId")
        key = str(value)
        if key in self.courses:
            return self.courses[key]
        slug = self.course_map.get(key) or slugify(key)[:120]
        course = Course.objects.filter(slug=slug).first() if slug else None
        if course is None:
            raise Skip("unknown_course", f"courseId {key!r} matches no course")
        self.courses[key] = course
        return course

    # --- Affiliates ------------------------------------------------------------------------

    def _user_for(self, email: str) -> User | None:
        if email in self.users_by_email:
            return self.users_by_email[email]
        return User.objects.filter(email=email).first()

    def _affiliate_for(self, email: str) -> Affiliate | None:
        if email in self.affiliates_by_email:
            return self.affiliates_by_email[email]
        affiliate = Affiliate.objects.filter(user__email=email).first()
        if affiliate is not None:
            self.affiliates_by_email[email] = affiliate
        return affiliate

    def _affiliate(self, doc: dict, lid: str):
        email = email_of(doc.get("email"))
        user = self._user_for(email)
        if user is None:
            raise Skip("no_user_account", "no imported or existing user with this e-mail")
        rate = percent(
            doc.get("commissionRate"),
            field="commissionRate",
            default=settings.AFFILIATE_DEFAULT_RATE_PERCENT,
        )
        method = sub(doc, "paymentMethod")
        kind = text(method.get("type")).lower().replace("-", "_")
        bank = sub(method, "bankDetails")
        details = {
            "paypal_email": "",
            "bank_account_holder": "",
            "bank_account": "",
            "bank_name": "",
            "bank_swift": "",
        }
        if kind == "paypal":
            details.update(
                payout_method=PayoutMethod.PAYPAL,
                paypal_email=text(method.get("paypalEmail")) or email,
            )
        elif kind in ("bank", "bank_transfer"):
            details.update(
                payout_method=PayoutMethod.BANK,
                bank_account_holder=text(bank.get("accountHolderName")),
                bank_account=text(bank.get("accountNumber")),
                bank_name=text(bank.get("bankName")),
                bank_swift=text(bank.get("swiftCode")),
            )
        else:
            raise Skip("no_payout_method", f"paymentMethod.type {method.get('type')!r}")
        try:
            details = clean_payout_details(**details)
        except ValidationError as error:
            raise Skip("invalid_payout_details", "; ".join(error.messages)) from error
        active = text(doc.get("status"), "active").lower() == "active"
        if self.dry_run:
            self.affiliates_by_email[email] = Affiliate(user=user, rate_percent=rate, **details)
            return None
        with atomic():
            affiliate, created = affiliate_services.import_affiliate(
                user=user, rate_percent=rate, active=active, joined_at=created_at(doc), **details
            )
            other = self.first["affiliates"].get(str(affiliate.pk))
            if not created and other is not None:
                raise Skip("duplicate_affiliate", f"the same affiliate as {other}")
            self._record("affiliates", lid, affiliate)
        self.affiliates_by_email[email] = affiliate
        return None

    # --- Enrollments -----------------------------------------------------------------------

    def _observe_enrollment(self, doc: dict, lid: str) -> None:
        """For every paid sale, imported now or before: which grant it used, and the commission
        the old system stored (for the affiliates' balance check)."""
        status = text(doc.get("status")).lower()
        if status not in PAID_STATUSES:
            return
        grant = sub(doc, "grantData")
        grant_id = doc.get("grantId") or grant.get("grantId")
        code = doc.get("couponCode") or grant.get("couponCode")
        if grant_id:
            self.enrollment_lids_by_grant[str(grant_id)].append(lid)
        if isinstance(code, str) and code.strip():
            self.enrollment_lids_by_code[code.strip().upper()].append(lid)
        affiliate = sub(doc, "affiliateData")
        if status == "refunded" or not isinstance(affiliate.get("affiliateEmail"), str):
            return
        affiliate_email = affiliate["affiliateEmail"].strip().lower()
        try:
            stored = minor_units(affiliate.get("commissionAmount"), self.unit, field="commission")
            currency = self._sale_currency(doc)
        except Skip:
            return
        self.stored_commissions[affiliate_email] += stored
        self.affiliate_currencies[affiliate_email].add(currency)

    def _enrollment(self, doc: dict, lid: str):
        status = text(doc.get("status")).lower()
        if status not in PAID_STATUSES:
            raise Skip("not_paid", f"status {status or 'missing'}: never paid, not an enrollment")
        email = email_of(doc.get("email"))
        course = self._course_for(doc.get("courseId"))
        currency = self._sale_currency(doc)
        amount = minor_units(doc.get("amount"), self.unit, field="amount")
        grant_data = sub(doc, "grantData")
        kind_name = text(doc.get("enrollmentType")).lower()
        has_grant = bool(
            doc.get("grantId")
            or doc.get("couponCode")
            or grant_data.get("grantId")
            or grant_data.get("couponCode")
            or kind_name in ("free_grant", "partial_grant")
        )
        if has_grant:
            kind = Enrollment.Kind.FULL_GRANT if amount == 0 else Enrollment.Kind.PARTIAL_GRANT
            original = grant_data.get("originalPrice")
            if original is not None:
                list_price = minor_units(original, self.unit, field="grantData.originalPrice")
            else:
                list_price = course.price_cents
            list_price = max(list_price, amount)
        else:
            kind, list_price = Enrollment.Kind.PURCHASE, amount
        sync = sub(doc, "frappeSync")
        synced = truthy(sync.get("synced")) and text(sync.get("syncStatus"), "success").lower() in (
            "success",
            "synced",
            "completed",
        )
        lms_name = str(sync.get("enrollmentId") or "").strip()[:140] if synced else ""
        refunded = status == "refunded"
        payment_ids = [
            str(doc.get(key) or "").strip()
            for key in ("stripeSessionId", "paymentId", "stripePaymentIntentId")
        ]
        session_id = next((p for p in payment_ids if p.startswith("cs_")), None)
        intent_id = next((p for p in payment_ids if p.startswith("pi_")), "")
        affiliate, commission = self._commission_of(doc, lid, email, amount)
        sale = enrollment_services.ImportedSale(
            email=email,
            user=self._user_for(email),
            course=course,
            kind=kind,
            list_price_cents=list_price,
            discount_cents=list_price - amount,
            currency=currency,
            paid_at=moment(doc.get("paidAt")) or created_at(doc),
            refunded=refunded,
            affiliate_id=affiliate.pk if affiliate is not None else None,
            stripe_session_id=session_id,
            stripe_payment_intent_id=intent_id,
        )
        if self.dry_run:
            owner = (email, course.slug)
            if not refunded and (
                owner in self.dry_paid or enrollment_services.owned_elsewhere(sale)
            ):
                raise Skip("already_owned", ALREADY_OWNED)
            if not refunded:
                self.dry_paid.add(owner)
            enrollment = Enrollment(paid_at=sale.paid_at)
        else:
            lms_synced = (lms_name, moment(sync.get("syncedAt"))) if lms_name else None
            enrollment = self._write_sale(sale, lid, commission, affiliate, lms_synced)
        self.enrollments[lid] = enrollment
        if not refunded:
            key = "lms_synced_kept" if lms_name else "lms_jobs_queued"
            self.report.counts[key] += 1
            if not lms_name:
                self.queued_enrollments.add(lid)

    def _commission_of(self, doc: dict, lid: str, buyer: str, amount: int):
        """The sale's affiliate and the commission the old system stored for it, as
        ``(affiliate, (amount_cents, rate) | None)``; a sale that should have one and cannot is
        reported."""
        data = sub(doc, "affiliateData")
        raw_email = data.get("affiliateEmail")
        if not isinstance(raw_email, str) or not raw_email.strip():
            return None, None
        email = raw_email.strip().lower()
        affiliate = self._affiliate_for(email)
        if affiliate is None or email == buyer:
            reason = "the affiliate was not imported" if affiliate is None else "self-referral"
            self.report.commissions_not_recorded.append({"enrollment": lid, "reason": reason})
            return None, None
        if amount == 0:
            return affiliate, None
        try:
            stored = minor_units(data.get("commissionAmount"), self.unit, field="commissionAmount")
            rate = percent(
                data.get("commissionRate"), field="commissionRate", default=affiliate.rate_percent
            )
        except Skip as skip:
            reason = f"stored commission unusable ({skip.reason}: {skip.detail})"
        else:
            if stored <= amount:
                return affiliate, (stored, rate)
            reason = "stored commission exceeds the sale"
        self.report.commissions_not_recorded.append({"enrollment": lid, "reason": reason})
        return affiliate, None

    def _write_sale(self, sale, lid: str, commission, affiliate, lms_synced) -> Enrollment:
        """The sale, through ``enrollments``; its LMS state through ``lms_sync``: repaired, not
        copied. Only a sale the old system synced *and* whose Frappe enrollment name it kept gets
        a synced enrol job; every other paid one gets a pending job (the sweep would create it
        too), whose look-before-insert is safe when the learner was in fact enrolled."""
        with atomic():
            try:
                enrollment, created = enrollment_services.import_sale(sale)
            except enrollment_services.AlreadyOwned as error:
                raise Skip("already_owned", ALREADY_OWNED) from error
            other = self.first["enrollments"].get(str(enrollment.pk))
            if not created and other is not None:
                raise Skip("duplicate_sale", f"the same sale as {other}")
            if commission is not None:
                amount_cents, rate = commission
                affiliate_services.import_commission(
                    affiliate_id=affiliate.pk,
                    sale_id=enrollment.pk,
                    course=sale.course,
                    buyer_email=sale.email,
                    sale_amount_cents=enrollment.amount_due_cents,
                    currency=sale.currency,
                    rate_percent=rate,
                    amount_cents=amount_cents,
                    sold_at=sale.paid_at,
                    reversed=sale.refunded,
                )
            if created and not sale.refunded:
                if lms_synced is not None:
                    lms_services.record_imported_sync(
                        enrollment_id=enrollment.pk,
                        lms_enrollment_name=lms_synced[0],
                        synced_at=lms_synced[1] or sale.paid_at,
                    )
                else:
                    lms_services.schedule(enrollment_id=enrollment.pk)
            self._record("enrollments", lid, enrollment)
        return enrollment

    # --- Grants ----------------------------------------------------------------------------

    def _enrollment_pk(self, lid: str):
        """The enrollment an imported old enrollment became (unsaved in a dry run), or None."""
        if lid in self.enrollments:
            return self.enrollments[lid]
        target = self.done["enrollments"].get(lid)
        if target is None:
            return None
        return Enrollment.objects.filter(pk=target).only("pk", "paid_at").first()

    def _grant(self, doc: dict, lid: str):
        email = email_of(doc.get("email"))
        course = self._course_for(doc.get("courseId"))
        name = text(doc.get("name")) or email.split("@")[0]
        statement = text(doc.get("reason")) or text(doc.get("statement")) or "(imported)"
        status = text(doc.get("status")).lower()
        fields = {"name": name, "email": email, "course": course, "statement": statement}
        fields["admin_notes"] = (
            doc.get("adminNotes") if isinstance(doc.get("adminNotes"), str) else ""
        )
        redeemers: list = []
        if status in ("pending", "rejected"):
            fields["status"] = status
        elif status == "approved":
            redeemers = self._approved_grant(doc, lid, fields)
        else:
            raise Skip("unknown_status", f"status {status or 'missing'}")
        if self.dry_run:
            return None
        with atomic():
            grant, created = grant_services.import_grant(**fields)
            other = self.first["grants"].get(str(grant.pk))
            if not created and other is not None:
                raise Skip("duplicate_grant", f"the same coupon or application as {other}")
            for enrollment in redeemers:
                enrollment_services.link_imported_grant(
                    enrollment_id=enrollment.pk, grant_id=grant.pk
                )
            self._record("grants", lid, grant)
        return None

    def _approved_grant(self, doc: dict, lid: str, fields: dict) -> list:
        raw_code = doc.get("couponCode")
        code = normalize_coupon_code(raw_code) or normalize_legacy_coupon_code(raw_code)
        if code is None:
            raise Skip("invalid_coupon_code", "approved, but no usable couponCode")
        meta = sub(doc, "couponMetadata")
        discount = percent(
            meta.get("discountPercentage", doc.get("discountPercentage")),
            field="discountPercentage",
        )
        if discount is None or discount < 10:
            raise Skip("invalid_discount", f"discountPercentage {discount!r} (10–100)")
        expires_at = moment(meta.get("expiresAt") or doc.get("expiresAt"))
        # Who used it: the grant's own enrollmentId first, then every paid sale naming it.
        candidates = [str(doc["enrollmentId"])] if doc.get("enrollmentId") else []
        candidates += self.enrollment_lids_by_grant.get(lid, [])
        candidates += self.enrollment_lids_by_code.get(code, [])
        redeemers, redeemer_lids = [], []
        for enrollment_lid in dict.fromkeys(candidates):
            enrollment = self._enrollment_pk(enrollment_lid)
            if enrollment is not None:
                redeemers.append(enrollment)
                redeemer_lids.append(enrollment_lid)
        fields.update(coupon_code=code, discount_percent=discount)
        if not is_current_format(code):
            self.report.counts["legacy_coupon_codes"] += 1
        if redeemers:
            if len(redeemers) > 1:
                self.report.double_used_coupons.append(
                    {
                        "grant": lid,
                        "code_end": code[-4:],
                        "redeemed_by": redeemer_lids[0],
                        "also_used_by": redeemer_lids[1:],
                    }
                )
                fields["admin_notes"] = (
                    fields["admin_notes"]
                    + "\nOld MaalEdu: this coupon was used by "
                    + f"{len(redeemers)} enrollments ({', '.join(redeemer_lids)})."
                ).strip()
            redeemed_at = moment(doc.get("couponUsedAt")) or redeemers[0].paid_at or self.now
            fields.update(
                status=Grant.Status.APPROVED,
                coupon_expires_at=expires_at or redeemed_at,
                redeemed_enrollment_id=redeemers[0].pk,
                redeemed_at=redeemed_at,
            )
            if self.dry_run:
                fields["redeemed_enrollment_id"] = 0
        elif truthy(doc.get("couponUsed")):
            # Used, but by nothing we imported: never usable again.
            self.report.used_coupons_without_enrollment.append(
                {"grant": lid, "enrollment": str(doc.get("enrollmentId") or "")}
            )
            fields.update(
                status=Grant.Status.EXPIRED,
                coupon_expires_at=min(expires_at or self.now, self.now),
            )
        else:
            if expires_at is None:
                expires_at = self.now + timedelta(days=settings.GRANT_COUPON_VALID_DAYS)
            expired = expires_at <= self.now
            fields.update(
                status=Grant.Status.EXPIRED if expired else Grant.Status.APPROVED,
                coupon_expires_at=expires_at,
            )
        return redeemers

    # --- Payouts and balances --------------------------------------------------------------

    def _affiliate_target(self, lid: str) -> Affiliate | None:
        target = self.done["affiliates"].get(lid)
        if target is not None:
            return Affiliate.objects.filter(pk=target).first()
        return None

    def _check_balance(self, doc: dict, lid: str):
        """Compare the old pendingCommissions with Σ stored commissions − totalPaid; and tell
        ``_each`` whether this affiliate has a payout to import."""
        try:
            email = email_of(doc.get("email"))
            paid = minor_units(doc.get("totalPaid") or 0, self.unit, field="totalPaid")
        except Skip:
            return False
        currencies = self.affiliate_currencies.get(email) or {DEFAULT_CURRENCY}
        currency = sorted(currencies)[0]
        if "pendingCommissions" in doc:
            try:
                old_pending = minor_units(
                    doc.get("pendingCommissions") or 0, self.unit, field="pendingCommissions"
                )
            except Skip:
                old_pending = None
            ours = self.stored_commissions.get(email, 0) - paid
            if old_pending is None or old_pending != max(ours, 0):
                self.report.commission_mismatches.append(
                    {
                        "affiliate": lid,
                        "old_pending": repr(doc.get("pendingCommissions")),
                        "old_pending_cents": old_pending,
                        "stored_minus_paid_cents": ours,
                        "stored_minus_paid": format_money(ours, currency),
                    }
                )
        imported = lid in self.done["affiliates"] or email in self.affiliates_by_email
        return paid > 0 and imported

    def _payout(self, doc: dict, lid: str):
        email = email_of(doc.get("email"))
        paid = minor_units(doc.get("totalPaid") or 0, self.unit, field="totalPaid")
        currencies = self.affiliate_currencies.get(email) or {DEFAULT_CURRENCY}
        if len(currencies) > 1:
            raise Skip("several_currencies", f"sales in {', '.join(sorted(currencies))}")
        if self.dry_run:
            return None
        affiliate = self._affiliate_target(lid)
        if affiliate is None:
            raise Skip("affiliate_not_imported")
        with atomic():
            payout, _created = affiliate_services.import_payout(
                affiliate_id=affiliate.pk,
                amount_cents=paid,
                currency=next(iter(currencies)),
                method=affiliate.payout_method,
                reference=PAYOUT_REFERENCE,
            )
            self._record("payouts", lid, payout)
        return None

    # --- Retry jobs ------------------------------------------------------------------------

    def _retry_job(self, doc: dict, lid: str):
        """Not imported: every paid enrollment the old system had not synced already has a job
        here. Counted when it points at one of them."""
        if str(doc.get("enrollmentId") or "") in self.queued_enrollments:
            self.report.counts["retry_jobs_superseded"] += 1
        return False


def _describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return f"{type(error).__name__}: {error}"[:300]
