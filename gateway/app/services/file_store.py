"""The file store: a folder (a shared volume when scaled out) of uploads and results.

Names are checked against a strict pattern before any path is built, and the
resolved path must stay inside the root, so no request can read or write outside
it. Writes go to a hidden temp file that is hard-linked to its final name: the
link fails instead of overwriting, so two uploads of one name both survive, and a
reader never sees a half-written file. All methods block; call them via to_thread.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
import unicodedata
from pathlib import Path
from typing import BinaryIO

from gateway.core.errors import FileNotFound, InvalidRequest, StorageFull, UploadTooLarge
from gateway.core.tenancy import DEFAULT_TENANT

__all__ = ["LocalFileStore", "sweep_expired"]

_SAFE = re.compile(r"[\w][\w.\- ]*")  # \w is Unicode-aware: Cyrillic names stay readable
_COPY_CHUNK = 1 << 20
# File systems limit a name to 255 bytes, not characters (90 CJK characters already pass it);
# 16 bytes stay free for the collision suffix.
_MAX_NAME_BYTES = 255
_SUFFIX_ROOM = 16
_TENANTS = ".tenants"
_NAME_TRIES = 4
_STALE_TEMP_SEC = 3600.0  # a temp file this old belongs to an upload that died mid-way


def _cut_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    return text.encode()[:limit].decode(errors="ignore")


class LocalFileStore:
    def __init__(self, root: Path, max_name_chars: int = 128, quota_bytes: int = 0) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_name_chars = max_name_chars
        self.quota_bytes = quota_bytes  # per tenant; 0: no quota
        self._tenants: dict[str, LocalFileStore] = {}

    # Tenants -----------------------------------------------------------------
    def scoped(self, tenant: str) -> LocalFileStore:
        """The store of one tenant: the root for the default tenant, a folder of its own for each other.

        Tenant folders sit under ``.tenants/``, a name no stored file can have (names never start
        with a dot), so one tenant's names can never reach another's files.
        """
        if tenant == DEFAULT_TENANT:
            return self
        store = self._tenants.get(tenant)
        if store is None:
            store = self._tenants[tenant] = LocalFileStore(
                self.root / _TENANTS / tenant, self.max_name_chars, self.quota_bytes
            )
        return store

    def all_roots(self) -> list[Path]:
        """This store's folder and every tenant's (for the retention sweep)."""
        tenants = self.root / _TENANTS
        return [self.root, *(sorted(p for p in tenants.iterdir() if p.is_dir()) if tenants.is_dir() else [])]

    def used_bytes(self) -> int:
        # stored files only: temp files (".upload-*") include the very upload being checked
        return sum(e.stat().st_size for e in os.scandir(self.root) if e.is_file() and not e.name.startswith("."))

    # Names -------------------------------------------------------------------
    def clean_name(self, wanted: str | None) -> str:
        """A safe stored name derived from a client-supplied one (path parts dropped)."""
        name = unicodedata.normalize("NFC", (wanted or "").replace("\\", "/").split("/")[-1])
        name = re.sub(r"[^\w.\- ]", "_", name).strip(" .")
        if not name or not _SAFE.fullmatch(name):
            name = "upload" + (f"_{name}" if name else "")
        stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
        ext = _cut_bytes(ext[:16], 16)
        room = _MAX_NAME_BYTES - _SUFFIX_ROOM - len(dot) - len(ext.encode())
        stem = _cut_bytes(stem[: self.max_name_chars - len(ext) - 8], room).rstrip(" .") or "upload"
        return f"{stem}{dot}{ext}"

    def _path(self, name: str) -> Path:
        """The path of an existing-or-not stored name; rejects anything that is not a plain name."""
        if (
            not name
            or len(name) > self.max_name_chars
            or len(name.encode()) > _MAX_NAME_BYTES
            or name.startswith(".")
            or "\x00" in name
            or not _SAFE.fullmatch(name)
        ):
            raise FileNotFound()
        path = (self.root / name).resolve()
        if path.parent != self.root:
            raise FileNotFound()
        return path

    # Reads -------------------------------------------------------------------
    def open_path(self, name: str) -> Path:
        path = self._path(name)
        if not path.is_file():
            raise FileNotFound()
        return path

    def open_file(self, name: str) -> BinaryIO:
        """The stored file, open for reading (the caller closes it)."""
        try:
            return self.open_path(name).open("rb")
        except OSError as exc:  # vanished between the check and the open, or unreadable
            raise FileNotFound() from exc

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise FileNotFound() from exc

    # Writes ------------------------------------------------------------------
    def save(self, source: BinaryIO, wanted_name: str | None, max_bytes: int) -> str:
        """Copy ``source`` into the store under a fresh name based on ``wanted_name``."""
        tmp = self._write_temp(source, max_bytes)
        try:
            return self._publish(tmp, self.clean_name(wanted_name))
        finally:
            tmp.unlink(missing_ok=True)

    def save_bytes(self, data: bytes, wanted_name: str) -> str:
        tmp = self._write_temp_bytes(data)
        try:
            return self._publish(tmp, self.clean_name(wanted_name))
        finally:
            tmp.unlink(missing_ok=True)

    def _write_temp(self, source: BinaryIO, max_bytes: int) -> Path:
        fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=self.root)
        tmp = Path(tmp_name)
        try:
            written = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(_COPY_CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise UploadTooLarge(f"upload exceeds {max_bytes} bytes")
                    out.write(chunk)
            if written == 0:
                raise InvalidRequest("empty file")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _write_temp_bytes(self, data: bytes) -> Path:
        fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=self.root)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return Path(tmp_name)

    def _publish(self, tmp: Path, name: str) -> str:
        if self.quota_bytes:
            size, used = tmp.stat().st_size, self.used_bytes()
            if used + size > self.quota_bytes:
                raise StorageFull(
                    f"storage quota of {self.quota_bytes} bytes reached ({used} used): delete files first"
                )
        stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
        # A taken name gets a short random suffix: one or two tries, however popular the name is.
        for candidate in [name, *(f"{stem}_{secrets.token_hex(3)}{dot}{ext}" for _ in range(_NAME_TRIES))]:
            try:
                os.link(tmp, self.root / candidate)
            except FileExistsError:
                continue
            return candidate
        raise InvalidRequest("could not find a free name for this file")


def sweep_expired(roots: list[Path], ttl_sec: float, now: float) -> int:
    """Delete stored files (and abandoned temp files) older than ``ttl_sec``; returns how many went."""
    removed = 0
    for root in roots:
        for entry in os.scandir(root):
            if not entry.is_file(follow_symlinks=False):
                continue
            limit = _STALE_TEMP_SEC if entry.name.startswith(".upload-") else ttl_sec
            if limit and now - entry.stat().st_mtime > limit:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed
