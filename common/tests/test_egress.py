"""The egress guard against a real HTTP server on 127.0.0.1: refused by default, allowed by the allowlist."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from django.test import override_settings

from audit.tests.receiver import Answer, Receiver
from common.egress import (
    EgressDenied,
    ResponseTooLarge,
    address_is_public,
    allow_rule_parse,
    egress_request,
    egress_resolve,
    egress_url_check,
)

BLOCKED = [
    "http://127.0.0.1/",
    "http://127.1.2.3:8080/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
    "http://[64:ff9b::a00:1]/",  # NAT64 wrapping 10.0.0.1
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://localhost/",
    "http://LOCALHOST:8000/",
]


@pytest.mark.parametrize("url", BLOCKED)
def test_forbidden_targets_are_refused_before_any_connection(url):
    with pytest.raises(EgressDenied, match="is not a public address"):
        egress_url_check(url=url)
    with pytest.raises(EgressDenied, match="is not a public address"):
        egress_request(method="GET", url=url, timeout=2)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_pass(address):
    assert address_is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "http://user:pw@example.com/", "gopher://x/"],
)
def test_only_plain_http_urls(url):
    with pytest.raises(EgressDenied):
        egress_url_check(url=url)


def test_an_unresolvable_name_is_accepted_at_configuration_and_refused_at_delivery():
    egress_url_check(url="https://hooks.example.test/x")  # checked again when delivering
    with pytest.raises(EgressDenied, match="cannot resolve"):
        egress_request(method="GET", url="https://hooks.example.test/x", timeout=2)


@pytest.mark.parametrize(
    ("entry", "host", "address", "port", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1", "127.0.0.1", 80, True),
        ("127.0.0.1:9000", "127.0.0.1", "127.0.0.1", 9000, True),
        ("127.0.0.1:9000", "127.0.0.1", "127.0.0.1", 9001, False),
        ("10.0.0.0/8", "x", "10.1.2.3", 443, True),
        ("10.0.0.0/8", "x", "11.1.2.3", 443, False),
        ("[::1]:8080", "::1", "::1", 8080, True),
        ("::1", "::1", "::1", 1, True),
        ("hooks.internal", "HOOKS.internal", "10.9.9.9", 443, True),
        ("hooks.internal:8443", "hooks.internal", "10.9.9.9", 443, False),
        ("hooks.internal", "other.internal", "10.9.9.9", 443, False),
    ],
)
def test_allow_rules(entry, host, address, port, allowed):
    rule = allow_rule_parse(entry)
    assert rule.matches(host=host, address=ipaddress.ip_address(address), port=port) is allowed


def test_bad_allow_entries_fail_loudly():
    with pytest.raises(ValueError, match="HARBOR_EGRESS_ALLOW"):
        allow_rule_parse("http://x/y")


def test_allowlisted_loopback_port_goes_through_and_others_do_not():
    with Receiver() as receiver, override_settings(HARBOR_EGRESS_ALLOW=[f"127.0.0.1:{receiver.port}"]):
        response = egress_request(method="POST", url=f"{receiver.url}/hook", timeout=5, content=b"{}")
        assert response.status_code == 200
        assert response.body == b"ok"
        assert receiver.requests[0].path == "/hook"
        assert receiver.requests[0].headers["host"] == f"127.0.0.1:{receiver.port}"
        with pytest.raises(EgressDenied):
            egress_request(method="GET", url=f"http://127.0.0.1:{receiver.port + 1}/", timeout=2)
        # Rules match the address connected to, so a name resolving to an allowlisted IP passes too.
        assert egress_resolve(host="localhost", port=receiver.port) == ipaddress.ip_address("127.0.0.1")


def test_the_host_header_stays_the_name_while_the_connection_goes_to_the_checked_address():
    with Receiver() as receiver, override_settings(HARBOR_EGRESS_ALLOW=["localhost"]):
        egress_request(method="GET", url=f"http://localhost:{receiver.port}/named", timeout=5)
        assert receiver.requests[0].headers["host"] == f"localhost:{receiver.port}"


def test_redirects_are_not_followed_and_each_followed_hop_is_checked():
    with Receiver() as target, Receiver() as bouncer:
        bouncer.default = Answer(status=302, headers={"Location": f"{target.url}/secret"})
        with override_settings(HARBOR_EGRESS_ALLOW=[f"127.0.0.1:{bouncer.port}"]):
            not_followed = egress_request(method="GET", url=bouncer.url, timeout=5)
            assert not_followed.status_code == 302
            with pytest.raises(EgressDenied, match=f"127.0.0.1:{target.port}"):
                egress_request(method="GET", url=bouncer.url, timeout=5, follow_redirects=True)
        assert target.requests == []


def test_response_bodies_are_capped():
    with Receiver(default=Answer(body=b"x" * 200_000)) as receiver:
        with override_settings(HARBOR_EGRESS_ALLOW=["127.0.0.1"], HARBOR_EGRESS_MAX_RESPONSE_BYTES=1024):
            capped = egress_request(method="GET", url=receiver.url, timeout=5)
            assert capped.truncated
            assert len(capped.body) == 1024
            with pytest.raises(ResponseTooLarge):
                egress_request(method="GET", url=receiver.url, timeout=5, truncate=False)
        with override_settings(HARBOR_EGRESS_ALLOW=["127.0.0.1"]):
            small = egress_request(method="GET", url=receiver.url, timeout=5, max_bytes=300_000)
            assert not small.truncated
            assert len(small.body) == 200_000


def test_transport_errors_are_httpx_errors():
    with Receiver() as receiver:
        port = receiver.port
    with override_settings(HARBOR_EGRESS_ALLOW=["127.0.0.1"]), pytest.raises(httpx.ConnectError):
        egress_request(method="GET", url=f"http://127.0.0.1:{port}/", timeout=2)
