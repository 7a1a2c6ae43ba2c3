"""Reads for affiliates: attribution, the dashboard figures, admin balances and the CSV export.

Every money figure is an aggregate over commission and payout rows, computed in the database (see
the ledger in ``affiliates.models``). The dashboard reads the commissions' sums per day
(``affiliates.earnings``) rather than the commissions, so its cost follows the length of the
history in days, not its number of sales; staff pages and payouts sum the rows themselves.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import ExtractIsoYear, ExtractWeek, TruncMonth
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import normalize_email
from common.money import format_money, proportion_of

from .cookies import REFERRAL_COOKIE, decode_referral, normalize_code
from .earnings import commission_figures, money_sum
from .models import Affiliate, Commission, EarningsDay, Payout, ReferralClick

SALES_PAGE_SIZE = 25
PAYOUT_HISTORY_SIZE = 12
# The dashboard's charts: earnings of the last 12 months, clicks and sales of the last 12 weeks.
CHART_MONTHS = 12
CHART_WEEKS = 12


def payout_minimum_display() -> str:
    """``PAYOUT_MINIMUM_CENTS`` in major units (``5000`` → ``50.00``), in whatever currency."""
    cents = settings.PAYOUT_MINIMUM_CENTS
    return f"{cents // 100:,}.{cents % 100:02d}"


def affiliate_for_user(user) -> Affiliate | None:
    """The user's affiliate row: loaded with ``request.user`` by the auth backends
    (``affiliates.auth_backends``), else read now."""
    if not user.is_authenticated:
        return None
    try:
        return user.affiliate
    except Affiliate.DoesNotExist:
        return None


def active_affiliate_by_code(code: str | None) -> Affiliate | None:
    """The active affiliate owning ``code`` (any case); None for garbage, unknown or suspended."""
    code = normalize_code(code)
    if code is None:
        return None
    return (
        Affiliate.objects.select_related("user")
        .filter(referral_code=code, status=Affiliate.Status.ACTIVE)
        .first()
    )


def active_affiliate_by_old_link(ref: str | None) -> Affiliate | None:
    """The active affiliate behind an old MaalEdu link (``?ref=<affiliate e-mail>``), while
    ``LEGACY_REF_LINKS_UNTIL`` has not passed; None otherwise. The caller continues with the
    affiliate's referral code, so the address is never stored in a cookie or shown back."""
    until = settings.LEGACY_REF_LINKS_UNTIL
    if until is None or timezone.localdate() > until:
        return None
    email = (ref or "").strip().lower()
    if not 3 <= len(email) <= 254 or email.count("@") != 1 or any(c.isspace() for c in email):
        return None
    return (
        Affiliate.objects.select_related("user")
        .filter(user__email=email, status=Affiliate.Status.ACTIVE)
        .first()
    )


def referral_code_from_request(request: HttpRequest) -> str | None:
    """The referral code for this visitor: this request's ``?ref=`` click, else the signed cookie
    while its attribution window (``AFFILIATE_COOKIE_DAYS``) lasts. Not checked against the
    affiliates table: ``resolve_attribution`` decides whether it still counts."""
    clicked_now = getattr(request, "affiliate_referral_code", None)
    if clicked_now:
        return clicked_now
    return decode_referral(request.COOKIES.get(REFERRAL_COOKIE))


def affiliate_email_addresses(affiliate: Affiliate) -> set[str]:
    """Every address the affiliate is known by, lower-cased: login, allauth addresses, PayPal."""
    addresses = {affiliate.user.email.lower()}
    addresses.update(
        email.lower()
        for email in EmailAddress.objects.filter(user_id=affiliate.user_id).values_list(
            "email", flat=True
        )
    )
    if affiliate.paypal_email:
        addresses.add(affiliate.paypal_email.lower())
    return addresses


