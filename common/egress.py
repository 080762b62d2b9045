"""The egress guard: every server-side fetch (webhooks, replication, scanners) goes through here.

A user-supplied URL must not turn the server into a proxy to its own network. So the host is
resolved and every address it resolves to is checked: loopback, private (RFC 1918, fc00::/7),
shared (100.64/10), link-local (169.254/16 with the cloud metadata address, fe80::/10),
unspecified, multicast and reserved addresses are refused, also when hidden in an IPv4-mapped,
6to4 or NAT64 IPv6 form, unless HARBOR_EGRESS_ALLOW names them (hosts, IPs, CIDRs, each
optionally with :port).

The connection then goes to the very address that was checked (the URL is rewritten to the IP,
the Host header and the TLS SNI/certificate name stay the original host's), so a DNS answer that
changes between check and connect (rebinding) cannot slip through. The check runs in the
transport, i.e. for every request the client sends, redirect hops included; our clients do not
follow redirects by default. Bodies are read up to a cap.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class EgressDenied(Exception):
    """A server-side request to an address this server must not reach (or that cannot be reached at all)."""


class ResponseTooLarge(EgressDenied):
    """A response body larger than the cap, when the caller asked not to truncate."""


@dataclass(frozen=True, slots=True)
class AllowRule:
    """One HARBOR_EGRESS_ALLOW entry: a host name or a network, optionally restricted to one port."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def matches(self, *, host: str, address: IPAddress, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return address.version == self.network.version and address in self.network
        return self.host == host.lower().rstrip(".")


def _network(text: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        return None


def allow_rule_parse(entry: str) -> AllowRule:
    """`10.0.0.0/8`, `127.0.0.1:8080`, `[::1]:8080`, `::1`, `hooks.internal`, `hooks.internal:8443`."""
    entry = entry.strip()
    network = _network(entry)
    if network is not None:
        return AllowRule(network=network)
    head, sep, tail = entry.rpartition(":")
    port = int(tail) if sep and tail.isdigit() else None
    if port is not None and (head.startswith("[") or ":" not in head):
        network = _network(head)
        return AllowRule(network=network, port=port) if network else AllowRule(host=head.lower(), port=port)
    if not entry or "/" in entry or ":" in entry:
        raise ValueError(f"HARBOR_EGRESS_ALLOW: {entry!r} is not a host, IP, CIDR or host:port")
    return AllowRule(host=entry.lower().rstrip("."))


def allow_rules(entries: Iterable[str] | None = None) -> tuple[AllowRule, ...]:
    """The allowlist (HARBOR_EGRESS_ALLOW when `entries` is None)."""
    raw = settings.HARBOR_EGRESS_ALLOW if entries is None else entries
    return tuple(allow_rule_parse(entry) for entry in raw if entry.strip())


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_is_public(address: IPAddress) -> bool:
    """Globally routable unicast (and so is any IPv4 address embedded in it)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None and not address_is_public(embedded):
        return False
    # is_global excludes loopback, RFC 1918, fc00::/7, 100.64/10, link-local, unspecified and reserved
    # blocks (IANA special-purpose registries); multicast is "global" for some scopes, so it is added.
    return address.is_global and not address.is_multicast


def _resolve(host: str, port: int) -> list[IPAddress]:
    literal = _network(host)
    if literal is not None and literal.num_addresses == 1:
        return [literal.network_address]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressDenied(f"cannot resolve {host!r}: {exc}") from exc
    seen: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])  # drop an IPv6 zone id
        if address not in seen:
            seen.append(address)
    if not seen:
        raise EgressDenied(f"{host!r} resolves to no address")
    return seen


def egress_resolve(*, host: str, port: int, rules: tuple[AllowRule, ...] | None = None) -> IPAddress:
    """The address to connect to for host:port; EgressDenied when any of its addresses is off limits."""
    rules = allow_rules() if rules is None else rules
    addresses = _resolve(host, port)
    for address in addresses:
        allowed = address_is_public(address) or any(
            rule.matches(host=host, address=address, port=port) for rule in rules
        )
        if not allowed:
            # Every answer is checked, not only the first: a name resolving to a public and a private
            # address would otherwise be reachable on the private one by retry or address order.
            shown = host if str(address) == host.strip("[]") else f"{host} ({address})"
            raise EgressDenied(
                f"egress to {shown}:{port} is refused: {address} is not a public address "
                "(HARBOR_EGRESS_ALLOW can allow it)"
            )
    return addresses[0]


def _split(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EgressDenied(f"{url!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in DEFAULT_PORTS:
        raise EgressDenied(f"{url!r}: only http and https URLs are allowed")
    if not parts.hostname:
        raise EgressDenied(f"{url!r} has no host")
    if parts.username or parts.password:
        raise EgressDenied(f"{url!r}: credentials in the URL are not allowed (use the auth header)")
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def egress_url_check(*, url: str, resolve: bool = True) -> None:
    """Validate a target URL when it is configured (create/update): EgressDenied with the reason.

    A host name that does not resolve yet is accepted (it may exist by the time of delivery,
    where it is checked again); one that resolves to a forbidden address is not.
    """
    _, host, port = _split(url)
    literal = _network(host)
    if not resolve and literal is None:
        return
    try:
        egress_resolve(host=host, port=port)
    except EgressDenied as exc:
        if literal is None and str(exc).startswith("cannot resolve"):
            return
        raise


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport that checks, then pins, the peer address of every request it sends."""

    def __init__(self, *, rules: tuple[AllowRule, ...] | None = None, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self._rules = rules

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        if scheme not in DEFAULT_PORTS:
            raise EgressDenied(f"{request.url}: only http and https URLs are allowed")
        host = request.url.host
        port = request.url.port or DEFAULT_PORTS[scheme]
        address = egress_resolve(host=host, port=port, rules=self._rules)
        extensions = dict(request.extensions)
        if scheme == "https":
            extensions["sni_hostname"] = host  # certificate checked against the name, not the IP
        # A copy with the checked IP in the URL; the Host header was set from the original URL.
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=str(address)),
            headers=request.headers,
            stream=request.stream,
            extensions=extensions,
        )
        return super().handle_request(pinned)


