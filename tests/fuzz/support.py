"""What the fuzzers share: the budget, the values worth throwing at a server, and the one
property every answer must have (no 500, no redirect off the site)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# `make test` runs each fuzz target with its small default (about 60 s for all of them on both
# databases); `make fuzz` sets HOMEWARD_FUZZ_EXAMPLES to run every target much longer.
ENV = "HOMEWARD_FUZZ_EXAMPLES"


def budget(default: int) -> int:
    raw = os.environ.get(ENV, "").strip()
    return int(raw) if raw else default


def fuzz_settings(default_examples: int) -> settings:
    return settings(
        max_examples=budget(default_examples),
        deadline=None,
        # The database is the state under test and changes from one example to the next, so a
        # saved example would not replay the same way; the failing one is printed instead.
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


# Strings that have broken servers: NUL (PostgreSQL text cannot hold it), lone surrogates (no
# UTF-8), line breaks (headers), odd and huge numbers, dates that do not exist or are out of
# range, markup, and off-site addresses.
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\r\n",
    "/\r\nSet-Cookie: a=b",
    "\t",
    "\u2028",
    "\ufeff",
    "0",
    "-1",
    "1e309",
    "NaN",
    "99999999999999999999999999",
    "2026-02-30T10:00",
    "2026-03-29T01:30",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "10000-01-01T00:00",
    "31",
    "13",
    "00",
    "<script>alert(1)</script>",
    "{{7*7}}",
    "' OR 1=1 --",
    "../../etc/passwd",
    "/\\evil.example",
    "//evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "None",
    "null",
    "true",
    "ü" * 3,
    "\U0001f600",
]

# One character that has broken a server, put somewhere into an otherwise plausible value.
SPECIALS = ["\x00", "\ud800", "\udfff", "\r\n", "\n", "\t", "\\", "\u2028", "\x7f", "%00"]


def poisoned(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda text, bad, at: text[: at % (len(text) + 1)] + bad + text[at % (len(text) + 1) :],
        base,
        st.sampled_from(SPECIALS),
        st.integers(min_value=0, max_value=64),
    )


nasty_text = st.one_of(
    st.sampled_from(NASTY),
    poisoned(st.text(max_size=20)),
    st.text(max_size=40),
    st.builds(lambda n: "x" * n, st.sampled_from([255, 256, 1001, 10_001, 100_001])),
)


def plausible_or_nasty(real: list[str]) -> st.SearchStrategy[str]:
    """A value the page offers, the same with a bad character in it, or anything nasty."""
    if not real:
        return nasty_text
    offered = st.sampled_from(sorted(real))
    return st.one_of(offered, poisoned(offered), nasty_text)


def assert_sane(response, what: str) -> None:
    """The properties every answer must have, whatever was sent."""
    assert response.status_code < 500, f"{what} answered {response.status_code}"
    location = response.headers.get("Location")
    if location is not None:
        parts = urlsplit(location)
        assert parts.netloc in ("", "localhost", "127.0.0.1"), f"{what} redirected to {location!r}"
        assert "\\" not in location and location.isprintable(), f"{what}: {location!r}"
