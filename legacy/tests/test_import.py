"""import_legacy against a real MongoDB wire-protocol server loaded with old-shaped documents:
every mapping rule, the report, re-runs and the dry run."""

import io
import json

import pymongo
import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from accounts.models import User
from affiliates import selectors as affiliate_selectors
from affiliates.models import Affiliate, Commission, Payout
from affiliates.services import welcome_key
from common import outbox
from courses.models import Course
from enrollments.models import Enrollment
from enrollments.services import emails as enrollment_emails
from grants import selectors as grant_selectors
from grants import services as grant_services
from grants.models import Grant
from legacy.models import LegacyRecord
from lms_sync.tests.factories import job_of

from . import old_data as old

pytestmark = pytest.mark.django_db

DOLLARS_TOTAL_IMPORTED = 28


def lid(object_id) -> str:
    return str(object_id)


def enrollment_of(object_id) -> Enrollment:
    record = LegacyRecord.objects.get(collection="enrollments", legacy_id=lid(object_id))
    return Enrollment.objects.get(pk=record.target_id)


def grant_of(object_id) -> Grant:
    record = LegacyRecord.objects.get(collection="grants", legacy_id=lid(object_id))
    return Grant.objects.get(pk=record.target_id)


def counts_of(data: dict, collection: str) -> tuple[int, int, int, int]:
    c = data["collections"][collection]
    return c["read"], c["imported"], c["already_imported"], c["skipped"]


def test_learners_keep_their_old_password_and_it_is_upgraded_at_login(
    old_db, blockchain_course, tmp_path
):
    old_db.run(tmp_path=tmp_path)
    ann = User.objects.get(email="ann@example.com")
    assert ann.password.startswith("bcrypt$$2a$")
    bob = User.objects.get(email="bob@example.com")
    assert bob.password.startswith("bcrypt$$2y$")
    aff = User.objects.get(email="aff@example.com")
    assert aff.password.startswith("bcrypt$$2b$")
    request = RequestFactory().post("/accounts/login/")
    for user, password in ((ann, "ann-old-password"), (bob, "bob-old-password")):
        assert authenticate(request, email=user.email, password="wrong") is None
        assert authenticate(request, email=user.email.upper(), password=password) == user
        user.refresh_from_db()
        # Re-hashed with the first hasher (MD5 in the test settings) at this login.
        assert user.password.startswith("md5$")
        assert authenticate(request, email=user.email, password=password) == user
    assert authenticate(request, email=aff.email, password="aff-old-password") == aff
    carol = User.objects.get(email="carol@example.com")
    assert not carol.has_usable_password()


def test_emails_are_normalised_duplicates_merged_and_verified_status_carried(
    old_db, blockchain_course, tmp_path
):
    text, data = old_db.run(tmp_path=tmp_path)
    assert User.objects.filter(email__iexact="ann@example.com").count() == 1
    ann = User.objects.get(email="ann@example.com")
    records = LegacyRecord.objects.filter(collection="users", target_id=str(ann.pk))
    assert {r.legacy_id for r in records} == {lid(old.ANN), lid(old.ANN_DUP)}
    # The first document's password wins; the duplicate's is not mixed in.
    assert authenticate(None, email="ann@example.com", password="ann-old-password") == ann
    assert data["merged_users"] == [
        {"legacy_id": lid(old.ANN_DUP), "into": lid(old.ANN), "email": "a***@example.com"}
    ]
    assert f"{lid(old.ANN_DUP)} merged into {lid(old.ANN)}" in text
    assert "ann@example.com" not in text  # no address printed in full
    verified = set(EmailAddress.objects.filter(verified=True).values_list("email", flat=True))
    assert {"ann@example.com", "bob@example.com", "aff@example.com"} <= verified
    assert not EmailAddress.objects.get(email="carol@example.com").verified
    assert counts_of(data, "users") == (9, 8, 0, 1)
    assert data["collections"]["users"]["skip_reasons"] == {"invalid_email": 1}


def test_admin_role_makes_a_staff_user_only_with_the_flag(old_db, blockchain_course, tmp_path):
    _text, data = old_db.run(tmp_path=tmp_path)
    bob = User.objects.get(email="bob@example.com")
    assert not bob.is_staff
    assert data["counts"]["admin_roles_not_carried"] == 1
    LegacyRecord.objects.filter(collection="users", legacy_id=lid(old.BOB)).delete()
    old_db.run("--staff-from-role", tmp_path=tmp_path)
    bob.refresh_from_db()
    assert bob.is_staff and not bob.is_superuser