@dataclass(frozen=True)
class Earnings:
    """One affiliate's figures in one currency, each a sum over rows."""

    currency: str
    # Every referred sale, and those not fully refunded: a sale whose commission was wholly
    # reversed stays in the sales table but is no paid referral.
    sales: int = 0
    referrals: int = 0
    pending_cents: int = 0
    approved_cents: int = 0
    reversed_cents: int = 0
    # Σ net of commissions that a payout claimed (paid, or reversed after payout).
    in_payouts_net_cents: int = 0
    paid_out_cents: int = 0
    payouts: int = 0

    @property
    def carried_cents(self) -> int:
        """Negative when commissions were reversed after being paid out."""
        return self.in_payouts_net_cents - self.paid_out_cents

    @property
    def balance_cents(self) -> int:
        return self.approved_cents + self.carried_cents

    def _money(self, cents: int) -> str:
        return format_money(cents, self.currency)

    @property
    def pending_display(self) -> str:
        return self._money(self.pending_cents)

    @property
    def approved_display(self) -> str:
        return self._money(self.approved_cents)

    @property
    def reversed_display(self) -> str:
        return self._money(self.reversed_cents)

    @property
    def paid_out_display(self) -> str:
        return self._money(self.paid_out_cents)

    @property
    def carried_display(self) -> str:
        return self._money(self.carried_cents)

    @property
    def balance_display(self) -> str:
        return self._money(self.balance_cents)


def earnings_by_affiliate(affiliate_ids: Iterable[int]) -> dict[int, list[Earnings]]:
    """Each affiliate's ``Earnings`` per currency, for any number of affiliates in 2 queries."""
    ids = list(affiliate_ids)
    rows: dict[tuple[int, str], dict] = defaultdict(dict)
    commission_sums = (
        Commission.objects.filter(affiliate_id__in=ids)
        .values("affiliate_id", "currency")
        .annotate(**commission_figures())
        .order_by()
    )
    for row in commission_sums:
        row["reversed_cents"] = row.pop("reversed_sum")
        rows[(row.pop("affiliate_id"), row["currency"])].update(row)
    payout_sums = (
        Payout.objects.filter(affiliate_id__in=ids)
        .values("affiliate_id", "currency")
        .annotate(paid_out_cents=money_sum("amount_cents"), payouts=Count("id"))
        .order_by()
    )
    for row in payout_sums:
        rows[(row.pop("affiliate_id"), row["currency"])].update(row)
    result: dict[int, list[Earnings]] = {affiliate_id: [] for affiliate_id in ids}
    for (affiliate_id, _currency), values in sorted(rows.items()):
        result[affiliate_id].append(Earnings(**values))
    return result


def earnings_of(affiliate_id: int, currency: str) -> Earnings:
    for earnings in earnings_by_affiliate([affiliate_id])[affiliate_id]:
        if earnings.currency == currency:
            return earnings
    return Earnings(currency=currency)


def commission_for_sale(sale_id: int) -> Commission | None:
    """The commission on one sale (an enrollment's pk), or None when it was not attributed."""
    return Commission.objects.filter(sale_id=sale_id).first()


@dataclass(frozen=True)
class CommissionReversal:
    """What a sale's cumulative refunded total means for its commission."""

    commission: Commission
    # ``reversed_cents`` once the refund is applied (it only ever grows to this).
    target_cents: int

    @property
    def full(self) -> bool:
        """Nothing left to earn: the commission is reversed in full."""
        return self.target_cents >= self.commission.amount_cents

    @property
    def additional_cents(self) -> int:
        """What applying the refund reverses beyond what is reversed already (never negative)."""
        return max(self.target_cents - self.commission.reversed_cents, 0)


def commission_reversal_for(
    commission: Commission, *, refunded_cents_total: int, charged_cents: int
) -> CommissionReversal:
    """The one rule for reversing a commission, used by the refund preview, the refund itself
    (``services.reverse_commission``) and the nightly reconciliation.

    The stored commission (``amount_cents``, as recorded on the sale: never recomputed from the
    rate) is reversed in the share of the sale that was refunded: ``refunded / charged``, where
    ``charged_cents`` is what the buyer was charged and refunds are counted against (the
    enrollment's ``amount_due_cents``). That is not the commission's ``sale_amount_cents``
    when the price included tax: the commission is earned on the amount before tax, while
    Stripe refunds (and reports) the tax-inclusive total.

    Rounding: the refunded total is capped at the charge; the share is rounded half up to the
    cent once, from the cumulative total (``common.money.proportion_of``), so a series of
    partial refunds never drifts from one refund of the same total; a full refund reverses
    exactly ``amount_cents``; nothing refunded (or nothing charged) reverses nothing.
    """
    refunded = min(max(refunded_cents_total, 0), max(charged_cents, 0))
    if refunded <= 0:
        target = 0
    elif refunded == charged_cents:
        target = commission.amount_cents
    else:
        target = proportion_of(commission.amount_cents, refunded, charged_cents)
    return CommissionReversal(commission=commission, target_cents=target)


