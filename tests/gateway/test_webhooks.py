"""Webhooks: which callback URLs are refused (before any connection), signatures, retries to a real receiver."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from gateway.app.services.webhooks import WebhookSender
from gateway.core.config import Settings
from gateway.core.errors import InvalidRequest
from gateway.core.jobs import CallbackState, backoff_sec
from gateway.core.webhooks import parse_callback_url, refused_address, sign, verify
from tests.webhook_receiver import webhook_receiver

SECRET = "s3cret-for-tests-only"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.10",
        "169.254.169.254",  # the cloud metadata service
        "fd00:ec2::254",  # AWS's IPv6 metadata address
        "100.100.100.200",  # shared address space (Alibaba's metadata)
        "fe80::1%eth0",
        "::ffff:127.0.0.1",  # loopback dressed as IPv6
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    assert refused_address(address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refused_address(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x",
        "file:///etc/passwd",
        "gopher://h/",
        "http://user:pw@example.org/",
        "http:///nohost",
        "x" * 3000,
    ],
)
def test_malformed_or_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_callback_url(url)


def test_a_signature_verifies_and_a_changed_body_or_an_old_one_does_not() -> None:
    body, now = b'{"job_id": "job_1"}', int(time.time())
    header = sign(SECRET, now, body)
    assert verify(SECRET, header, body, now=now)
    assert not verify(SECRET, header, body + b" ", now=now)
    assert not verify("another-secret-entirely", header, body, now=now)
    assert not verify(SECRET, header, body, now=now + 3600)  # a replay an hour later
    assert not verify(SECRET, "v1=deadbeef", body, now=now)


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff_sec(n, 2.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_sec(20, 2.0) == 300.0


def _sender(**overrides: object) -> WebhookSender:
    values: dict[str, object] = {"WEBHOOK_SECRET": SECRET, "WEBHOOK_BACKOFF_SEC": 0.05, **overrides}
    return WebhookSender(Settings(**values))  # type: ignore[arg-type]


def test_check_refuses_loopback_and_metadata_targets_unless_allowed() -> None:
    async def run() -> None:
        sender = _sender()
        for url in ("http://127.0.0.1:8000/x", "http://localhost/x", "http://169.254.169.254/latest/meta-data/"):
            with pytest.raises(InvalidRequest, match="refused"):
                await sender.check(url)
        await sender.aclose()
        allowed = _sender(WEBHOOK_ALLOW_PRIVATE=True)
        assert await allowed.check("http://127.0.0.1:8000/x") == "http://127.0.0.1:8000/x"
        await allowed.aclose()
        unsigned = _sender(WEBHOOK_SECRET="")
        with pytest.raises(InvalidRequest, match="WEBHOOK_SECRET"):
            await unsigned.check("https://example.org/x")
        await unsigned.aclose()

    asyncio.run(run())


def test_a_failing_receiver_gets_retries_with_one_delivery_id_then_success() -> None:
    async def run(url: str) -> tuple[CallbackState, int, list[int]]:
        sender = _sender(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_MAX_TRIES=5)
        seen: list[int] = []

        async def on_retry(attempts: int, _error: str) -> None:
            seen.append(attempts)

        outcome = await sender.deliver(url, {"job_id": "job_1"}, "job_1", "dlv_1", on_retry)
        await sender.aclose()
        return outcome.state, outcome.attempts, seen

    with webhook_receiver(fail_first=2) as receiver:
        state, attempts, retried = asyncio.run(run(receiver.url))
    assert state == CallbackState.DELIVERED and attempts == 3 and retried == [1, 2]
    assert len(receiver.received) == 3
    assert {r.delivery_id for r in receiver.received} == {"dlv_1"}
    assert all(r.signed_by(SECRET) and r.payload == {"job_id": "job_1"} for r in receiver.received)
    gaps = [b.at - a.at for a, b in itertools.pairwise(receiver.received)]
    assert gaps[1] > gaps[0] * 1.5  # the wait doubles


def test_a_receiver_that_stays_down_fails_the_delivery_after_the_tries() -> None:
    async def run() -> tuple[CallbackState, int, str | None]:
        sender = _sender(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_MAX_TRIES=3, WEBHOOK_TIMEOUT_SEC=2)
        with webhook_receiver() as gone:
            url = gone.url
        outcome = await sender.deliver(url, {}, "job_1", "dlv_1")
        await sender.aclose()
        return outcome.state, outcome.attempts, outcome.error

    state, attempts, error = asyncio.run(run())
    assert state == CallbackState.FAILED and attempts == 3 and error and "Connect" in error
