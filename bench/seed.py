"""The bench data set, written with set-based ``INSERT … SELECT`` statements run by PostgreSQL
(no row goes through the ORM or over the wire one at a time), so 500 000 enrollments take
seconds rather than the ORM's tens of minutes.

The shape: published courses in two currencies; learners' enrollments in every state; one
affiliate whose referred sales (paid enrollments with a commission each) are spread over two
years, older ones claimed by monthly payouts in each currency; referral clicks; grants in every
review state. ``add_affiliate_sales`` grows the affiliate's history in place, for the scaling
curve.
"""

from dataclasses import dataclass
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from accounts.models import User
from affiliates.models import Affiliate, Commission, Payout, ReferralClick
from courses.models import Course
from enrollments.models import Enrollment
from grants.models import Grant
from lms_sync.models import LmsSyncJob

AFFILIATE_EMAIL = "affiliate@bench.maaledu.test"
# Sales are spread over this many 30-day blocks back from now; block 0 is not paid out yet.
HISTORY_BLOCKS = 24
BLOCK_SECONDS = 30 * 24 * 3600
PAYOUT_CURRENCIES = ("usd", "eur")
# A statement that runs longer than this is a bug in the seed, not a slow machine.
STATEMENT_TIMEOUT = "600s"

# Courses numbered from 0, joined to generated rows by ``mod(g, <course count>)``.
_COURSES = (
    "(SELECT id, slug, price_cents, currency, row_number() OVER (ORDER BY id) - 1 AS n"
    " FROM courses_course) AS c"
)


@dataclass(frozen=True)
class DataSet:
    courses: int
    # Enrollments of learners no affiliate referred (the affiliate's sales come on top).
    other_enrollments: int
    commissions: int
    grants: int
    clicks_per_commission: int = 3


FULL = DataSet(courses=60, other_enrollments=400_000, commissions=100_000, grants=1_000)
SMOKE = DataSet(courses=12, other_enrollments=4_000, commissions=1_000, grants=50)
# The scaling curve grows only the affiliate's history: other learners do not touch its pages.
SCALING_BASE = DataSet(courses=60, other_enrollments=0, commissions=0, grants=1_000)


def insert_select(model, values: dict, source: str, params=()) -> int:
    """``INSERT INTO <table> (…) SELECT <values> FROM <source>`` in one statement.

    ``values`` maps field attnames to an SQL expression, or to ``(expression, params)`` when it
    has placeholders. Every other concrete field gets what the ORM would write: ``now()`` for
    auto_now(_add) fields, else the field's default, so a field added to a model later needs no
    change here unless it is required and has no default. ``params`` fill ``source``.
    """
    unknown = set(values) - {field.attname for field in model._meta.concrete_fields}
    if unknown:
        raise ImproperlyConfigured(f"bench seed: {model.__name__} has no field {sorted(unknown)}")
    columns, expressions, select_params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.attname not in values:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in values:
            value = values[field.attname]
            expression, value_params = value if isinstance(value, tuple) else (value, ())
            expressions.append(expression)
            select_params.extend(value_params)
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            expressions.append("now()")
        else:
            default = field.get_default()
            if default is None and not field.null:
                raise ImproperlyConfigured(
                    f"bench seed: {model.__name__}.{field.attname} is required; give it a value"
                )
            expressions.append("%s")
            select_params.append(field.get_db_prep_save(default, connection))
    # Built from model metadata and this module's own expressions, never from input.
    table, names, selected = model._meta.db_table, ", ".join(columns), ", ".join(expressions)
    sql = f"INSERT INTO {table} ({names}) SELECT {selected} FROM {source}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*select_params, *params])
        return cursor.rowcount