def test_an_unverified_account_opened_here_before_the_import_is_not_verified_or_made_staff(
    old_db, blockchain_course, tmp_path
):
    """Someone who signed up here with Bob's address before the import (never verified) must not
    inherit the old system's verification (Bob's courses, coupons) or Bob's admin role."""
    squatter = User.objects.create_user(email="bob@example.com", password="squatters-own")
    EmailAddress.objects.create(user=squatter, email=squatter.email, verified=False, primary=True)

    _text, data = old_db.run("--staff-from-role", tmp_path=tmp_path)

    squatter.refresh_from_db()
    assert not squatter.is_staff
    assert not EmailAddress.objects.get(email="bob@example.com").verified
    assert squatter.check_password("squatters-own")
    assert data["counts"]["existing_accounts_unproven"] == 1


def test_a_verified_account_opened_here_before_the_import_takes_the_old_role(
    old_db, blockchain_course, tmp_path
):
    bob = User.objects.create_user(email="bob@example.com", password="bobs-new-password")
    EmailAddress.objects.create(user=bob, email=bob.email, verified=True, primary=True)

    _text, data = old_db.run("--staff-from-role", tmp_path=tmp_path)

    bob.refresh_from_db()
    assert bob.is_staff
    assert "existing_accounts_unproven" not in data["counts"]


def test_courses_match_by_slug_and_unknown_ones_are_created_unpublished(
    old_db, blockchain_course, tmp_path
):
    _text, data = old_db.run(tmp_path=tmp_path)
    assert Course.objects.count() == 2
    blockchain_course.refresh_from_db()
    assert blockchain_course.is_published and blockchain_course.title == "Blockchain 101"
    defi = Course.objects.get(slug="defi-advanced")
    assert not defi.is_published
    assert (defi.title, defi.price_cents, defi.currency, defi.level) == (
        "DeFi Advanced",
        29900,
        "usd",
        "advanced",
    )
    assert data["collections"]["courses"]["skip_reasons"] == {"fractional_cents": 1}


def test_course_map_file_maps_old_course_ids_to_our_slugs(old_db, blockchain_course, tmp_path):
    Course.objects.create(
        slug="decentralised-finance", title="DeFi", description="x", price_cents=1000
    )
    course_map = tmp_path / "map.json"
    course_map.write_text(json.dumps({"defi-advanced": "decentralised-finance"}))
    old_db.run("--course-map", str(course_map), tmp_path=tmp_path)
    assert not Course.objects.filter(slug="defi-advanced").exists()
    assert enrollment_of(old.E_BOB_FAILED_SYNC).course.slug == "decentralised-finance"


def test_paid_enrollments_keep_what_was_paid_and_their_stripe_ids(
    old_db, blockchain_course, tmp_path
):
    _text, data = old_db.run(tmp_path=tmp_path)
    ann = enrollment_of(old.E_ANN)
    assert (ann.status, ann.kind, ann.amount_due_cents, ann.currency) == (
        "paid",
        "paid",
        49900,
        "usd",
    )
    assert ann.stripe_session_id == "cs_test_ann"
    assert ann.user == User.objects.get(email="ann@example.com")
    assert outbox.find(enrollment_emails.confirmation_key(ann.pk)) is None  # no e-mail again
    bob = enrollment_of(old.E_BOB_FAILED_SYNC)
    assert (bob.stripe_session_id, bob.stripe_payment_intent_id) == (None, "pi_test_bob")
    carol = enrollment_of(old.E_CAROL_AFFILIATE)
    assert carol.amount_due_cents == 44910  # 449.1 as a float
    erin = enrollment_of(old.E_ERIN_FIRST)
    assert (erin.kind, erin.list_price_cents, erin.discount_cents, erin.amount_due_cents) == (
        "partial_grant",
        49900,
        24950,
        24950,
    )
    dave = enrollment_of(old.E_DAVE_FREE)
    assert (dave.kind, dave.amount_due_cents, dave.list_price_cents) == ("full_grant", 0, 49900)
    refunded = enrollment_of(old.E_BOB_REFUNDED)
    assert (refunded.status, refunded.amount_refunded_cents) == ("refunded", 49900)
    assert job_of(refunded) is None  # never synced here: nothing to unenrol
    # Pending/abandoned checkouts are not enrollments; the rest is reported with the reason.
    assert Enrollment.objects.count() == 8
    assert data["collections"]["enrollments"]["skip_reasons"] == {
        "already_owned": 1,
        "fractional_cents": 1,
        "missing_email": 1,
        "negative_amount": 1,
        "not_paid": 1,
        "unknown_course": 1,
    }
    skipped = {row[0]: row[1] for row in data["collections"]["enrollments"]["skips"]}
    assert skipped[lid(old.E_UNKNOWN_COURSE)] == "unknown_course"
    assert skipped[lid(old.E_CAROL_PENDING)] == "not_paid"


