"""Outbound requests on a tenant's behalf: public addresses only, a total deadline, a byte cap.
No test here sends traffic anywhere but loopback: refusals happen before any connection."""

import time

import pytest

from tests.receivers import answer_drip, answer_huge, answer_ok, closed_port
from transcriptions.services import outbound


def post(url, **kw):
    kw.setdefault("deadline_seconds", 5)
    kw.setdefault("max_bytes", 65536)
    return outbound.post(url, body=b"{}", headers={"Content-Type": "application/json"}, **kw)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
        "not-an-ip",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert not outbound.address_allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert outbound.address_allowed(address)


def test_allow_private_is_for_development_only_and_never_multicast():
    assert outbound.address_allowed("127.0.0.1", allow_private=True)
    assert not outbound.address_allowed("224.0.0.1", allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/internal-admin",
        "http://127.0.0.1:8000/internal-admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/",
        "http://0x7f000001/",  # 127.0.0.1 spelled as one number
        "http://2130706433/",
        "http://10.0.0.5/",
    ],
)
def test_target_check_refuses_the_operators_network(url):
    with pytest.raises(outbound.TargetRefused) as caught:
        outbound.target_check(url)
    assert caught.value.reason == outbound.REASON_REFUSED


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///x", "hook"])
def test_target_check_refuses_what_is_not_http(url):
    with pytest.raises(outbound.TargetRefused):
        outbound.target_check(url)


def test_delivery_to_loopback_is_refused_before_connecting(receiver):
    r = receiver(answer_ok)
    outcome = post(r.url)
    assert outcome == outbound.Outcome(None, outbound.REASON_REFUSED)
    time.sleep(0.3)
    assert r.connections == 0, "the refusal came before any connection"


def test_dns_rebinding_is_refused_at_delivery(receiver, monkeypatch):
    """The name resolved to a public address when the job was submitted and to loopback when
    the callback is sent: the address actually connected is checked again."""
    r = receiver(answer_ok)
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    monkeypatch.setattr(outbound, "resolve", lambda host, port: next(answers))
    url = r.url.replace("127.0.0.1", "rebind.example")
    outbound.target_check(url)  # public at submit time
    assert post(url) == outbound.Outcome(None, outbound.REASON_REFUSED)
    time.sleep(0.3)
    assert r.connections == 0


def test_allowed_private_target_is_delivered(receiver):
    r = receiver(answer_ok)
    outcome = post(r.url, allow_private=True)
    assert outcome == outbound.Outcome(200, "") and outcome.delivered


def test_a_drip_feeding_receiver_is_cut_at_the_total_deadline(receiver):
    r = receiver(answer_drip(interval=0.2))  # each read is quick: only a total deadline stops this
    started = time.monotonic()
    outcome = post(r.url, allow_private=True, deadline_seconds=1.5)
    took = time.monotonic() - started
    assert outcome == outbound.Outcome(None, outbound.REASON_TIMEOUT)
    assert took < 2.5, took


def test_a_receiver_that_never_answers_is_cut_at_the_deadline(receiver):
    r = receiver(lambda talk: time.sleep(4))
    started = time.monotonic()
    assert post(r.url, allow_private=True, deadline_seconds=1).reason == outbound.REASON_TIMEOUT
    assert time.monotonic() - started < 2


def test_a_huge_answer_is_cut_at_the_byte_cap(receiver):
    r = receiver(answer_huge())
    outcome = post(r.url, allow_private=True, max_bytes=100_000)
    assert outcome == outbound.Outcome(200, outbound.REASON_TOO_LARGE)
    assert not outcome.delivered


def test_redirects_are_not_followed(receiver):
    target = receiver(answer_ok)

    def redirect(talk):
        talk.send(
            f"HTTP/1.1 302 Found\r\nLocation: {target.url}\r\nContent-Length: 0\r\n\r\n".encode()
        )

    r = receiver(redirect)
    assert post(r.url, allow_private=True) == outbound.Outcome(302, "HTTP 302")
    assert target.connections == 0


def test_a_closed_port_gives_a_generic_reason():
    port = closed_port()
    outcome = post(f"http://127.0.0.1:{port}/", allow_private=True)
    assert outcome == outbound.Outcome(None, outbound.REASON_CONNECT)
    assert "refused" not in outcome.reason.lower() and "errno" not in outcome.reason.lower()


def test_a_slow_name_server_is_cut_at_the_deadline(monkeypatch):
    """The tenant's own name server takes its time answering: the lookup counts against the
    attempt's deadline too."""

    def slow(host, port):
        time.sleep(3)
        return ["93.184.216.34"]

    monkeypatch.setattr(outbound, "resolve", slow)
    started = time.monotonic()
    outcome = post("http://slow-dns.example/hook", deadline_seconds=1)
    assert outcome == outbound.Outcome(None, outbound.REASON_TIMEOUT)
    assert time.monotonic() - started < 2
