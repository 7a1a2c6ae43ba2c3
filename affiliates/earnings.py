"""Each affiliate's commission figures per UTC day (``EarningsDay``), kept so the dashboard reads
a row per day of history instead of summing every commission after each sale, refund, approval
or payout.

How they stay right without transactions or locks:

- every write that changes a commission's figures sets ``totals_stale`` and raises ``version``
  in the same one-row-or-more UPDATE (a new row is born stale, whoever inserts it);
- ``refresh`` reads the affiliate's stale rows, recomputes their days from the commission rows
  (a sum, never an increment: running it twice cannot count a sale twice), stores each day
  only over a sum taken earlier (``stamp`` = Σ version of the rows summed; each write raises
  it and a statement sees a prefix of the commits, so an older sum never replaces a newer
  one), then clears the flag of exactly the versions it counted (a row changed since stays
  stale);
- a crash between any two steps leaves flags set, and the next writer or dashboard reader
  (``selectors``) refreshes again. Each step is safe to re-run alone.

The cost is the commissions of the stale days, never the whole history.
"""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.db import IntegrityError
from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from common.transactions import atomic

from .models import Commission, EarningsDay

# Days recomputed per aggregate query, and flags cleared per UPDATE.
DAYS_PER_QUERY = 62
ROWS_PER_UPDATE = 1000
# Stale rows read per round (a backfill of a long history takes several).
STALE_ROWS_PER_ROUND = 50_000

_NET = F("amount_cents") - F("reversed_cents")


def money_sum(expression, condition: Q | None = None):
    return Coalesce(Sum(expression, filter=condition), 0)


def commission_figures() -> dict:
    """The aggregates of every commission figure, named like ``selectors.Earnings``: one
    definition for the daily totals and for the staff pages that sum the rows themselves, so the
    two always agree. ``reversed_cents`` comes as ``reversed_sum`` (that name would shadow the
    column in the F() of the net)."""
    return {
        "sales": Count("pk"),
        "referrals": Count("pk", filter=~Q(status=Commission.Status.REVERSED)),
        "pending_cents": money_sum(_NET, Q(status=Commission.Status.PENDING)),
        "approved_cents": money_sum(_NET, Q(status=Commission.Status.APPROVED)),
        "in_payouts_net_cents": money_sum(_NET, Q(payout__isnull=False)),
        "reversed_sum": money_sum("reversed_cents"),
    }


def _batched(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def stale_affiliate_ids() -> list[int]:
    """Affiliates with commissions not yet counted (after a crash, or a bulk import)."""
    return list(
        Commission.objects.filter(totals_stale=True)
        .values_list("affiliate_id", flat=True)
        .distinct()
        .order_by("affiliate_id")
    )


def refresh(affiliate_id: int) -> int:
    """Bring the affiliate's ``EarningsDay`` rows up to date; returns how many days it
    recomputed (0, in one query, when nothing was stale)."""
    recomputed = 0
    while True:
        stale = list(
            Commission.objects.filter(affiliate_id=affiliate_id, totals_stale=True)
            .values_list("pk", "version", "sold_at")
            # Any order: a round's rows leave the stale index once counted. (The model's
            # ordering would sort every stale row of a backfill for each round.)
            .order_by()[:STALE_ROWS_PER_ROUND]
        )
        if not stale:
            return recomputed
        days = sorted({day_of(sold_at) for _, _, sold_at in stale})
        for chunk in _batched(days, DAYS_PER_QUERY):
            _recompute(affiliate_id, chunk)
        recomputed += len(days)
        _clear(stale)
        if len(stale) < STALE_ROWS_PER_ROUND:
            return recomputed


def day_sums(affiliate_id: int, days) -> list[dict]:
    """The figures of these days recomputed from the commission rows, per currency and day.

    Each row's UTC day is a ``Case`` over the days' windows (as its ordinal), not
    ``TruncDate(tzinfo=UTC)``, which MongoDB's backend cannot compute: one grouped query on
    every backend."""
    window = Q()
    which_day = []
    for day in days:
        start = datetime.combine(day, time.min, tzinfo=UTC)
        in_day = Q(sold_at__gte=start, sold_at__lt=start + timedelta(days=1))
        window |= in_day
        which_day.append(When(in_day, then=Value(day.toordinal())))
    rows = list(
        Commission.objects.filter(window, affiliate_id=affiliate_id)
        .annotate(sold_on=Case(*which_day, output_field=IntegerField()))
        .values("currency", "sold_on")
        .annotate(stamp=Sum("version"), **commission_figures())
        .order_by("currency", "sold_on")  # one order of row locks for every refresh
    )
    for row in rows:
        row["sold_on"] = date.fromordinal(row["sold_on"])
    return rows


def _recompute(affiliate_id: int, days) -> None:
    store(affiliate_id, day_sums(affiliate_id, days))


def store(affiliate_id: int, sums: list[dict]) -> None:
    """Write ``day_sums`` into the days' rows, each only over a sum taken earlier."""
    _create_missing_days(affiliate_id, {(row["sold_on"], row["currency"]) for row in sums})
    for row in sums:
        figures = dict(row)
        EarningsDay.objects.filter(
            affiliate_id=affiliate_id,
            currency=figures.pop("currency"),
            day=figures.pop("sold_on"),
            stamp__lt=figures["stamp"],
        ).update(
            reversed_cents=figures.pop("reversed_sum"),
            paid_cents=figures.pop("in_payouts_net_cents"),
            **figures,
        )


def _create_missing_days(affiliate_id: int, keys: set[tuple[date, str]]) -> None:
    """Insert the (day, currency) rows that do not exist yet, with stamp 0. Each insert is
    guarded by the unique (affiliate, day, currency) constraint: a concurrent refresh that
    inserted it first wins, and ours is a no-op (every backend; no bulk ``ignore_conflicts``,
    which MongoDB's backend lacks)."""
    if not keys:
        return
    existing = set(
        EarningsDay.objects.filter(
            affiliate_id=affiliate_id, day__in={day for day, _ in keys}
        ).values_list("day", "currency")
    )
    for day, currency in sorted(keys - existing):
        try:
            with atomic():
                EarningsDay.objects.create(affiliate_id=affiliate_id, currency=currency, day=day)
        except IntegrityError:
            pass  # another refresh created it


def _clear(stale: list[tuple[int, int, datetime]]) -> None:
    by_version: dict[int, list[int]] = defaultdict(list)
    for pk, version, _ in stale:
        by_version[version].append(pk)
    for version, pks in by_version.items():
        for chunk in _batched(pks, ROWS_PER_UPDATE):
            Commission.objects.filter(pk__in=chunk, version=version, totals_stale=True).update(
                totals_stale=False
            )