def test_lms_state_is_repaired_not_copied(old_db, blockchain_course, tmp_path, redis_down):
    # The broker is down, so the queued jobs are seen before any worker starts them (on MongoDB
    # after-commit work runs at once; a started job would be waiting for the LMS settings).
    _text, data = old_db.run(tmp_path=tmp_path)
    synced = job_of(enrollment_of(old.E_ANN))
    assert (synced.status, synced.lms_enrollment_name) == ("synced", "LMS-0001")
    # Failed, missing, pending, and "synced" without a Frappe enrollment name: a pending job.
    for object_id in (
        old.E_BOB_FAILED_SYNC,
        old.E_CAROL_AFFILIATE,
        old.E_ERIN_SECOND,
        old.E_DAVE_FREE,
        old.E_DAVE_NO_COMMISSION,
    ):
        job = job_of(enrollment_of(object_id))
        assert (job.status, job.action, job.lms_enrollment_name) == ("pending", "enrol", "")
        assert job.next_attempt_at is not None
    assert data["counts"]["lms_jobs_queued"] == 5
    assert data["counts"]["lms_synced_kept"] == 2
    assert data["counts"]["retry_jobs_superseded"] == 1


def test_commissions_come_from_the_stored_amounts_and_reversed_ones_stay_reversed(
    old_db, blockchain_course, tmp_path
):
    _text, data = old_db.run(tmp_path=tmp_path)
    affiliate = Affiliate.objects.get(user__email="aff@example.com")
    assert (affiliate.rate_percent, affiliate.status, affiliate.payout_method) == (
        10,
        "active",
        "paypal",
    )
    assert affiliate.paypal_email == "aff.paypal@example.com"
    assert outbox.find(welcome_key(affiliate.pk)) is None  # no welcome for an old affiliate
    carol_sale = enrollment_of(old.E_CAROL_AFFILIATE)
    commission = Commission.objects.get(sale_id=carol_sale.pk)
    # 8% stored then, not today's 10% of 449.10 (44.91): never recalculated.
    assert (commission.amount_cents, commission.rate_percent) == (3593, 8)
    assert commission.buyer_email_masked == "c***@example.com"
    refunded = Commission.objects.get(sale_id=enrollment_of(old.E_BOB_REFUNDED).pk)
    assert (refunded.status, refunded.amount_cents, refunded.reversed_cents) == (
        "reversed",
        4990,
        4990,
    )
    bank = Affiliate.objects.get(user__email="aff2@example.com")
    assert (bank.status, bank.rate_percent, bank.bank_name) == ("suspended", 15, "Old Bank")
    no_amount = enrollment_of(old.E_DAVE_NO_COMMISSION)
    assert no_amount.affiliate == bank
    assert not Commission.objects.filter(sale_id=no_amount.pk).exists()
    assert data["commissions_not_recorded"] == [
        {
            "enrollment": lid(old.E_DAVE_NO_COMMISSION),
            "reason": "stored commission unusable (missing_amount: no commissionAmount)",
        }
    ]
    assert data["collections"]["affiliates"]["skip_reasons"] == {"no_user_account": 1}