def payable_commission_ids(*, affiliate_id: int, currency: str) -> list[int]:
    return list(
        Commission.objects.filter(
            affiliate_id=affiliate_id,
            currency=currency,
            status=Commission.Status.APPROVED,
            payout__isnull=True,
            on_hold=False,
        ).values_list("id", flat=True)
    )


def payable_currencies(affiliate_ids: Iterable[int]) -> dict[int, list[str]]:
    """For each affiliate, the currencies in which it has approved commissions awaiting payout."""
    ids = list(affiliate_ids)
    result: dict[int, list[str]] = {affiliate_id: [] for affiliate_id in ids}
    pairs = (
        Commission.objects.filter(
            affiliate_id__in=ids, status=Commission.Status.APPROVED, payout__isnull=True
        )
        .values_list("affiliate_id", "currency")
        .distinct()
        .order_by("affiliate_id", "currency")
    )
    for affiliate_id, currency in pairs:
        result[affiliate_id].append(currency)
    return result


# What a row of the dashboard's sales table shows (templates/affiliates/includes/
# dashboard_history.html): loading no other column spares converting each row's course dates,
# JSON fields and descriptions.
SALES_TABLE_FIELDS = (
    "sold_at",
    "currency",
    "sale_amount_cents",
    "amount_cents",
    "reversed_cents",
    "rate_percent",
    "status",
    "payout_id",
    "buyer_email_masked",
    "course__title",
)


def referred_sales(affiliate: Affiliate) -> QuerySet[Commission]:
    return (
        Commission.objects.filter(affiliate=affiliate)
        .select_related("course")
        .only(*SALES_TABLE_FIELDS)
        .order_by("-sold_at", "-id")
    )


@dataclass(frozen=True)
class MonthEarnings:
    """The commissions sold in one month, split by where their money is now."""

    month: date
    pending_cents: int = 0
    approved_cents: int = 0
    paid_cents: int = 0
    reversed_cents: int = 0


@dataclass(frozen=True)
class WeekActivity:
    week: date  # its Monday
    clicks: int
    referrals: int


@dataclass(frozen=True)
class DashboardSummary:
    """The sales figures over the affiliate's whole history (cached: dashboard_cache)."""

    earnings: list[Earnings]
    payouts: list[Payout]
    sales_count: int
    # Per currency, the last CHART_MONTHS months, oldest first (months without sales too).
    months: dict[str, list[MonthEarnings]]
    # Paid referrals per week (Monday), the last CHART_WEEKS weeks.
    referrals_by_week: dict[date, int]


@dataclass(frozen=True)
class Clicks:
    total: int
    by_week: dict[date, int]


@dataclass(frozen=True)
class Dashboard:
    affiliate: Affiliate
    clicks: int
    earnings: list[Earnings]
    payouts: list[Payout]
    sales: Page
    months: dict[str, list[MonthEarnings]]
    weeks: list[WeekActivity]
    # The history tables (earnings, payouts, this page of sales) as rendered for these figures,
    # when cached, and where to cache them (None when the cache is down); the same for the
    # clicks-and-sales chart, which follows the clicks too.
    history_html: str | None
    history_key: str | None
    activity_html: str | None = None
    activity_key: str | None = None

    @property
    def referrals(self) -> int:
        return sum(earnings.referrals for earnings in self.earnings)

    @property
    def payouts_total(self) -> int:
        return sum(earnings.payouts for earnings in self.earnings)

    @property
    def conversion_rate(self) -> str:
        """Paid referrals per recorded click (clicks count once per visitor and day)."""
        if not self.clicks:
            return "—"
        return f"{100 * self.referrals / self.clicks:.1f}%"


def utc_today() -> date:
    """Today as the daily totals count days (UTC)."""
    return timezone.now().astimezone(UTC).date()


def chart_months(today: date) -> list[date]:
    """The first days of the last CHART_MONTHS months, oldest first, this month last."""
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - CHART_MONTHS + 1, index + 1)]


