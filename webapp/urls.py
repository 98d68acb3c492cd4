"""Redirect targets that can only ever stay on this site.

Every place that sends a browser to an address it was given (`next=` after sign-in, a `back`
field, a notification's link) goes through `safe_local_path`: an open redirect would make our
sign-in page, or a reminder on a lock screen, a tool for phishing the people who use Homeward.

Browsers are generous with what they call a path: they drop tabs and line breaks inside a URL,
read a backslash as a slash ("/\\host" is "//host", another site), and a header value with a line
break would either be refused by the server (a 500) or split the response. So the rule is narrow:
a single leading "/", then printable characters with no backslash, checked both as given and once
percent-decoded (what a later hop may decode it to).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from werkzeug.urls import iri_to_uri

# Longer than any address of ours (ids are UUIDs); a longer one is not a link we made.
MAX_LENGTH = 2048


def _looks_local(path: str) -> bool:
    if not path.startswith("/") or path.startswith("//"):
        return False
    if "\\" in path:
        return False
    # Control characters (C0, DEL, C1) and other invisible ones: browsers strip some of them
    # before parsing, which is how "/\t/host" becomes "//host".
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in path):
        return False
    if path != path.strip():
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc


def safe_local_path(target: object) -> str | None:
    """`target` as a path on this site, ASCII-quoted for a Location header, or None.

    None means "not a safe place to send anyone": callers fall back to a page of their own.
    """
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return None
    if not _looks_local(target) or not _looks_local(unquote(target)):
        return None
    # Non-ASCII letters are fine in a path but not in a header: quote them as a browser would.
    return iri_to_uri(target)
