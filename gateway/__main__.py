"""Run the gateway: ``python -m gateway`` (HOST, PORT, keepalive and connection limits come from Settings).

It refuses to listen beyond loopback without API keys unless ALLOW_ANONYMOUS says that is intended:
an open speech service on a network gives anyone every stored recording and voice print.
"""

from __future__ import annotations

import ipaddress
import logging
import sys

import uvicorn

from gateway.app.logs import log_config
from gateway.app.server_protocol import HeaderDeadlineProtocol
from gateway.core.config import Settings, get_settings

log = logging.getLogger("gateway")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def exposure_problem(s: Settings) -> str | None:
    """Why this configuration must not start, or None."""
    if is_loopback(s.HOST) or s.api_keys or s.ALLOW_ANONYMOUS:
        return None
    return (
        f"refusing to listen on {s.HOST} without API keys: set API_KEYS (tenant:key,...), "
        "or ALLOW_ANONYMOUS=true if anonymous access from the network is intended"
    )


def main() -> None:
    s = get_settings()
    problem = exposure_problem(s)
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(2)
    if not is_loopback(s.HOST) and not s.api_keys:
        log.warning("serving on %s without API keys (ALLOW_ANONYMOUS=true)", s.HOST)
    HeaderDeadlineProtocol.header_timeout_sec = s.HEADER_TIMEOUT_SEC
    uvicorn.run(
        "gateway.app.main:create_app",
        http=HeaderDeadlineProtocol,
        factory=True,
        host=s.HOST,
        port=s.PORT,
        ws_ping_interval=s.WS_PING_INTERVAL_SEC,
        ws_ping_timeout=s.WS_PING_TIMEOUT_SEC,
        ws_max_size=s.STREAM_MAX_FRAME_BYTES,
        limit_concurrency=s.MAX_CONNECTIONS,
        timeout_keep_alive=int(s.KEEPALIVE_TIMEOUT_SEC),
        log_config=log_config(s.LOG_LEVEL),
    )


if __name__ == "__main__":
    main()