def _execute(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _scalar(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _begin_session() -> None:
    _execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    # random() below is then the same sequence on every run.
    _execute("SELECT setseed(0.42)")


def seed(data: DataSet) -> Affiliate:
    """Write the whole data set into an empty, migrated database; return the affiliate."""
    _begin_session()
    _seed_courses(data.courses)
    affiliate = _seed_affiliate()
    _seed_other_enrollments(data.other_enrollments, data.courses)
    _seed_grants(data.grants, data.courses)
    add_affiliate_sales(
        affiliate, up_to=data.commissions, clicks_per_commission=data.clicks_per_commission
    )
    return affiliate


def analyze() -> None:
    """Fresh planner statistics (and visibility maps) after bulk writes, as autovacuum would."""
    _execute("VACUUM ANALYZE")


def _seed_courses(count: int) -> None:
    insert_select(
        Course,
        {
            "slug": "'course-' || g",
            "title": (
                "(ARRAY['Cloud', 'Data', 'Security', 'Network', 'Project', 'Agile', 'DevOps',"
                " 'Finance', 'Quality', 'Service'])[1 + mod(g, 10)] || ' ' ||"
                " (ARRAY['Foundations', 'Practitioner', 'Professional', 'Expert', 'Architect',"
                " 'Analyst'])[1 + mod(g / 10, 6)] || ' ' || g"
            ),
            "subtitle": "'Prepare for the certification exam with graded practice'",
            "description": "repeat('Hands-on lessons, practice exams and a mentor. ', 40)",
            "price_cents": "4900 + mod(g * 7000, 45000)",
            "currency": "CASE WHEN mod(g, 3) = 0 THEN 'eur' ELSE 'usd' END",
            "features": (
                '\'["Certificate of completion", "Practice exams", "Mentor support"]\'::jsonb'
            ),
            "level": "(ARRAY['beginner', 'intermediate', 'advanced'])[1 + mod(g, 3)]",
            "duration": "(4 + mod(g, 8)) || ' weeks'",
            "is_published": "true",
            "frappe_course": "'course-' || g",
        },
        "generate_series(1, %s) AS g",
        [count],
    )


def _seed_affiliate() -> Affiliate:
    user = User.objects.create_user(AFFILIATE_EMAIL, password=None, name="Bench Affiliate")
    EmailAddress.objects.create(user=user, email=AFFILIATE_EMAIL, verified=True, primary=True)
    affiliate = Affiliate.objects.create(
        user=user,
        payout_method="paypal",
        paypal_email=AFFILIATE_EMAIL,
        terms_accepted_at=timezone.now() - timedelta(seconds=HISTORY_BLOCKS * BLOCK_SECONDS),
    )
    # One payout per past block and currency, oldest first: block 23 in usd is #1, block 1 in
    # eur is #46.
    # Their amounts are set from the commissions they claim (add_affiliate_sales).
    insert_select(
        Payout,
        {
            "affiliate_id": ("%s", [affiliate.pk]),
            "sequence": ("(%s - b) * 2 - 2 + cur.i", [HISTORY_BLOCKS]),
            "amount_cents": "1",
            "currency": "cur.code",
            "method": "'paypal'",
            "reference": "'PAYPAL-BENCH-' || b || '-' || cur.code",
            "created_at": "now() - b * interval '30 days'",
        },
        "generate_series(1, %s) AS b CROSS JOIN unnest(%s::text[]) WITH ORDINALITY AS cur(code, i)",
        [HISTORY_BLOCKS - 1, list(PAYOUT_CURRENCIES)],
    )
    return affiliate


def _seed_other_enrollments(count: int, course_count: int) -> None:
    """Learners' enrollments in every end state: mostly paid, some expired, canceled, failed,
    refunded; none pending (the webhook run adds its own)."""
    status = (
        "(CASE mod(g, 20) WHEN 0 THEN 'expired' WHEN 1 THEN 'canceled' WHEN 2 THEN 'failed'"
        " WHEN 3 THEN 'refunded' ELSE 'paid' END)"
    )
    made = "now() - random() * interval '720 days'"
    insert_select(
        Enrollment,
        {
            "email": "'learner' || g || '@example.com'",
            "course_id": "c.id",
            "status": status,
            "list_price_cents": "c.price_cents",
            "amount_due_cents": "c.price_cents",
            "currency": "c.currency",
            "amount_refunded_cents": "CASE mod(g, 20) WHEN 3 THEN c.price_cents ELSE 0 END",
            "stripe_session_id": "'cs_bench_learner_' || g",
            "stripe_payment_intent_id": "'pi_bench_learner_' || g",
            "paid_at": "CASE WHEN mod(g, 20) >= 3 THEN t.made END",
            "created_at": "t.made - interval '5 minutes'",
            "updated_at": "t.made",
        },
        f"generate_series(1, %s) AS g CROSS JOIN LATERAL (SELECT {made} AS made, g AS k) AS t"
        f" JOIN {_COURSES} ON c.n = mod(g, %s)",
        [count, course_count],
    )
    _seed_synced_lms_jobs()


def _seed_synced_lms_jobs() -> None:
    """Every paid enrollment without an LMS job gets a synced enrol job (lms_sync's table), as
    if it had been enrolled when it was paid."""
    enrollments = connection.ops.quote_name(Enrollment._meta.db_table)
    jobs = connection.ops.quote_name(LmsSyncJob._meta.db_table)
    insert_select(
        LmsSyncJob,
        {
            "enrollment_id": "e.id",
            "action": "'enrol'",
            "status": "'synced'",
            "synced_at": "e.paid_at",
            "created_at": "e.paid_at",
            "updated_at": "e.paid_at",
        },
        # Table names from the models' metadata, quoted: no outside input.
        f"{enrollments} AS e WHERE e.status = 'paid' AND e.paid_at IS NOT NULL"  # noqa: S608
        f" AND NOT EXISTS (SELECT 1 FROM {jobs} AS j WHERE j.enrollment_id = e.id)",
    )


def _seed_grants(count: int, course_count: int) -> None:
    """60 % pending review, 30 % approved with an unused coupon, 10 % rejected."""
    approved = "mod(g, 10) BETWEEN 6 AND 8"
    insert_select(
        Grant,
        {
            "name": "'Applicant ' || g",
            "email": "'applicant' || g || '@example.com'",
            "course_id": "c.id",
            "statement": "repeat('I am changing careers and cannot afford the fee. ', 8)",
            "organisation": "'Community College ' || mod(g, 40)",
            "country": "(ARRAY['Kenya', 'India', 'Brazil', 'Norway', 'Ghana'])[1 + mod(g, 5)]",
            "status": (
                f"CASE WHEN {approved} THEN 'approved' WHEN mod(g, 10) = 9 THEN 'rejected'"
                " ELSE 'pending' END"
            ),
            "discount_percent": (
                f"CASE WHEN {approved} THEN (ARRAY[25, 50, 75, 100])[1 + mod(g, 4)] END"
            ),
            "coupon_code": (
                f"CASE WHEN {approved} THEN 'BENCH-' || upper(left(md5(g::text), 12)) END"
            ),
            "coupon_expires_at": f"CASE WHEN {approved} THEN now() + interval '30 days' END",
            "coupon_state": f"CASE WHEN {approved} THEN 'available' ELSE '' END",
            "reviewed_at": "CASE WHEN mod(g, 10) >= 6 THEN now() - interval '1 day' END",
        },
        f"generate_series(1, %s) AS g JOIN {_COURSES} ON c.n = mod(g, %s)",
        [count, course_count],
    )


def add_affiliate_sales(affiliate: Affiliate, *, up_to: int, clicks_per_commission: int) -> int:
    """Grow the affiliate's history to ``up_to`` sales (and its clicks in proportion); return
    how many sales were added. Each sale is a paid (2 % refunded) enrollment with its commission,
    sold at a random time in the last two years: pending for 14 days, then approved, then claimed
    by the payout of its 30-day block and currency."""
    _begin_session()
    have = Commission.objects.filter(affiliate=affiliate).count()
    if up_to <= have:
        return 0
    course_count = Course.objects.count()
    last_enrollment = _scalar("SELECT coalesce(max(id), 0) FROM enrollments_enrollment")
    history = f"now() - random() * interval '{HISTORY_BLOCKS * 30 - 1} days'"
    insert_select(
        Enrollment,
        {
            "email": "'buyer' || g || '@example.com'",
            "course_id": "c.id",
            "affiliate_id": ("%s", [affiliate.pk]),
            "status": "CASE WHEN mod(g, 50) = 0 THEN 'refunded' ELSE 'paid' END",
            "list_price_cents": "c.price_cents",
            "amount_due_cents": "c.price_cents",
            "currency": "c.currency",
            "amount_refunded_cents": "CASE WHEN mod(g, 50) = 0 THEN c.price_cents ELSE 0 END",
            "stripe_session_id": "'cs_bench_buyer_' || g",
            "stripe_payment_intent_id": "'pi_bench_buyer_' || g",
            "paid_at": "t.sold",
            "created_at": "t.sold - interval '5 minutes'",
            "updated_at": "t.sold",
        },
        f"generate_series(%s, %s) AS g CROSS JOIN LATERAL (SELECT {history} AS sold, g AS k) AS t"
        f" JOIN {_COURSES} ON c.n = mod(g, %s)",
        [have + 1, up_to, course_count],
    )
    _seed_synced_lms_jobs()
    commission = "(e.amount_due_cents * 10 + 50) / 100"
    insert_select(
        Commission,
        {
            "affiliate_id": "e.affiliate_id",
            "sale_id": "e.id",
            "course_id": "e.course_id",
            "buyer_email_masked": "left(e.email, 1) || '***@example.com'",
            "sold_at": "e.paid_at",
            "currency": "e.currency",
            "sale_amount_cents": "e.amount_due_cents",
            "rate_percent": "10",
            "amount_cents": commission,
            "reversed_cents": f"CASE WHEN e.status = 'refunded' THEN {commission} ELSE 0 END",
            "paid_cents": (
                f"CASE WHEN e.status = 'paid' AND e.block >= 1 THEN {commission} ELSE 0 END"
            ),
            "status": (
                "CASE WHEN e.status = 'refunded' THEN 'reversed' WHEN e.block >= 1 THEN 'paid'"
                " WHEN e.paid_at > now() - interval '14 days' THEN 'pending' ELSE 'approved' END"
            ),
            "approved_at": (
                "CASE WHEN e.paid_at <= now() - interval '14 days'"
                " THEN e.paid_at + interval '14 days' END"
            ),
            "payout_id": "CASE WHEN e.status = 'paid' THEN p.id END",
            "created_at": "e.paid_at",
            # Counted into the daily totals below, as the services' refresh would.
            "totals_stale": "false",
        },
        "(SELECT e.*, floor(extract(epoch FROM now() - e.paid_at) / %s)::int AS block"
        "   FROM enrollments_enrollment e WHERE e.affiliate_id = %s AND e.id > %s) AS e"
        " LEFT JOIN affiliates_payout p ON p.affiliate_id = e.affiliate_id AND e.block >= 1"
        "  AND p.sequence = (%s - e.block) * 2 - 2"
        "   + array_position(%s::text[], e.currency::text)",
        [BLOCK_SECONDS, affiliate.pk, last_enrollment, HISTORY_BLOCKS, list(PAYOUT_CURRENCIES)],
    )
    _execute(
        "UPDATE affiliates_payout p SET amount_cents = s.total, commissions_claimed = s.n"
        " FROM (SELECT payout_id, sum(paid_cents) AS total, count(*) AS n"
        "       FROM affiliates_commission"
        "       WHERE affiliate_id = %s AND payout_id IS NOT NULL GROUP BY payout_id) AS s"
        " WHERE p.id = s.payout_id AND s.total > 0",
        [affiliate.pk],
    )
    _fill_earnings_days(affiliate.pk)
    insert_select(
        ReferralClick,
        {
            "affiliate_id": ("%s", [affiliate.pk]),
            "visitor_key": "md5(g::text) || md5((-g)::text)",
            "day": ("current_date - mod(g, %s)", [HISTORY_BLOCKS * 30]),
            "created_at": ("now() - mod(g, %s) * interval '1 day'", [HISTORY_BLOCKS * 30]),
        },
        "generate_series(%s, %s) AS g",
        [have * clicks_per_commission + 1, up_to * clicks_per_commission],
    )
    return up_to - have


def _fill_earnings_days(affiliate_id: int) -> None:
    """The affiliate's daily totals (``affiliates.EarningsDay``), summed over all its commissions
    as ``affiliates.earnings.refresh`` would, replacing what an earlier growth step wrote."""
    _execute(
        "INSERT INTO affiliates_earningsday (affiliate_id, currency, day, sales, referrals,"
        " pending_cents, approved_cents, paid_cents, reversed_cents, stamp)"
        " SELECT affiliate_id, currency, (sold_at AT TIME ZONE 'UTC')::date, count(*),"
        "  count(*) FILTER (WHERE status <> 'reversed'),"
        "  coalesce(sum(amount_cents - reversed_cents) FILTER (WHERE status = 'pending'), 0),"
        "  coalesce(sum(amount_cents - reversed_cents) FILTER (WHERE status = 'approved'), 0),"
        "  coalesce(sum(amount_cents - reversed_cents) FILTER (WHERE payout_id IS NOT NULL), 0),"
        "  sum(reversed_cents), sum(version)"
        " FROM affiliates_commission WHERE affiliate_id = %s GROUP BY 1, 2, 3"
        " ON CONFLICT (affiliate_id, day, currency) DO UPDATE SET sales = EXCLUDED.sales,"
        "  referrals = EXCLUDED.referrals, pending_cents = EXCLUDED.pending_cents,"
        "  approved_cents = EXCLUDED.approved_cents, paid_cents = EXCLUDED.paid_cents,"
        "  reversed_cents = EXCLUDED.reversed_cents, stamp = EXCLUDED.stamp",
        [affiliate_id],
    )


def add_pending_checkouts(*, tag: str, count: int, affiliate_id: int) -> list[tuple]:
    """``count`` open checkouts with Stripe session ids, one in five referred by the affiliate,
    for the webhook load to complete. Returns (enrollment id, session id, amount, currency, email)
    rows in id order."""
    course_count = Course.objects.count()
    insert_select(
        Enrollment,
        {
            "email": ("'webhook' || g || '-' || %s || '@example.com'", [tag]),
            "course_id": "c.id",
            "affiliate_id": ("CASE WHEN mod(g, 5) = 0 THEN %s END", [affiliate_id]),
            "list_price_cents": "c.price_cents",
            "amount_due_cents": "c.price_cents",
            "currency": "c.currency",
            "stripe_session_id": ("'cs_bench_' || %s || '_' || g", [tag]),
            "checkout_url": ("'http://127.0.0.1/pay/cs_bench_' || %s || '_' || g", [tag]),
            "expires_at": "now() + interval '1 hour'",
        },
        f"generate_series(1, %s) AS g JOIN {_COURSES} ON c.n = mod(g, %s)",
        [count, course_count],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, stripe_session_id, amount_due_cents, currency, email"
            " FROM enrollments_enrollment WHERE stripe_session_id LIKE %s ORDER BY id",
            [f"cs_bench_{tag}\\_%"],
        )
        return cursor.fetchall()
