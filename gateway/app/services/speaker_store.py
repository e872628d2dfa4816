"""Enrolled voices in SQL: SQLite by default, PostgreSQL (or any SQLAlchemy URL) when scaled out.

A speaker is a row keyed by (tenant, speaker_id); each enrollment sample is its own row, so
concurrent enrolls of one speaker both land (no read-modify-write of a shared vector). The
reference is computed from the samples when read. Every write is one transaction; an enroll
checks the new sample against the reference inside it, so concurrent enrolls are judged one
after another. All methods block; call them via to_thread.

Before tenants, the tables were ``speakers`` / ``speaker_samples`` without a tenant column:
their rows are imported once into the default tenant (a marker row makes it happen once, on
one replica) and the old tables are left for the operator to drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    DateTime,
    Engine,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    inspect,
    literal,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from gateway.app.services.database import create_tables, open_engine
from gateway.core.errors import SpeakerMismatch, SpeakerNotFound, SpeakerStoreFull
from gateway.core.speakers import reference_of, score
from gateway.core.tenancy import DEFAULT_TENANT

__all__ = ["Enrolled", "SpeakerInfo", "SpeakerStore"]


class Base(DeclarativeBase):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class SpeakerRow(Base):
    __tablename__ = "tenant_speakers"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    speaker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SampleRow(Base):
    __tablename__ = "tenant_speaker_samples"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant", "speaker_id"], ["tenant_speakers.tenant", "tenant_speakers.speaker_id"], ondelete="CASCADE"
        ),
        Index("ix_tenant_speaker_samples_owner", "tenant", "speaker_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    speaker_id: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(32), default="upload")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class MigrationRow(Base):
    __tablename__ = "audiocore_migrations"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


_IMPORT_V1 = "speakers-v1-into-default-tenant"


@dataclass(frozen=True)
class SpeakerInfo:
    speaker_id: str
    samples: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Enrolled:
    samples: int  # the speaker's sample count after this enroll
    score: float | None  # the new sample against the reference before it (None: the first sample)
    replaced: bool


class SpeakerStore:
    def __init__(self, database: str | Engine, max_samples: int, max_speakers: int) -> None:
        """``database``: the deployment's engine (shared with the job store), or a URL for a store of its own."""
        self._owns_engine = isinstance(database, str)
        self.engine = open_engine(database) if isinstance(database, str) else database
        create_tables(Base.metadata, self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.max_samples = max_samples
        self.max_speakers = max_speakers
        self._import_v1()

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def enroll(
        self,
        tenant: str,
        speaker_id: str,
        embedding: np.ndarray,
        source: str = "upload",
        *,
        threshold: float | None = None,
        replace: bool = False,
    ) -> Enrolled:
        """Add one sample. With ``threshold``, a sample that scores below it against the speaker's
        current reference is refused (SpeakerMismatch) unless ``replace`` starts the speaker over."""
        blob = np.asarray(embedding, dtype="<f4").tobytes()
        for attempt in range(2):
            try:
                with self._session.begin() as session:
                    # Row lock (PostgreSQL) / IMMEDIATE transaction (SQLite): enrolls of one speaker
                    # run one after another, so the count, the limit and the check are exact.
                    if session.get(SpeakerRow, (tenant, speaker_id), with_for_update=True) is None:
                        if (session.scalar(select(func.count()).select_from(SpeakerRow)) or 0) >= self.max_speakers:
                            raise SpeakerStoreFull(f"the store holds the maximum of {self.max_speakers} speakers")
                        session.add(SpeakerRow(tenant=tenant, speaker_id=speaker_id))
                        session.flush()
                    if replace:
                        session.execute(delete(SampleRow).where(*_owner(tenant, speaker_id)))
                    blobs = session.scalars(select(SampleRow.embedding).where(*_owner(tenant, speaker_id))).all()
                    match = None
                    if blobs:
                        reference = reference_of([np.frombuffer(b, dtype="<f4") for b in blobs])
                        match = score(np.frombuffer(blob, dtype="<f4"), reference)
                        if threshold is not None and match < threshold:
                            raise SpeakerMismatch(speaker_id, match, threshold)
                    if len(blobs) >= self.max_samples:
                        raise SpeakerStoreFull(
                            f"speaker '{speaker_id}' already has {self.max_samples} samples; delete it to re-enroll"
                        )
                    session.add(SampleRow(tenant=tenant, speaker_id=speaker_id, embedding=blob, source=source))
                    return Enrolled(len(blobs) + 1, match, replace)
            except IntegrityError:
                if attempt:  # a concurrent enroll created the speaker first: retry once as an existing one
                    raise
        raise AssertionError("unreachable")

    def reference(self, tenant: str, speaker_id: str) -> np.ndarray:
        with self._session() as session:
            blobs = session.scalars(select(SampleRow.embedding).where(*_owner(tenant, speaker_id))).all()
        if not blobs:
            raise SpeakerNotFound(f"speaker '{speaker_id}' is not enrolled")
        return reference_of([np.frombuffer(b, dtype="<f4") for b in blobs])

    def list(self, tenant: str) -> list[SpeakerInfo]:
        with self._session() as session:
            rows = session.execute(
                select(
                    SpeakerRow.speaker_id,
                    SpeakerRow.created_at,
                    func.count(SampleRow.id),
                    func.max(SampleRow.created_at),
                )
                .join(
                    SampleRow,
                    (SampleRow.tenant == SpeakerRow.tenant) & (SampleRow.speaker_id == SpeakerRow.speaker_id),
                    isouter=True,
                )
                .where(SpeakerRow.tenant == tenant)
                .group_by(SpeakerRow.speaker_id, SpeakerRow.created_at)
                .order_by(SpeakerRow.speaker_id)
            ).all()
        return [SpeakerInfo(sid, n, created, updated or created) for sid, created, n, updated in rows]

    def delete(self, tenant: str, speaker_id: str) -> None:
        with self._session.begin() as session:
            row = session.get(SpeakerRow, (tenant, speaker_id))
            if row is None:
                raise SpeakerNotFound(f"speaker '{speaker_id}' is not enrolled")
            session.execute(delete(SampleRow).where(*_owner(tenant, speaker_id)))
            session.delete(row)

    def _import_v1(self) -> None:
        """Copy the rows of the tenant-less tables (if any) into the default tenant, once."""
        tables = inspect(self.engine).get_table_names()
        if "speakers" not in tables or "speaker_samples" not in tables:
            return
        old = MetaData()
        speakers = Table("speakers", old, autoload_with=self.engine)
        samples = Table("speaker_samples", old, autoload_with=self.engine)
        try:
            with self._session.begin() as session:
                session.add(MigrationRow(name=_IMPORT_V1))
                session.flush()  # a second replica (or a second start) fails here and skips
                tenant = literal(DEFAULT_TENANT)
                session.execute(
                    insert(SpeakerRow).from_select(
                        ["tenant", "speaker_id", "created_at"],
                        select(tenant, speakers.c.speaker_id, speakers.c.created_at),
                    )
                )
                session.execute(
                    insert(SampleRow).from_select(
                        ["tenant", "speaker_id", "embedding", "source", "created_at"],
                        select(
                            tenant, samples.c.speaker_id, samples.c.embedding, samples.c.source, samples.c.created_at
                        ),
                    )
                )
        except IntegrityError:
            return


def _owner(tenant: str, speaker_id: str) -> tuple[Any, Any]:
    return SampleRow.tenant == tenant, SampleRow.speaker_id == speaker_id