def test_total_paid_becomes_a_payout_so_the_balance_carries_over_to_the_cent(
    old_db, blockchain_course, tmp_path
):
    text, data = old_db.run(tmp_path=tmp_path)
    affiliate = Affiliate.objects.get(user__email="aff@example.com")
    payout = Payout.objects.get(affiliate=affiliate)
    assert (payout.amount_cents, payout.currency, payout.method) == (1000, "usd", "paypal")
    earnings = affiliate_selectors.earnings_of(affiliate.pk, "usd")
    # Stored commissions 29.90 + 35.93, minus the 10.00 the old system paid.
    assert earnings.balance_cents + earnings.pending_cents == 2990 + 3593 - 1000
    assert not Payout.objects.filter(affiliate__user__email="aff2@example.com").exists()
    # The old recalculated pendingCommissions (64.81) disagrees: reported for staff.
    assert [row["affiliate"] for row in data["commission_mismatches"]] == [lid(old.AFF_1)]
    assert data["commission_mismatches"][0]["stored_minus_paid"] == "$55.83"
    assert "old pendingCommissions 64.81" in text


def test_grants_keep_their_codes_used_ones_are_redeemed_and_double_use_is_reported(
    old_db, blockchain_course, tmp_path
):
    _text, data = old_db.run(tmp_path=tmp_path)
    used = grant_of(old.G_DAVE_USED)
    assert (used.status, used.coupon_state, used.coupon_code) == (
        "approved",
        "redeemed",
        "GRANT-AB12",
    )
    assert used.redeemed_enrollment_id == enrollment_of(old.E_DAVE_FREE).pk
    assert enrollment_of(old.E_DAVE_FREE).grant == used
    twice = grant_of(old.G_ERIN_TWICE)
    assert twice.redeemed_enrollment_id == enrollment_of(old.E_ERIN_SECOND).pk
    assert "used by 2 enrollments" in twice.admin_notes
    assert data["double_used_coupons"] == [
        {
            "grant": lid(old.G_ERIN_TWICE),
            "code_end": "F-77",
            "redeemed_by": lid(old.E_ERIN_SECOND),
            "also_used_by": [lid(old.E_ERIN_FIRST)],
        }
    ]
    expired = grant_of(old.G_CAROL_EXPIRED)
    assert (expired.status, expired.coupon_state) == ("expired", "available")
    ghost = grant_of(old.G_USED_BY_ABANDONED)
    assert ghost.status == "expired"
    assert data["used_coupons_without_enrollment"] == [
        {"grant": lid(old.G_USED_BY_ABANDONED), "enrollment": lid(old.E_CAROL_PENDING)}
    ]
    assert grant_of(old.G_CAROL_PENDING).status == "pending"
    assert grant_of(old.G_BOB_REJECTED).status == "rejected"
    assert data["collections"]["grants"]["skip_reasons"] == {"invalid_discount": 1}
    assert data["counts"]["legacy_coupon_codes"] == 5


def test_an_unused_old_coupon_stays_usable_with_its_shorter_code(
    old_db, blockchain_course, tmp_path
):
    old_db.run(tmp_path=tmp_path)
    unused = grant_of(old.G_DAVE_UNUSED)
    assert (unused.status, unused.coupon_state, unused.coupon_code, unused.email) == (
        "approved",
        "available",
        "SCHOLAR-2024",
        "dave@example.com",
    )
    dave = User.objects.get(email="dave@example.com")
    found = grant_selectors.find_coupon_for_checkout(
        code=" scholar-2024 ", course=unused.course, email="dave@example.com", user=dave
    )
    assert found == unused
    erin = User.objects.get(email="erin@example.com")
    with pytest.raises(grant_services.CouponRefused) as refused:
        grant_selectors.find_coupon_for_checkout(
            code="SCHOLAR-2024", course=unused.course, email="erin@example.com", user=erin
        )
    assert refused.value.reason == "email_mismatch"


def test_the_report_counts_every_collection_and_unknown_fields(old_db, blockchain_course, tmp_path):
    text, data = old_db.run(tmp_path=tmp_path)
    assert counts_of(data, "courses") == (3, 2, 0, 1)
    assert counts_of(data, "affiliates") == (3, 2, 0, 1)
    assert counts_of(data, "enrollments") == (14, 8, 0, 6)
    assert counts_of(data, "grants") == (8, 7, 0, 1)
    assert counts_of(data, "payouts") == (1, 1, 0, 0)
    assert data["changed"] == DOLLARS_TOTAL_IMPORTED
    assert data["collections"]["users"]["unknown_fields"] == {"favouriteColor": 1}
    assert data["collections"]["enrollments"]["unknown_fields"] == {"utmSource": 1}
    assert "users.favouriteColor: 1 document(s)" in text
    assert f"{DOLLARS_TOTAL_IMPORTED} document(s) were imported." in text
    assert f"{lid(old.E_NEGATIVE)}  negative_amount (amount is -5)" in text


