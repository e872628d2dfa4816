"""Retention: stored files older than FILES_TTL_SEC go, in every tenant's folder.

Uploads and enhance results are otherwise kept forever; on a shared volume behind several
replicas each replica sweeps (deleting a file twice is harmless). Temp files left by uploads
that died mid-way go after an hour whatever the TTL.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gateway.app.services.file_store import LocalFileStore, sweep_expired

__all__ = ["sweep_forever"]

log = logging.getLogger(__name__)
_MAX_INTERVAL_SEC = 600.0


async def sweep_forever(store: LocalFileStore, ttl_sec: float) -> None:
    interval = min(_MAX_INTERVAL_SEC, ttl_sec / 4) if ttl_sec else _MAX_INTERVAL_SEC
    while True:
        try:
            removed = await asyncio.to_thread(sweep_expired, store.all_roots(), ttl_sec, time.time())
            if removed:
                log.info("retention: %d expired file(s) deleted", removed)
        except OSError as exc:  # a volume hiccup must not end the sweeper
            log.warning("retention sweep failed: %s", type(exc).__name__)
        await asyncio.sleep(max(interval, 1.0))
