"""Enrolled voices in SQL: SQLite by default, PostgreSQL (or any SQLAlchemy URL) when scaled out.

A speaker is a row; each enrollment sample is its own row, so concurrent enrolls of
one speaker both land (no read-modify-write of a shared vector). The reference is
computed from the samples when read. Every write is one transaction.
All methods block; call them via to_thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, create_engine, event, func, select
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from gateway.core.errors import SpeakerNotFound, SpeakerStoreFull
from gateway.core.speakers import reference_of

__all__ = ["SpeakerInfo", "SpeakerStore"]


class Base(DeclarativeBase):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class SpeakerRow(Base):
    __tablename__ = "speakers"
    speaker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SampleRow(Base):
    __tablename__ = "speaker_samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    speaker_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("speakers.speaker_id", ondelete="CASCADE"), index=True
    )
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(32), default="upload")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


@dataclass(frozen=True)
class SpeakerInfo:
    speaker_id: str
    samples: int
    created_at: datetime
    updated_at: datetime


class SpeakerStore:
    def __init__(self, url: str, max_samples: int, max_speakers: int) -> None:
        connect_args: dict[str, object] = {}
        if url.startswith("sqlite"):
            connect_args = {"check_same_thread": False, "timeout": 30}
            db_path = url.split("///", 1)[-1]
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        try:
            Base.metadata.create_all(self.engine)
        except (IntegrityError, ProgrammingError):
            # another replica created the tables at the same moment: they exist now
            Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.max_samples = max_samples
        self.max_speakers = max_speakers

    def close(self) -> None:
        self.engine.dispose()

    def enroll(self, speaker_id: str, embedding: np.ndarray, source: str = "upload") -> int:
        """Add one sample; returns the speaker's sample count after it."""
        blob = np.asarray(embedding, dtype="<f4").tobytes()
        for attempt in range(2):
            try:
                with self._session.begin() as session:
                    # Row lock (PostgreSQL) / IMMEDIATE transaction (SQLite): enrolls of one speaker
                    # run one after another, so the count and the sample limit are exact.
                    if session.get(SpeakerRow, speaker_id, with_for_update=True) is None:
                        if (session.scalar(select(func.count()).select_from(SpeakerRow)) or 0) >= self.max_speakers:
                            raise SpeakerStoreFull(f"the store holds the maximum of {self.max_speakers} speakers")
                        session.add(SpeakerRow(speaker_id=speaker_id))
                        session.flush()
                    count = self._count(session, speaker_id)
                    if count >= self.max_samples:
                        raise SpeakerStoreFull(
                            f"speaker '{speaker_id}' already has {self.max_samples} samples; delete it to re-enroll"
                        )
                    session.add(SampleRow(speaker_id=speaker_id, embedding=blob, source=source))
                    return count + 1
            except IntegrityError:
                if attempt:  # a concurrent enroll created the speaker first: retry once as an existing one
                    raise
        raise AssertionError("unreachable")

    def reference(self, speaker_id: str) -> np.ndarray:
        with self._session() as session:
            blobs = session.scalars(select(SampleRow.embedding).where(SampleRow.speaker_id == speaker_id)).all()
        if not blobs:
            raise SpeakerNotFound(f"speaker '{speaker_id}' is not enrolled")
        return reference_of([np.frombuffer(b, dtype="<f4") for b in blobs])

    def list(self) -> list[SpeakerInfo]:
        with self._session() as session:
            rows = session.execute(
                select(
                    SpeakerRow.speaker_id,
                    SpeakerRow.created_at,
                    func.count(SampleRow.id),
                    func.max(SampleRow.created_at),
                )
                .join(SampleRow, SampleRow.speaker_id == SpeakerRow.speaker_id, isouter=True)
                .group_by(SpeakerRow.speaker_id, SpeakerRow.created_at)
                .order_by(SpeakerRow.speaker_id)
            ).all()
        return [SpeakerInfo(sid, n, created, updated or created) for sid, created, n, updated in rows]

    def delete(self, speaker_id: str) -> None:
        with self._session.begin() as session:
            row = session.get(SpeakerRow, speaker_id)
            if row is None:
                raise SpeakerNotFound(f"speaker '{speaker_id}' is not enrolled")
            session.query(SampleRow).filter(SampleRow.speaker_id == speaker_id).delete()
            session.delete(row)

    @staticmethod
    def _count(session: Session, speaker_id: str) -> int:
        return int(session.scalar(select(func.count(SampleRow.id)).where(SampleRow.speaker_id == speaker_id)) or 0)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    # SQLite has no row locks: take the write lock up front so writers serialise instead of racing.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
