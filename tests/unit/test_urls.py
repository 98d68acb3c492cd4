"""safe_local_path: every redirect target the app is given stays on this site."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.urls import safe_local_path

OFF_SITE = [
    "https://evil.example/phish",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\\\evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%5Cevil.example",
    "/%5c%5cevil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "/%0D%0ASet-Cookie:%20a=b",
    "/x\r\nSet-Cookie: a=b",
    "/x\nLocation: https://evil.example",
    "/x\x00",
    "/x%00",
    "/\u2028/evil.example",
    "/\u200b/evil.example",
    " /notifications/",
    "/notifications/ ",
    "evil.example",
    "notifications/",
    "",
    None,
    42,
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_anything_that_could_leave_the_site_is_refused(target):
    assert safe_local_path(target) is None


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/notifications/",
        "/interviews/3f1c2a9e-7d7b-4a56-9a0e-1f5a0c9b8d11",
        "/children/?page=2",
        "/interviews/x/sections/why?next=//still-a-query",
        "/episodes/1#police",
    ],
)
def test_a_path_on_this_site_is_kept_as_it_is(target):
    assert safe_local_path(target) == target


def test_non_ascii_is_quoted_for_the_location_header():
    assert safe_local_path("/children/zoë") == "/children/zo%C3%AB"


@given(st.text(max_size=60))
def test_whatever_it_keeps_is_a_printable_single_slash_path(target):
    kept = safe_local_path(target)
    if kept is None:
        return
    assert kept.startswith("/") and not kept.startswith("//")
    assert "\\" not in kept
    assert kept.isascii() and kept.isprintable() and " " not in kept


@pytest.mark.parametrize("target", [t for t in OFF_SITE if isinstance(t, str)])
def test_a_push_message_cannot_carry_a_link_elsewhere(target):
    from webapp.push.client import Message

    with pytest.raises(ValueError, match="url must be a path in the app"):
        Message(title="Reminder", body="A reminder.", ref="r1", url=target)
