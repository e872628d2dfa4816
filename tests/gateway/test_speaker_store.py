"""The speaker store: voices are per tenant, and a store from before tenants keeps its speakers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from gateway.app.services.speaker_store import SpeakerStore
from gateway.core.errors import SpeakerMismatch, SpeakerNotFound


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(256).astype(np.float32)
    return v / np.linalg.norm(v)


def test_a_store_from_before_tenants_is_imported_once_into_the_default_tenant(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as old:  # the tables as they were before tenants
        old.execute("CREATE TABLE speakers (speaker_id VARCHAR(64) PRIMARY KEY, created_at DATETIME)")
        old.execute(
            "CREATE TABLE speaker_samples (id INTEGER PRIMARY KEY, speaker_id VARCHAR(64), embedding BLOB,"
            " source VARCHAR(32), created_at DATETIME)"
        )
        old.execute("INSERT INTO speakers VALUES ('alice', '2026-11-01 10:00:00')")
        for i in range(2):
            old.execute(
                "INSERT INTO speaker_samples (speaker_id, embedding, source, created_at) VALUES (?, ?, 'upload', ?)",
                ("alice", _unit(i).astype("<f4").tobytes(), "2026-11-01 10:00:00"),
            )
    for _ in range(2):  # a second start (or replica) imports nothing twice
        store = SpeakerStore(f"sqlite:///{db}", max_samples=50, max_speakers=100)
        [alice] = store.list("default")
        assert (alice.speaker_id, alice.samples) == ("alice", 2)
        assert store.list("acme") == []
        store.close()


def test_tenants_do_not_see_each_others_voices(tmp_path: Path) -> None:
    store = SpeakerStore(f"sqlite:///{tmp_path / 's.db'}", max_samples=50, max_speakers=100)
    store.enroll("acme", "boss", _unit(1))
    with pytest.raises(SpeakerNotFound):
        store.reference("globex", "boss")
    with pytest.raises(SpeakerNotFound):
        store.delete("globex", "boss")
    assert store.enroll("globex", "boss", _unit(2)).samples == 1  # its own, separate speaker
    assert [s.samples for s in store.list("acme")] == [1]
    with pytest.raises(SpeakerMismatch):  # random vectors are nearly orthogonal: another voice
        store.enroll("acme", "boss", _unit(3), threshold=0.72)
    assert store.enroll("acme", "boss", _unit(3), threshold=0.72, replace=True).samples == 1
    store.close()