def test_a_second_run_changes_nothing_and_says_so(old_db, blockchain_course, tmp_path):
    old_db.run(tmp_path=tmp_path)
    before = snapshot()
    text, data = old_db.run(tmp_path=tmp_path)
    assert snapshot() == before
    assert data["changed"] == 0
    assert counts_of(data, "enrollments") == (14, 0, 8, 6)
    assert counts_of(data, "users") == (9, 0, 8, 1)
    assert "Nothing to import: every document was already imported" in text


def test_a_dry_run_writes_nothing_and_prints_the_same_report(old_db, blockchain_course, tmp_path):
    before = snapshot()
    dry_text, dry = old_db.run("--dry-run", tmp_path=tmp_path)
    assert snapshot() == before
    assert "DRY RUN: nothing was written" in dry_text
    _text, real = old_db.run(tmp_path=tmp_path)
    for name in real["collections"]:
        assert dry["collections"][name] == real["collections"][name], name
    for finding in ("merged_users", "double_used_coupons", "commission_mismatches"):
        assert dry[finding] == real[finding], finding
    # And once imported, a dry run says a real run would change nothing.
    after = snapshot()
    again_text, again = old_db.run("--dry-run", tmp_path=tmp_path)
    assert snapshot() == after
    assert again["changed"] == 0
    assert "A real run would change nothing." in again_text


def test_a_sale_without_currency_keeps_the_old_currency_not_the_mapped_courses(
    old_db, blockchain_course, tmp_path
):
    """The school sells blockchain-101 in euros here; the old system charged in its own currency
    (its course's, else US dollars). 499 old dollars must not become 499 euros."""
    Course.objects.filter(pk=blockchain_course.pk).update(currency="eur")
    old_db.db.enrollments.update_many({}, {"$unset": {"currency": ""}})
    old_db.db.courses.update_one({"_id": old.DEFI}, {"$set": {"currency": "gbp"}})

    old_db.run(tmp_path=tmp_path)

    ann = enrollment_of(old.E_ANN)
    assert (ann.course_id, ann.amount_due_cents, ann.currency) == (
        blockchain_course.pk,
        49900,
        "usd",
    )
    assert {e.currency for e in Enrollment.objects.filter(course__slug="defi-advanced")} == {"gbp"}


def test_amounts_in_cents_are_read_as_cents(old_db, blockchain_course, tmp_path):
    old_db.db.enrollments.update_one({"_id": old.E_ANN}, {"$set": {"amount": 49900}})
    old_db.db.enrollments.update_one({"_id": old.E_ERIN_FIRST}, {"$set": {"amount": 249.5}})
    _text, data = old_db.run(tmp_path=tmp_path, unit="cents")
    assert enrollment_of(old.E_ANN).amount_due_cents == 49900
    skipped = {row[0]: row[1] for row in data["collections"]["enrollments"]["skips"]}
    assert skipped[lid(old.E_ERIN_FIRST)] == "fractional_cents"


def test_a_wrong_database_or_uri_is_a_clear_error_and_changes_nothing(
    old_db, blockchain_course, tmp_path
):
    before = snapshot()
    with pytest.raises(CommandError, match="none of the old collections"):
        call_command(
            "import_legacy", "--mongodb-uri", old_db.uri, "--database", "empty_db",
            "--amount-unit", "dollars",
        )  # fmt: skip
    with pytest.raises(CommandError, match="--mongodb-uri"):
        call_command("import_legacy", "--mongodb-uri", "http://nope", "--amount-unit", "cents")
    with pytest.raises(CommandError, match="pass --database"):
        call_command("import_legacy", "--mongodb-uri", old_db.uri, "--amount-unit", "cents")
    bad_map = tmp_path / "map.json"
    bad_map.write_text('["not", "a", "mapping"]')
    with pytest.raises(CommandError, match="--course-map"):
        old_db.run("--course-map", str(bad_map))
    assert snapshot() == before


