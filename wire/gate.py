"""The token between the gateway and TorchServe's gate (ts_gate): who may call the models.

Both sides check it the same way at start-up, so a deployment that kept the shipped
placeholder, or a token short enough to guess, does not start instead of running open.
``is_placeholder`` is the one rule for every shipped example secret (API keys, webhook
secret, this token).
"""

from __future__ import annotations

__all__ = ["MIN_TOKEN_CHARS", "check_gate_token", "is_placeholder"]

MIN_TOKEN_CHARS = 24
# the marks of the values our examples ship (k8s Secret, README, compose comments)
_PLACEHOLDERS = (
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replaceme",
    "your-key",
    "your-token",
    "example-key",
    "example",
)


def is_placeholder(secret: str) -> bool:
    """A value shipped in an example Secret, not a real one."""
    return any(mark in secret.lower() for mark in _PLACEHOLDERS)


def check_gate_token(token: str, name: str = "TS_GATE_TOKEN") -> str:
    """The token, if a deployment may run with it; ValueError saying why not (never the token itself)."""
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"{name} must be at least {MIN_TOKEN_CHARS} characters (e.g. openssl rand -hex 24)")
    if is_placeholder(token):
        raise ValueError(f"{name} is the shipped placeholder: put a generated token in the Secret")
    return token
