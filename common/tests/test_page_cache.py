"""What the shared-page cache keeps: only pages with nothing of the visitor's own in them."""

import pytest
from django.http import HttpResponse
from django.middleware.csrf import get_token

from common.page_cache import cache_shared_page


def _counting_view(body):
    calls = []

    @cache_shared_page(
        version_key="test:version", key=lambda request: "test:page", name="test", timeout=60
    )
    def view(request):
        calls.append(request)
        return HttpResponse(body(request))

    return view, calls


def test_a_plain_page_is_rendered_once_and_then_served_from_the_cache(rf):
    view, calls = _counting_view(lambda request: "the same for everyone")

    first, second = view(rf.get("/")), view(rf.get("/"))

    assert len(calls) == 1
    assert first.content == second.content == b"the same for everyone"
    assert second["Vary"] == "Cookie"


@pytest.mark.parametrize(
    "visitor_cookie", ["sessionid", "messages"], ids=["signed-in", "message-waiting"]
)
def test_a_visitor_with_a_session_or_a_message_gets_the_page_rendered(rf, visitor_cookie):
    view, calls = _counting_view(lambda request: "the same for everyone")
    view(rf.get("/"))

    request = rf.get("/")
    request.COOKIES[visitor_cookie] = "x"
    view(request)

    assert len(calls) == 2


def test_a_page_holding_a_csrf_token_is_never_shared(rf):
    view, calls = _counting_view(get_token)

    first, second = view(rf.get("/")), view(rf.get("/"))

    assert len(calls) == 2
    assert first.content != second.content