@dataclass(frozen=True, slots=True)
class EgressResponse:
    """A response whose body was read up to the cap."""

    status_code: int
    headers: httpx.Headers
    body: bytes
    truncated: bool
    elapsed_ms: int


def egress_client(
    *, timeout: float, verify: bool = True, follow_redirects: bool = False, rules: tuple[AllowRule, ...] | None = None
) -> httpx.Client:
    """An httpx client behind the guard (no proxies from the environment: a proxy would bypass it)."""
    return httpx.Client(
        transport=GuardedTransport(rules=rules, verify=verify),
        timeout=timeout,
        follow_redirects=follow_redirects,
        trust_env=False,
    )


def egress_request(
    *,
    method: str,
    url: str,
    timeout: float,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    verify: bool = True,
    follow_redirects: bool = False,
    max_bytes: int | None = None,
    truncate: bool = True,
    rules: tuple[AllowRule, ...] | None = None,
) -> EgressResponse:
    """Send one request through the guard and read at most `max_bytes` of the body.

    Raises EgressDenied for a forbidden address, httpx.HTTPError for transport failures, and
    ResponseTooLarge when the body exceeds the cap and `truncate` is False.
    """
    _split(url)
    cap = settings.HARBOR_EGRESS_MAX_RESPONSE_BYTES if max_bytes is None else max_bytes
    start = time.monotonic()
    with (
        egress_client(timeout=timeout, verify=verify, follow_redirects=follow_redirects, rules=rules) as client,
        client.stream(method, url, headers=headers, content=content) as response,
    ):
        body = bytearray()
        truncated = False
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > cap:
                if not truncate:
                    raise ResponseTooLarge(f"{url}: response body larger than {cap} bytes")
                del body[cap:]
                truncated = True
                break  # leaving the block closes the connection without reading the rest
        return EgressResponse(
            status_code=response.status_code,
            headers=response.headers,
            body=bytes(body),
            truncated=truncated,
            elapsed_ms=int((time.monotonic() - start) * 1000),
        )