def snapshot() -> dict:
    """Every row the import can write, by table."""
    models = (User, EmailAddress, Course, Affiliate, Commission, Payout, Enrollment, Grant)
    data = {m.__name__: sorted(map(str, m.objects.values_list())) for m in models}
    data["LegacyRecord"] = sorted(
        LegacyRecord.objects.values_list("collection", "legacy_id", "target_id")
    )
    return data


def test_documents_of_unexpected_shapes_are_skipped_with_the_reason_never_a_crash(
    old_db, blockchain_course, tmp_path, redis_down
):
    # redis_down: the imported sale's job is seen queued, before a worker could start it.
    from bson import Decimal128, ObjectId

    weird = [
        {"_id": "string-id", "email": {"$bad": 1}, "status": "paid", "courseId": "blockchain-101"},
        {"_id": ObjectId(), "email": "x@example.com", "status": "paid", "amount": "abc",
         "courseId": "blockchain-101"},
        {"_id": ObjectId(), "email": "y@example.com", "status": "paid", "amount": True,
         "courseId": "blockchain-101"},
        {"_id": ObjectId(), "email": "z@example.com", "status": "paid", "courseId": ["x"],
         "amount": 1},
        {"_id": ObjectId(), "email": "w@example.com", "status": "paid", "courseId": "defi-advanced",
         "amount": Decimal128("12.34"), "currency": "zzz"},
        {"_id": ObjectId(), "email": "v@example.com", "status": "paid", "courseId": "defi-advanced",
         "amount": Decimal128("12.34"), "frappeSync": "garbage", "affiliateData": [1]},
    ]  # fmt: skip
    old_db.db.enrollments.insert_many(weird)
    old_db.db.affiliates.insert_one(
        {"_id": ObjectId(), "email": "aff@example.com", "paymentMethod": {"type": "paypal"}}
    )
    _text, data = old_db.run(tmp_path=tmp_path)
    reasons = {row[0]: row[1] for row in data["collections"]["enrollments"]["skips"]}
    assert reasons["string-id"] == "missing_email"
    assert [reasons[str(doc["_id"])] for doc in weird[1:5]] == [
        "invalid_amount",
        "invalid_amount",
        "unknown_course",
        "unknown_currency",
    ]
    decimal = Enrollment.objects.get(email="v@example.com")
    assert (decimal.amount_due_cents, job_of(decimal).status) == (1234, "pending")
    assert data["collections"]["affiliates"]["skip_reasons"] == {
        "no_user_account": 1,
        "duplicate_affiliate": 1,
    }


def test_losing_the_old_database_mid_run_is_a_clear_error_and_a_rerun_finishes(
    db, blockchain_course, monkeypatch
):
    """The old server goes away after the learners were read: a message to run it again, no
    traceback; the run against it (back with the same data) finishes, nothing twice."""
    from fakes.mongo_server import MongoServerUnavailable, start_mongo_server
    from legacy.management.commands import import_legacy

    def server_with_old_data():
        try:
            server = start_mongo_server()
        except MongoServerUnavailable as error:
            pytest.skip(str(error))
        client = pymongo.MongoClient(server.uri)
        for collection, docs in old.documents().items():
            client["old"][collection].insert_many(docs)
        client.close()
        return server

    class ServerGoesAway(import_legacy.Importer):
        def _each(self, collection, *args, **kwargs):
            if collection == "courses":
                first.stop()
            return super()._each(collection, *args, **kwargs)

    first = server_with_old_data()
    monkeypatch.setattr(import_legacy, "SERVER_TIMEOUT_MS", 500)
    monkeypatch.setattr(import_legacy, "Importer", ServerGoesAway)
    args = ["--database", "old", "--amount-unit", "dollars"]
    with pytest.raises(CommandError, match="run the same command again to finish"):
        call_command("import_legacy", "--mongodb-uri", first.uri, *args, stdout=io.StringIO())
    assert LegacyRecord.objects.filter(collection="users").count() == 8
    assert not Enrollment.objects.exists()

    monkeypatch.undo()
    again = server_with_old_data()
    try:
        out = io.StringIO()
        call_command("import_legacy", "--mongodb-uri", again.uri, *args, stdout=out)
    finally:
        again.stop()
    assert "users             9         0        8        1" in out.getvalue()
    assert Enrollment.objects.count() == 8