def chart_weeks(today: date) -> list[date]:
    """The Mondays of the last CHART_WEEKS weeks, oldest first, this week last."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(CHART_WEEKS - 1, -1, -1)]


# A day's ISO week, grouped on as (ISO year, week number): not ``TruncWeek``, whose MongoDB
# form ($dateTrunc with a start of week) not every server accepts. Same one grouped query.
ISO_WEEK = {"iso_year": ExtractIsoYear("day"), "iso_week": ExtractWeek("day")}


def _monday(row: dict) -> date:
    """The Monday of a row grouped by ``ISO_WEEK``."""
    return date.fromisocalendar(row["iso_year"], row["iso_week"], 1)


def dashboard_summary(affiliate: Affiliate) -> DashboardSummary:
    """The sales figures over the whole history from the daily totals (bring those up to date
    first: ``affiliates.dashboard``): 4 queries, whose cost follows the days of history, not
    the number of sales."""
    today = utc_today()
    months = chart_months(today)
    weeks = chart_weeks(today)
    by_month = (
        EarningsDay.objects.filter(affiliate=affiliate)
        .annotate(month=TruncMonth("day"))
        .values("currency", "month")
        .annotate(
            sales=Sum("sales"),
            referrals=Sum("referrals"),
            pending=Sum("pending_cents"),
            approved=Sum("approved_cents"),
            paid=Sum("paid_cents"),
            reversed=Sum("reversed_cents"),
        )
        .order_by("currency", "month")
    )
    totals: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    charted: dict[str, dict[date, MonthEarnings]] = defaultdict(dict)
    for row in by_month:
        figures = totals[row["currency"]]
        figures["sales"] += row["sales"]
        figures["referrals"] += row["referrals"]
        figures["pending_cents"] += row["pending"]
        figures["approved_cents"] += row["approved"]
        figures["in_payouts_net_cents"] += row["paid"]
        figures["reversed_cents"] += row["reversed"]
        if row["month"] >= months[0]:
            charted[row["currency"]][row["month"]] = MonthEarnings(
                month=row["month"],
                pending_cents=row["pending"],
                approved_cents=row["approved"],
                paid_cents=row["paid"],
                reversed_cents=row["reversed"],
            )
    payout_sums = (
        Payout.objects.filter(affiliate=affiliate)
        .values("currency")
        .annotate(paid_out_cents=money_sum("amount_cents"), payouts=Count("id"))
        .order_by()
    )
    for row in payout_sums:
        totals[row.pop("currency")].update(row)
    referrals_by_week = {
        _monday(row): row["referrals"]
        for row in EarningsDay.objects.filter(affiliate=affiliate, day__gte=weeks[0])
        .annotate(**ISO_WEEK)
        .values(*ISO_WEEK)
        .annotate(referrals=Sum("referrals"))
        .order_by()
    }
    earnings_list = [
        Earnings(currency=currency, **figures) for currency, figures in sorted(totals.items())
    ]
    return DashboardSummary(
        earnings=earnings_list,
        payouts=list(
            Payout.objects.filter(affiliate=affiliate).order_by("-sequence")[:PAYOUT_HISTORY_SIZE]
        ),
        sales_count=sum(e.sales for e in earnings_list),
        months={
            currency: [charted[currency].get(month, MonthEarnings(month)) for month in months]
            for currency in sorted(charted)
        },
        referrals_by_week=referrals_by_week,
    )


def _clicks_by_week(clicks: QuerySet[ReferralClick]) -> dict[date, int]:
    return {
        _monday(row): row["n"]
        for row in clicks.annotate(**ISO_WEEK).values(*ISO_WEEK).annotate(n=Count("pk")).order_by()
    }


def settled_clicks_by_week(
    affiliate_id: int, *, before: date, since: date | None = None
) -> dict[date, int]:
    """The affiliate's clicks per week (Monday) on the days from ``since`` (or the first)
    until ``before``, not included."""
    clicks = ReferralClick.objects.filter(affiliate_id=affiliate_id, day__lt=before)
    if since is not None:
        clicks = clicks.filter(day__gte=since)
    return _clicks_by_week(clicks)


def recent_clicks_by_day(affiliate_id: int, *, since: date) -> dict[date, int]:
    """The affiliate's clicks per day from ``since`` on (the days still being clicked)."""
    return {
        row["day"]: row["n"]
        for row in ReferralClick.objects.filter(affiliate_id=affiliate_id, day__gte=since)
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    }


