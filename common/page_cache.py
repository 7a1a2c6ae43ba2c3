"""Whole pages cached for the visitors who all see the same page.

A visitor with neither a session cookie nor a messages cookie is anonymous and has no message
waiting, so a public page (the catalog, a course) depends only on its address and its data.
For them the view's response is cached; everyone else gets the page rendered. Either way the
whole middleware stack runs: a ``?ref=`` click is still recorded and the security headers are
still set.

A page is stored with the data version it was rendered from (``common.versioned_cache.version``) and
served only while that version is current, so one round trip to the cache fetches both and a
data change retires every page at once. Each web process also keeps the pages it served in
memory (at most ``LOCAL_PAGES``) and serves them with no round trip while their version is the
one the process's ``version_feed`` knows to be current; without a live feed, the round trip.
"""

from collections.abc import Callable
from functools import wraps
from threading import Lock

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from . import version_feed, versioned_cache
from .metrics import record_cache

LOCAL_PAGES = 512
# page key -> (version, content type, content): this process's copies, oldest first.
_local_pages: dict[str, tuple[str, str, bytes]] = {}
_local_lock = Lock()


def _keep_locally(page_key: str, page: tuple[str, str, bytes]) -> None:
    with _local_lock:
        _local_pages.pop(page_key, None)
        while len(_local_pages) >= LOCAL_PAGES:
            del _local_pages[next(iter(_local_pages))]
        _local_pages[page_key] = page


def _sees_the_shared_page(request: HttpRequest) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and CookieStorage.cookie_name not in request.COOKIES
    )


def _shareable(request: HttpRequest, response: HttpResponse) -> bool:
    """Nothing of this visitor's own went into the page: no CSRF token, no session write."""
    session = getattr(request, "session", None)
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not (session is not None and session.modified)
    )


def cache_shared_page(
    *, version_key: str, key: Callable[[HttpRequest], str], name: str, timeout: int
):
    """Serve the view's page from the cache to visitors who all see the same one.

    ``version_key`` holds the version of the data the page shows, bumped with
    ``cache.bump_versions(version_key, announce=True)`` (else processes keep their copies up
    to ``version_feed.TRUST_SECONDS``); ``key(request)`` names the page from the parts of the
    request the view reads; ``name`` labels the hit/miss metric;
    ``timeout`` (seconds) is a safety net, the version is what retires a page.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not _sees_the_shared_page(request):
                return view(request, *args, **kwargs)
            page_key = key(request)
            feed = version_feed.feed()
            current = feed.known(version_key) if feed is not None else None
            local = _local_pages.get(page_key) if current is not None else None
            if local is not None and local[0] == current:
                record_cache(hit=True, cache_name=name)
                response = HttpResponse(local[2], content_type=local[1])
            else:
                response = _through_the_cache(
                    request, view, args, kwargs, version_key, page_key, name, timeout, feed
                )
            # Visitors with cookies may see another page at the same address.
            patch_vary_headers(response, ("Cookie",))
            return response

        return wrapped

    return decorator


def _through_the_cache(request, view, args, kwargs, version_key, page_key, name, timeout, feed):
    """The page from the shared cache when its version is current, else rendered (and stored);
    kept in this process's memory either way, and the version read taught to the feed."""
    generation = feed.generation() if feed is not None else 0
    found = versioned_cache.get_many([version_key, page_key])
    version, cached = found.get(version_key), found.get(page_key)
    hit = version is not None and cached is not None and cached[0] == version
    record_cache(hit=hit, cache_name=name)
    if hit:
        _version, content_type, content = cached
        response = HttpResponse(content, content_type=content_type)
        page = cached
    else:
        version = version or versioned_cache.version(version_key)
        response = view(request, *args, **kwargs)
        page = None
        if version is not None and _shareable(request, response):
            page = (version, response["Content-Type"], response.content)
            versioned_cache.put(page_key, page, timeout=timeout)
    if feed is not None and version is not None:
        feed.learn(version_key, version, generation)
        if page is not None:
            _keep_locally(page_key, page)
    return response
