"""Speaker verification and enrollment through the API, against the model in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from gateway.core.speakers import reference_of
from handlers.speaker_embedding.embedding import SpeakerConfig, SpeakerEncoder
from scripts.stack import Gateway, TorchServe, gateway
from tests.handlers.context import built_model_dir
from wire.audio import read_audio_file
from wire.pcm import to_pcm16, to_wav

TIMEOUT = httpx.Timeout(300.0)
LIBRI = "resemble-ai__Resemblyzer/librispeech_test-other"
THRESHOLD = 0.72


def _utterances(data_dir: Path) -> dict[str, list[Path]]:
    root = data_dir / LIBRI
    return {d.name: sorted(d.glob("*.flac")) for d in sorted(root.iterdir()) if d.is_dir()}


def _post(client: httpx.Client, path: str, files: dict, **params: str) -> httpx.Response:  # type: ignore[type-arg]
    return client.post(path, params=params, files=files, timeout=TIMEOUT)


def test_trials_match_the_model_in_process(gw: Gateway, data_dir: Path) -> None:
    """Enroll one utterance per speaker, verify 4 others of each against all 6 speakers."""
    speakers = _utterances(data_dir)
    assert len(speakers) == 6
    encoder = SpeakerEncoder(SpeakerConfig(), base_dir=str(built_model_dir("speaker-embedding")))
    embed = lambda p: np.array(encoder.embed(read_audio_file(p, 16000).samples)["embedding"])  # noqa: E731
    references = {}
    with httpx.Client(base_url=gw.url) as client:
        for spk, files in speakers.items():
            r = _post(
                client, "/speaker/enroll", {"file": (files[0].name, files[0].read_bytes())}, speaker_id=f"trial-{spk}"
            )
            assert r.status_code == 200 and r.json()["samples"] == 1, r.text
            references[spk] = reference_of([embed(files[0])])
        api, local, same = [], [], []
        for spk, files in speakers.items():
            for probe in files[1:5]:
                probe_vec = embed(probe)
                for enrolled in speakers:
                    r = _post(
                        client,
                        "/speaker/verify",
                        {"probe": (probe.name, probe.read_bytes())},
                        speaker_id=f"trial-{enrolled}",
                    )
                    body = r.json()
                    assert (
                        r.status_code == 200
                        and body["threshold"] == THRESHOLD
                        and body["speaker_id"] == f"trial-{enrolled}"
                    )
                    assert body["decision"] == (body["score"] >= THRESHOLD)
                    api.append(body["score"])
                    local.append(float(probe_vec @ references[enrolled]))
                    same.append(spk == enrolled)
    api_a, local_a, same_a = np.array(api), np.array(local), np.array(same)
    assert np.max(np.abs(api_a - local_a)) < 2e-3  # the service computes what the model computes
    correct = np.mean((api_a >= THRESHOLD) == same_a)
    print(f"{len(api)} trials ({same_a.sum()} same-speaker): {correct:.1%} correct at {THRESHOLD}")
    assert correct >= 0.97


def test_verify_with_a_reference_file(gw: Gateway, data_dir: Path) -> None:
    speakers = _utterances(data_dir)
    a, b = speakers["1688"][:2]
    c = speakers["2033"][0]
    with httpx.Client(base_url=gw.url) as client:
        same = _post(
            client, "/speaker/verify", {"probe": (a.name, a.read_bytes()), "reference": (b.name, b.read_bytes())}
        ).json()
        diff = _post(
            client, "/speaker/verify", {"probe": (a.name, a.read_bytes()), "reference": (c.name, c.read_bytes())}
        ).json()
    assert same["decision"] is True and diff["decision"] is False and same["score"] > diff["score"]
    assert same["speaker_id"] is None


def test_enroll_list_delete_and_bad_input(gw: Gateway, data_dir: Path) -> None:
    files = _utterances(data_dir)["3005"]
    with httpx.Client(base_url=gw.url) as client:
        for i, f in enumerate(files[:2], start=1):
            r = client.post(
                "/speaker/enroll",
                data={"speaker_id": "alice"},
                files={"file": (f.name, f.read_bytes())},
                timeout=TIMEOUT,
            )
            assert r.json() == {"status": "ok", "speaker_id": "alice", "samples": i}
        listing = {s["speaker_id"]: s for s in client.get("/speaker/speakers").json()["speakers"]}
        assert listing["alice"]["samples"] == 2
        probe = {"probe": (files[3].name, files[3].read_bytes())}
        assert _post(client, "/speaker/verify", probe, speaker_id="alice").json()["decision"] is True

        wav = to_wav(np.zeros(32000, np.float32), 16000)
        cases = [
            (_post(client, "/speaker/verify", {}), 422),  # missing probe
            (_post(client, "/speaker/verify", {"probe": ("e.wav", b"")}), 400),
            (_post(client, "/speaker/verify", {"probe": ("x.wav", b"garbage")}), 400),
            (_post(client, "/speaker/verify", {"probe": ("s.wav", wav)}, speaker_id="alice"), 400),  # no speech
            (_post(client, "/speaker/verify", probe, speaker_id="nobody"), 404),
            (_post(client, "/speaker/verify", probe, speaker_id="../etc"), 400),
            (_post(client, "/speaker/enroll", {"file": ("s.wav", wav)}, speaker_id="alice"), 400),
            (_post(client, "/speaker/enroll", {"file": ("x.wav", b"garbage")}, speaker_id="bob"), 400),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            assert response.json()["detail"]
        after = {s["speaker_id"]: s["samples"] for s in client.get("/speaker/speakers").json()["speakers"]}
        assert after["alice"] == 2 and "bob" not in after  # failures changed nothing

        assert client.delete("/speaker/speakers/alice").status_code == 200
        assert _post(client, "/speaker/verify", probe, speaker_id="alice").status_code == 404
        assert client.delete("/speaker/speakers/alice").status_code == 404


def test_concurrent_enrolls_lose_no_sample(gw: Gateway, data_dir: Path) -> None:
    files = _utterances(data_dir)["2414"][:5]

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=gw.url, timeout=TIMEOUT) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/speaker/enroll", data={"speaker_id": "crowd"}, files={"file": (f.name, f.read_bytes())}
                    )
                    for f in files
                )
            )

    responses = asyncio.run(run())
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sorted(r.json()["samples"] for r in responses) == [1, 2, 3, 4, 5]
    listing = {s["speaker_id"]: s["samples"] for s in httpx.get(f"{gw.url}/speaker/speakers").json()["speakers"]}
    assert listing["crowd"] == 5


def test_microphone_training_is_off_by_default(gw: Gateway) -> None:
    r = httpx.post(f"{gw.url}/speaker/train/microphone", timeout=TIMEOUT)
    assert r.status_code == 403 and "MIC_TRAINING_ENABLED" in r.json()["detail"]


@pytest.fixture(scope="module")
def mic_gateway(ts_server: TorchServe, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway whose default ALSA capture device plays a LibriSpeech recording (no mock: real PortAudio)."""
    home = tmp_path_factory.mktemp("mic-home")
    recording = home / "capture.raw"
    recording.write_bytes(to_pcm16(read_audio_file(_utterances(data_dir)["1688"][0], 16000).samples))
    (home / ".asoundrc").write_text(
        'pcm.!default {\n  type file\n  slave.pcm "null"\n  file "/dev/null"\n'
        f'  infile "{recording}"\n  format "raw"\n}}\n'
    )
    env = {"HOME": str(home), "MIC_TRAINING_ENABLED": "true"}
    with gateway(ts_server, tmp_path_factory.mktemp("mic-gateway"), env=env) as server:
        yield server


def test_microphone_training_enrolls_the_recorded_voice(mic_gateway: Gateway, data_dir: Path) -> None:
    speakers = _utterances(data_dir)
    with httpx.Client(base_url=mic_gateway.url, timeout=TIMEOUT) as client:
        r = client.post("/speaker/train/microphone", params={"seconds": 5, "speaker_id": "mic-user"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ok" and "mic-user" in r.json()["message"]
        assert client.post("/speaker/train/microphone", params={"seconds": 999}).status_code in (400, 422)
        same, other = speakers["1688"][4], speakers["2609"][0]
        hit = _post(client, "/speaker/verify", {"probe": (same.name, same.read_bytes())}, speaker_id="mic-user").json()
        miss = _post(
            client, "/speaker/verify", {"probe": (other.name, other.read_bytes())}, speaker_id="mic-user"
        ).json()
    assert hit["decision"] is True and miss["decision"] is False
