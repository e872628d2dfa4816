"""Webhooks, the pure parts: which callback URLs may be called, and how a delivery is signed.

A callback URL is a request to make this server connect somewhere, so it is judged like any
other hostile input: only http(s), no credentials in it, and every address its host resolves
to must be a public one (no loopback, private, link-local, shared or metadata address) unless
the operator allows private targets. The caller of ``refused_address`` resolves the name;
this module only judges what came back.

Deliveries carry ``X-AudioCore-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is
HMAC-SHA256 with the shared secret over ``"<t>." + body``: the receiver recomputes it, compares
in constant time, and refuses an old ``t`` (a replayed delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.core.errors import InvalidRequest

__all__ = [
    "DELIVERY_HEADER",
    "JOB_HEADER",
    "MAX_URL_CHARS",
    "SIGNATURE_HEADER",
    "CallbackTarget",
    "parse_callback_url",
    "refused_address",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "X-AudioCore-Signature"
DELIVERY_HEADER = "X-AudioCore-Delivery"  # the same id on every retry of one completion: receivers dedup on it
JOB_HEADER = "X-AudioCore-Job"
MAX_URL_CHARS = 2048


@dataclass(frozen=True)
class CallbackTarget:
    url: str
    host: str  # a name or an address literal, without brackets
    port: int


def parse_callback_url(url: str) -> CallbackTarget:
    """The URL's host and port, or InvalidRequest saying what is wrong with it."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidRequest(f"callback_url is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidRequest(f"callback_url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidRequest("callback_url must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("callback_url must not carry credentials")
    host = parts.hostname
    if not host:
        raise InvalidRequest("callback_url has no host")
    return CallbackTarget(url, host, port or (443 if parts.scheme == "https" else 80))


def refused_address(address: str) -> str | None:
    """Why a resolved address may not be called back (None: it is a public address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone index is not part of the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "not a unicast address"
    if ip.is_private or not ip.is_global:
        return "a private or shared address"
    return None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_sec: float = 300.0) -> bool:
    """What a receiver does with a delivery: the signature matches and is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_sec:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={fields.get('v1', '')}")
