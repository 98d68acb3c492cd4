"""`homeward serve` spreads phones over its worker processes: a kept-alive connection is closed
after REQUESTS_PER_CONNECTION requests, so a phone that never stops sending still reconnects,
and its next connection goes to whichever worker accepts it (webapp/cli.py, `rebalance`)."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from webapp.cli import REQUESTS_PER_CONNECTION


def test_a_kept_alive_connection_is_closed_after_its_share_of_requests(server):
    url = urlsplit(server["url"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.connect()
        first = conn.sock
        for n in range(1, REQUESTS_PER_CONNECTION + 1):
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            closing = response.getheader("Connection") == "close"
            assert closing == (n == REQUESTS_PER_CONNECTION), n
            assert conn.sock is (None if closing else first), n  # one connection until then
        conn.request("GET", "/healthz")  # http.client opens a new one, as a phone's does
        response = conn.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Connection") == "keep-alive"
    finally:
        conn.close()
