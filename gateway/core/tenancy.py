"""Whose data is it: API keys name tenants, and files, speakers (and jobs) belong to a tenant.

``API_KEYS`` entries are ``tenant:key`` (several keys may share a tenant) or a bare ``key``,
which belongs to the default tenant, as every key did before tenants existed. Without keys
(the local default) everything is the default tenant's. Another tenant's file or speaker
answers exactly like a missing one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.core.errors import InvalidRequest
from wire.gate import is_placeholder

__all__ = ["DEFAULT_TENANT", "KeyEntry", "parse_api_keys"]

DEFAULT_TENANT = "default"
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class KeyEntry:
    tenant: str
    key: str


def parse_api_keys(value: str) -> list[KeyEntry]:
    """``tenant:key`` / ``key`` entries, comma-separated; InvalidRequest names a bad one (never the key itself)."""
    entries: list[KeyEntry] = []
    for n, raw in enumerate((part.strip() for part in value.split(",")), start=1):
        if not raw:
            continue
        tenant, sep, key = raw.partition(":")
        if not sep:
            tenant, key = DEFAULT_TENANT, raw
        if not _TENANT.fullmatch(tenant):
            raise InvalidRequest(
                f"API_KEYS entry {n}: tenant names are 1-64 of A-Z a-z 0-9 _ - (not starting with _ or -)"
            )
        if is_placeholder(key):  # a shipped example key: a deployment that kept one must not start
            raise InvalidRequest(f"API_KEYS entry {n} is a placeholder: set real keys (e.g. openssl rand -hex 24)")
        entries.append(KeyEntry(tenant, key))
    if len({e.key for e in entries}) != len(entries):
        raise InvalidRequest("API_KEYS: the same key is listed twice")
    return entries