def page_number(page) -> int:
    """The page asked for, as the paginator will read it (an out-of-range one is clamped there)."""
    try:
        return min(max(int(page), 1), 10**6)
    except (TypeError, ValueError):
        return 1


class _CountedSales:
    """The sales queryset with its count already known, so the paginator does not COUNT(*)."""

    def __init__(self, queryset: QuerySet, count: int):
        self.queryset, self._count = queryset, count

    def count(self) -> int:
        return self._count

    def __getitem__(self, item):
        return self.queryset[item]


def sales_page(affiliate: Affiliate, *, sales_count: int, page) -> Page:
    """One page of the affiliate's referred sales, newest first; ``sales_count`` (from the
    summary) spares the COUNT(*). Its query runs only when the page is iterated."""
    sales = _CountedSales(referred_sales(affiliate), sales_count)
    return Paginator(sales, SALES_PAGE_SIZE).get_page(page)


def commissions_for_export(
    *, start: date, end: date, affiliate: Affiliate | None = None
) -> Iterator[Commission]:
    """Commissions sold from ``start`` to ``end`` inclusive (UTC days), oldest first, streamed."""
    since = datetime.combine(start, time.min, tzinfo=timezone.get_current_timezone())
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=since.tzinfo)
    commissions = Commission.objects.filter(sold_at__gte=since, sold_at__lt=until)
    if affiliate is not None:
        commissions = commissions.filter(affiliate=affiliate)
    return (
        commissions.select_related("affiliate__user", "course", "payout")
        .order_by("sold_at", "id")
        .iterator(chunk_size=1000)
    )


def owes_affiliate(user) -> bool:
    """Whether this user's affiliate record still has commission to be paid (pending or
    approved, or carried from a payout): their account cannot be deleted before it is settled."""
    affiliate = Affiliate.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
    if affiliate is None:
        return False
    return any(
        earnings.pending_cents > 0 or earnings.balance_cents > 0
        for earnings in earnings_by_affiliate([affiliate])[affiliate]
    )


def affiliate_record_of(user) -> tuple[Affiliate | None, list[Commission], list[Payout]]:
    """The user's affiliate record with its commissions and payouts (the data export)."""
    affiliate = Affiliate.objects.filter(user_id=user.pk).first()
    if affiliate is None:
        return None, [], []
    commissions = list(
        Commission.objects.filter(affiliate=affiliate).select_related("course").order_by("sold_at")
    )
    payouts = list(Payout.objects.filter(affiliate=affiliate).order_by("created_at"))
    return affiliate, commissions, payouts


# --- Attribution: who referred a purchase (a read: checkout prices with it) ---------------------

SELF_REFERRAL_REFUSAL = "Referral not applied: you cannot earn a commission on your own purchase."


@dataclass(frozen=True)
class Attribution:
    """The affiliate a sale is attributed to, or None; ``refusal`` says why to the buyer."""

    affiliate: Affiliate | None
    refusal: str | None = None


def _canonical_email(email: str) -> str:
    """Lower-cased, without a ``+tag``: ``Ann+shop@x.com`` is Ann's own address."""
    local, _, domain = normalize_email(email).rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def resolve_attribution(*, referral_code: str | None, buyer_email: str, buyer_user) -> Attribution:
    """Who referred this purchase. Unknown and suspended codes attribute nothing, silently; a
    purchase by the affiliate (same account, or one of their addresses in any case) is refused
    with a message for the checkout page."""
    affiliate = active_affiliate_by_code(referral_code)
    if affiliate is None:
        return Attribution(affiliate=None)
    if getattr(buyer_user, "is_authenticated", False) and buyer_user.pk == affiliate.user_id:
        return Attribution(affiliate=None, refusal=SELF_REFERRAL_REFUSAL)
    own = {_canonical_email(address) for address in affiliate_email_addresses(affiliate)}
    if _canonical_email(buyer_email) in own:
        return Attribution(affiliate=None, refusal=SELF_REFERRAL_REFUSAL)
    return Attribution(affiliate=affiliate)
