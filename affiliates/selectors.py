"""Reads for affiliates: attribution, the dashboard figures, admin balances and the CSV export.

Every money figure is an aggregate over commission and payout rows, computed in the database (see
the ledger in ``affiliates.models``); nothing is a stored running total.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from courses.money import format_money

from . import dashboard_cache
from .cookies import REFERRAL_COOKIE, decode_referral, normalize_code
from .models import Affiliate, Commission, Payout, ReferralClick

SALES_PAGE_SIZE = 25
PAYOUT_HISTORY_SIZE = 12

_NET = F("amount_cents") - F("reversed_cents")


def _sum(expression, condition: Q | None = None):
    return Coalesce(Sum(expression, filter=condition), 0)


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
    affiliates table: ``services.resolve_attribution`` decides whether it still counts."""
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
        .annotate(
            referrals=Count("id"),
            pending_cents=_sum(_NET, Q(status=Commission.Status.PENDING)),
            approved_cents=_sum(_NET, Q(status=Commission.Status.APPROVED)),
            in_payouts_net_cents=_sum(_NET, Q(payout__isnull=False)),
            # Not named reversed_cents: that would shadow the column in the F() of _NET.
            reversed_sum=_sum("reversed_cents"),
        )
        .order_by()
    )
    for row in commission_sums:
        row["reversed_cents"] = row.pop("reversed_sum")
        rows[(row.pop("affiliate_id"), row["currency"])].update(row)
    payout_sums = (
        Payout.objects.filter(affiliate_id__in=ids)
        .values("affiliate_id", "currency")
        .annotate(paid_out_cents=_sum("amount_cents"), payouts=Count("id"))
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


def referred_sales(affiliate: Affiliate) -> QuerySet[Commission]:
    return (
        Commission.objects.filter(affiliate=affiliate)
        .select_related("course")
        .defer("course__description", "course__features")
        .order_by("-sold_at", "-id")
    )


@dataclass(frozen=True)
class DashboardSummary:
    """The sales figures summed over the affiliate's whole history (cached: dashboard_cache)."""

    earnings: list[Earnings]
    payouts: list[Payout]
    sales_count: int


@dataclass(frozen=True)
class Dashboard:
    affiliate: Affiliate
    clicks: int
    earnings: list[Earnings]
    payouts: list[Payout]
    sales: Page
    # The history tables (earnings, payouts, this page of sales) as rendered for these figures,
    # when cached, and where to cache them (None when the cache is down).
    history_html: str | None
    history_key: str | None

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


_commission_count = Coalesce(
    Subquery(
        Commission.objects.filter(payout=OuterRef("pk"))
        .order_by()
        .values("payout")
        .annotate(count=Count("id"))
        .values("count")[:1]
    ),
    0,
)


def _dashboard_summary(affiliate: Affiliate) -> DashboardSummary:
    """The sales figures over the whole history: 4 queries."""
    earnings = earnings_by_affiliate([affiliate.pk])[affiliate.pk]
    return DashboardSummary(
        earnings=earnings,
        payouts=list(
            Payout.objects.filter(affiliate=affiliate)
            # A subquery per shown payout, not a join of the whole commission history.
            .annotate(commission_count=_commission_count)
            .order_by("-sequence")[:PAYOUT_HISTORY_SIZE]
        ),
        sales_count=sum(e.referrals for e in earnings),
    )


def click_count(affiliate_id: int) -> int:
    """Clicks over the whole history: those of settled days (before yesterday, which no click
    can join any more) counted once a day and cached, plus the last two days' counted now."""
    recent_since = timezone.localdate() - timedelta(days=1)
    clicks = ReferralClick.objects.filter(affiliate_id=affiliate_id)
    settled_key = dashboard_cache.settled_clicks_key(affiliate_id, recent_since)
    settled = dashboard_cache.get(settled_key)
    if settled is None:
        settled = clicks.filter(day__lt=recent_since).count()
        dashboard_cache.put(settled_key, settled, timeout=dashboard_cache.SETTLED_CLICKS_SECONDS)
    return settled + clicks.filter(day__gte=recent_since).count()


def _page_number(page) -> int:
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


def affiliate_dashboard(*, affiliate: Affiliate, page: str | int | None = 1) -> Dashboard:
    """Everything the dashboard shows, whatever the affiliate's history: two round trips to the
    cache when it is warm (the versions, then the figures and the rendered tables). The sales
    page's query runs only when its table is rendered."""
    keys = dashboard_cache.keys(affiliate.pk)
    cached = {}
    if keys is not None:
        cached = dashboard_cache.get_many(
            keys.summary, keys.clicks, keys.history(_page_number(page))
        )
    summary = keys and cached.get(keys.summary)
    if summary is None:
        summary = _dashboard_summary(affiliate)
        dashboard_cache.put(keys and keys.summary, summary)
    clicks = keys and cached.get(keys.clicks)
    if clicks is None:
        clicks = click_count(affiliate.pk)
        dashboard_cache.put(keys and keys.clicks, clicks)
    sales = _CountedSales(referred_sales(affiliate), summary.sales_count)
    sales_page = Paginator(sales, SALES_PAGE_SIZE).get_page(page)
    history_key = keys and keys.history(sales_page.number)
    return Dashboard(
        affiliate=affiliate,
        clicks=clicks,
        earnings=summary.earnings,
        payouts=summary.payouts,
        sales=sales_page,
        history_html=cached.get(history_key),
        history_key=history_key,
    )


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
