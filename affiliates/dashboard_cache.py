"""Versioned cache keys for an affiliate's dashboard.

Its figures are sums over the whole history, too costly to recompute on every visit once an
affiliate has a long history, and its tables are costly to render. Two versions per affiliate
retire them:

- the *sales* version, for the commission and payout figures and the rendered history tables:
  every service that writes a commission or payout for an affiliate calls ``invalidate`` (the
  tables also carry the catalog version, for the course titles they show);
- the *clicks* version, for the click counts: ``record_referral_click`` calls
  ``invalidate_clicks`` (the clicks-and-sales chart carries both versions). Clicks come far
  more often than sales, and recounting them is cheap (``dashboard.click_figures``), so a
  click leaves the costly sums in place.

Both bump now and again after commit, so a reader between the write and the commit cannot
re-cache old figures. With the cache down everything is computed each time.

The whole page is cached too (``page``), stamped with the versions it was drawn from and what
else it shows (the affiliate's row, the user's staff flag): one round trip fetches the
versions and the page together, and a page whose stamp is not the current one is drawn again.
Its key carries the language and the page's templates and static files (``_code``), so a
deploy that changes them never serves an older page.
"""

import hashlib
from dataclasses import dataclass
from datetime import date
from functools import cache

from django.contrib.staticfiles.storage import staticfiles_storage
from django.template.loader import get_template
from django.utils.translation import get_language

from common import versioned_cache
from courses.selectors import CATALOG_VERSION_KEY

# Part of every key holding a value: change it with the shape of what is cached, or with the
# Python that draws the page, so a process of the new code never reads what the old one cached
# (a deploy keeps Redis). 2: charts' figures. 3: whole pages. 4: pages as bytes.
SHAPE = 4
# The templates the whole page is drawn from (``page_key``).
PAGE_TEMPLATES = (
    "base.html",
    "includes/nav_links.html",
    "affiliates/dashboard.html",
    "affiliates/includes/dashboard_history.html",
)
# A safety net only: correctness comes from invalidation.
SUMMARY_SECONDS = 10 * 60
# Clicks of settled days never change: each day's count of them is kept a week, so a later
# day's count starts from the latest one kept (dashboard.click_figures).
SETTLED_CLICKS_DAYS = 7
SETTLED_CLICKS_SECONDS = (SETTLED_CLICKS_DAYS + 1) * 24 * 60 * 60


def _sales_version_key(affiliate_id: int) -> str:
    return f"affiliates:dashboard-version:{affiliate_id}"


def _clicks_version_key(affiliate_id: int) -> str:
    return f"affiliates:clicks-version:{affiliate_id}"


@dataclass(frozen=True)
class Keys:
    """Where this affiliate's current figures are cached."""

    summary: str
    clicks: str
    catalog_version: str

    @property
    def activity(self) -> str:
        """The rendered clicks-and-sales chart: it draws both figures, so either retires it."""
        return f"{self.summary}:{self.clicks}:activity"

    def history(self, page_number: int) -> str:
        """The rendered history tables with this page of sales; they name courses, so a course
        change (the catalog version) retires them too."""
        return f"{self.summary}:{self.catalog_version}:history:{page_number}"

    def page_stamp(self, shown: tuple) -> tuple:
        """What a whole page drawn now depends on: every version, and ``shown`` as a digest
        (the affiliate's row holds payout details, which the cache need not hold)."""
        digest = hashlib.sha256(repr(shown).encode()).hexdigest()
        return (self.summary, self.clicks, self.catalog_version, digest)


def _keys(affiliate_id: int, sales: str, clicks: str, catalog: str) -> Keys:
    return Keys(
        summary=f"affiliates:dashboard:{SHAPE}:{affiliate_id}:{sales}",
        clicks=f"affiliates:clicks:{SHAPE}:{affiliate_id}:{clicks}",
        catalog_version=catalog,
    )


def keys(affiliate_id: int) -> Keys | None:
    """The keys of the current versions (one round trip); None when the cache is down."""
    sales_key, clicks_key = _sales_version_key(affiliate_id), _clicks_version_key(affiliate_id)
    versions = versioned_cache.versions(sales_key, clicks_key, CATALOG_VERSION_KEY)
    if versions is None:
        return None
    return _keys(
        affiliate_id, versions[sales_key], versions[clicks_key], versions[CATALOG_VERSION_KEY]
    )


@cache
def _code() -> str:
    """A digest of the page's templates and of the static files' names (hashed in production),
    the same in every process of one deploy."""
    digest = hashlib.sha256()
    for name in PAGE_TEMPLATES:
        digest.update(get_template(name).template.source.encode())
    digest.update(str(getattr(staticfiles_storage, "manifest_hash", "")).encode())
    return digest.hexdigest()[:16]


def page_key(affiliate_id: int, page_number: int) -> str:
    where = f"{affiliate_id}:{page_number}:{get_language()}:{_code()}"
    return f"affiliates:dashboard-page:{SHAPE}:{where}"


def page(affiliate_id: int, page_key_: str, shown: tuple) -> tuple[Keys | None, bytes | None]:
    """The current keys and the whole page cached under ``page_key_`` if it was drawn from
    them and ``shown`` (else None): one round trip when the versions exist; (None, None) when
    the cache is down."""
    sales_key, clicks_key = _sales_version_key(affiliate_id), _clicks_version_key(affiliate_id)
    found = versioned_cache.get_many([sales_key, clicks_key, CATALOG_VERSION_KEY, page_key_])
    versions = [found.get(key) for key in (sales_key, clicks_key, CATALOG_VERSION_KEY)]
    if None in versions:
        return keys(affiliate_id), None
    current = _keys(affiliate_id, *versions)
    cached = found.get(page_key_)
    if cached is not None and cached[0] == current.page_stamp(shown):
        return current, cached[1]
    return current, None


def settled_clicks_key(affiliate_id: int, before: date) -> str:
    return f"affiliates:settled-clicks:{SHAPE}:{affiliate_id}:{before.isoformat()}"


def get_many(*keys_: str) -> dict:
    return versioned_cache.get_many(list(keys_))


def get(key: str | None):
    return versioned_cache.get(key)


def put(key: str | None, value, *, timeout: int = SUMMARY_SECONDS) -> None:
    versioned_cache.put(key, value, timeout=timeout)


def _bump_after_commit_too(keys_: list[str]) -> None:
    versioned_cache.bump_versions_after_commit_too(*keys_)


def invalidate(*affiliate_ids: int) -> None:
    """Commissions or payouts of these affiliates changed."""
    _bump_after_commit_too([_sales_version_key(pk) for pk in sorted(set(affiliate_ids))])


def invalidate_clicks(affiliate_id: int) -> None:
    """A click was recorded for this affiliate."""
    _bump_after_commit_too([_clicks_version_key(affiliate_id)])
