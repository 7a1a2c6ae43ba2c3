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

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncDate

from .models import Commission, EarningsDay

# Days recomputed per aggregate query, and flags cleared per UPDATE.
DAYS_PER_QUERY = 62
ROWS_PER_UPDATE = 1000
# Stale rows read per round (a backfill of a long history takes several).
STALE_ROWS_PER_ROUND = 50_000

_NET = F("amount_cents") - F("reversed_cents")


def _sum(expression, condition: Q | None = None):
    return Coalesce(Sum(expression, filter=condition), 0)


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
            Commission.objects.filter(affiliate_id=affiliate_id, totals_stale=True).values_list(
                "pk", "version", "sold_at"
            )[:STALE_ROWS_PER_ROUND]
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
    """The figures of these days recomputed from the commission rows, per currency and day."""
    window = Q()
    for day in days:
        start = datetime.combine(day, time.min, tzinfo=UTC)
        window |= Q(sold_at__gte=start, sold_at__lt=start + timedelta(days=1))
    return list(
        Commission.objects.filter(window, affiliate_id=affiliate_id)
        .annotate(sold_on=TruncDate("sold_at", tzinfo=UTC))
        .values("currency", "sold_on")
        .annotate(
            stamp=Sum("version"),
            sales=Count("pk"),
            referrals=Count("pk", filter=~Q(status=Commission.Status.REVERSED)),
            pending_cents=_sum(_NET, Q(status=Commission.Status.PENDING)),
            approved_cents=_sum(_NET, Q(status=Commission.Status.APPROVED)),
            paid_cents=_sum(_NET, Q(payout__isnull=False)),
            # Not named reversed_cents: that would shadow the column in the F() of _NET.
            reversed_sum=_sum("reversed_cents"),
        )
        .order_by("currency", "sold_on")  # one order of row locks for every refresh
    )


def _recompute(affiliate_id: int, days) -> None:
    store(affiliate_id, day_sums(affiliate_id, days))


def store(affiliate_id: int, sums: list[dict]) -> None:
    """Write ``day_sums`` into the days' rows, each only over a sum taken earlier."""
    EarningsDay.objects.bulk_create(
        [
            EarningsDay(affiliate_id=affiliate_id, currency=row["currency"], day=row["sold_on"])
            for row in sums
        ],
        ignore_conflicts=True,
    )
    for row in sums:
        figures = dict(row)
        EarningsDay.objects.filter(
            affiliate_id=affiliate_id,
            currency=figures.pop("currency"),
            day=figures.pop("sold_on"),
            stamp__lt=figures["stamp"],
        ).update(reversed_cents=figures.pop("reversed_sum"), **figures)


def _clear(stale: list[tuple[int, int, datetime]]) -> None:
    by_version: dict[int, list[int]] = defaultdict(list)
    for pk, version, _ in stale:
        by_version[version].append(pk)
    for version, pks in by_version.items():
        for chunk in _batched(pks, ROWS_PER_UPDATE):
            Commission.objects.filter(pk__in=chunk, version=version, totals_stale=True).update(
                totals_stale=False
            )
