"""Where a webhook may go (docs/SECURITY.md, item 1): https to a public host, checked in every
spelling when saved, and by every resolved address when sent, connecting only to a checked one."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from diversion_common.webhooks import transport
from diversion_common.webhooks.targets import LOOPBACK, address_refusal, host_refusal
from diversion_common.webhooks.transport import CheckedTransport, RefusedTarget
from diversion_common.webhooks.urls import WebhookUrl, is_loopback
from support.webhook_receiver import WebhookReceiver

URL = TypeAdapter(WebhookUrl)

LOOPBACK_SPELLINGS = [
    "http://127.0.0.1:9100/",
    "http://2130706433:9100/",  # decimal
    "http://0x7f000001:9100/",  # hex
    "http://0177.0.0.1:9100/",  # octal
    "http://127.1:9100/",  # fewer parts
    "http://[::1]:9100/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://localhost:9100/",
    "http://LOCALHOST./",
    "https://api.localhost/",
]

NEVER = [
    "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    "https://2852039166/",  # the same, in decimal
    "https://[::ffff:169.254.169.254]/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://metadata.google.internal./",
    "https://metadata/",  # one label: completed by the resolver's search domains
    "https://10.0.0.1/",
    "https://10.255.255.255:8443/",
    "https://172.16.0.1/",
    "https://192.168.1.10/",
    "https://100.64.0.1/",  # shared address space (CGNAT)
    "https://0.0.0.0/",
    "https://0/",
    "https://[::]/",
    "https://[fd00::1]/",
    "https://[fd00:ec2::254]/",  # AWS's IPv6 metadata address
    "https://[fe80::1]/",
    "https://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    "https://[2002:a00:1::]/",  # 6to4 around 10.0.0.1
    "https://224.0.0.1/",
    "https://[ff02::1]/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    "https://printer.local/",
    "https://192.0.2.1/",  # documentation range
    "http://provider.example/hook",  # plain http to anyone else
    "ftp://provider.example/hook",
]


@pytest.mark.parametrize("url", NEVER)
def test_a_url_to_a_private_internal_or_plain_http_target_is_refused(url):
    with pytest.raises(ValidationError):
        URL.validate_python(url)


@pytest.mark.parametrize("url", LOOPBACK_SPELLINGS)
def test_this_machine_in_any_spelling_is_loopback_which_only_a_development_setting_allows(url):
    assert is_loopback(URL.validate_python(url))


@pytest.mark.parametrize("url", ["https://provider.example/hooks/cases", "https://93.184.216.34:8443/hook", "https://[2606:4700::1111]/x"])
def test_https_to_a_public_host_is_taken(url):
    parsed = URL.validate_python(url)
    assert not is_loopback(parsed)


@pytest.mark.parametrize(
    "address, refusal",
    [
        ("127.0.0.1", LOOPBACK), ("::1", LOOPBACK), ("::ffff:127.0.0.1", LOOPBACK), ("169.254.169.254", "link-local"),
        ("::ffff:169.254.169.254", "link-local"), ("10.1.2.3", "private"), ("fd00::1", "private"), ("0.0.0.0", "unspecified"),
        ("::", "unspecified"), ("224.0.0.251", "multicast"), ("100.64.0.1", "not public"), ("64:ff9b::a00:1", "reserved"),
        ("93.184.216.34", None), ("2606:4700::1111", None),
    ],
)
def test_each_resolved_address_is_classified(address, refusal):
    assert address_refusal(ipaddress.ip_address(address)) == refusal


def test_names_are_left_to_the_delivery_check_unless_they_are_internal():
    assert host_refusal("provider.example") is None
    assert host_refusal("metadata.google.internal") == "an internal name"
    assert host_refusal("intranet") == "not a fully qualified name"


# --- the transport: resolve, check every address, connect to a checked one -------------------------


def post(url: str, *, allow_loopback: bool) -> httpx.Response:
    async def go() -> httpx.Response:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        async with httpx.AsyncClient(transport=CheckedTransport(allow_loopback=allow_loopback, limits=limits), trust_env=False) as client:
            return await client.post(url, content=b"{}", timeout=2)

    return asyncio.run(go())


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def dns(monkeypatch):
    """The resolver, standing in for DNS: each name's answers, in turn; every question is noted."""
    answers: dict[str, list[list[str]]] = {}
    asked: list[str] = []

    async def resolve(host: str, _port: int):
        asked.append(host)
        queue = answers[host]
        return [ipaddress.ip_address(a) for a in (queue.pop(0) if len(queue) > 1 else queue[0])]

    monkeypatch.setattr(transport, "resolve", resolve)
    return answers, asked


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["169.254.169.254"], ["10.0.0.7"], ["::ffff:127.0.0.1"], ["93.184.216.34", "127.0.0.1"], ["0.0.0.0"], []],
)
def test_a_name_that_resolves_to_any_refused_address_is_refused_before_connecting(receiver, dns, addresses):
    answers, asked = dns
    port = receiver.url.split(":")[2].split("/")[0]
    answers["rebound.provider.example"] = [addresses]
    with pytest.raises(RefusedTarget):
        post(f"https://rebound.provider.example:{port}/hook", allow_loopback=False)
    assert receiver.received == []  # nothing reached the address behind the name


def test_the_connection_goes_to_the_address_that_was_checked_not_to_a_second_answer(receiver, dns):
    """A rebinding name answers 127.0.0.1 (allowed here, a local run) and then 10.0.0.7: the one
    resolution that was checked is the one connected to, so the second answer is never used."""
    answers, asked = dns
    port = receiver.url.split(":")[2].split("/")[0]
    answers["rebinding.provider.example"] = [["127.0.0.1"], ["10.0.0.7"]]

    response = post(f"http://rebinding.provider.example:{port}/webhooks/diversion-link", allow_loopback=True)

    assert response.status_code == 401  # the receiver answered (the message is unsigned): it was reached
    assert asked == ["rebinding.provider.example"]
    [received] = receiver.received
    assert received.webhook_id == ""
    with pytest.raises(RefusedTarget):  # and asked again, the name's new answer is refused
        post(f"http://rebinding.provider.example:{port}/webhooks/diversion-link", allow_loopback=True)


def test_plain_http_is_refused_unless_a_local_run_allows_it(receiver):
    with pytest.raises(RefusedTarget):
        post(receiver.url, allow_loopback=False)
    assert receiver.received == []
    assert post(receiver.url, allow_loopback=True).status_code == 401  # reached (unsigned)
