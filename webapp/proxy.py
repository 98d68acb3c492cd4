"""The reverse proxy in front of the app: its X-Forwarded-* headers, and only its.

Behind nginx the app sees every request as http from the proxy's address. ProxyFix restores the
browser's scheme, host and address, which the origin check, Secure cookies, sign-in throttling
and the audit trail all rely on. But anyone can send those headers, so they are honoured only
when the connection comes from an address in HOMEWARD_TRUSTED_PROXIES; a client talking to the
app directly cannot claim another address or https.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """Parse "10.0.0.5, 192.0.2.0/24, ::1"; ValueError names the bad entry."""
    networks = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


class TrustedProxyFix:
    """ProxyFix for requests from a trusted proxy; every other request passes untouched.

    One hop of each header: the value the trusted proxy itself set or appended (nginx's
    $proxy_add_x_forwarded_for appends the address it saw to whatever the client sent).
    """

    def __init__(self, wsgi_app, trusted: Iterable[Network]):
        self.wsgi_app = wsgi_app
        self.trusted = tuple(trusted)
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)

    def is_trusted(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False  # a Unix socket or no address: nothing to trust
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped  # an IPv4 proxy reaching a dual-stack listener
        return any(ip in network for network in self.trusted)

    def __call__(self, environ, start_response):
        if self.is_trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    trusted = app.config["HOMEWARD_TRUSTED_PROXIES"]
    if isinstance(trusted, str):  # given as a config override rather than from the environment
        trusted = parse_networks(trusted)
    if trusted:
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, trusted)
