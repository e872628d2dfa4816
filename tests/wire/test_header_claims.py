"""What a file's header claims about its length, against files cut, whole, and written to a pipe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.audio_files import encode
from wire.audio import DecodeLimits, decode_audio, read_audio_file
from wire.header_claims import HEAD_BYTES, TAIL_BYTES, HeaderClaim, header_claim

SR = 16000


def claim(data: bytes, size: int | None = None) -> HeaderClaim:
    return header_claim(data[:HEAD_BYTES], data[-TAIL_BYTES:], len(data) if size is None else size)


@pytest.fixture(scope="module")
def speech(jfk: Path) -> np.ndarray:
    return read_audio_file(jfk, SR).samples  # 11 s


@pytest.mark.parametrize("container", ["wav", "w64"])
def test_a_riff_data_chunk_past_the_end_is_a_cut_file(speech: np.ndarray, container: str) -> None:
    whole = encode(speech, container, "pcm_s16le")
    assert claim(whole) == HeaderClaim(seconds=pytest.approx(11.0), cut=False, present=pytest.approx(11.0))
    # FFmpeg would report 6.6 s for this: the header still says 11
    cut = claim(whole[: len(whole) * 6 // 10])
    assert cut == HeaderClaim(seconds=pytest.approx(11.0), cut=True, present=pytest.approx(6.6, abs=0.01))


@pytest.mark.parametrize("placeholder", [0xFFFFFFFF, 0x7FFFF000, 0x7FFFFFFF, 0])  # FFmpeg's, SoX's, others'
def test_a_wav_written_to_a_pipe_claims_nothing(speech: np.ndarray, placeholder: int) -> None:
    data = bytearray(encode(speech, "wav", "pcm_s16le"))
    at = data.index(b"data")
    data[at + 4 : at + 8] = placeholder.to_bytes(4, "little")  # what a writer that cannot seek back leaves
    assert claim(bytes(data)) == HeaderClaim()
    decoded = decode_audio(bytes(data), DecodeLimits(max_seconds=600), SR)  # served whole, as FFmpeg reads it
    assert decoded.seconds == pytest.approx(11.0) and decoded.warnings == ()


OGG_CODECS = ["libopus", "vorbis", "flac"]


@pytest.mark.parametrize("codec", OGG_CODECS)
def test_an_ogg_file_is_whole_only_when_its_last_page_ends_the_stream(speech: np.ndarray, codec: str) -> None:
    whole = encode(speech, "ogg", codec)
    assert claim(whole) == HeaderClaim(seconds=pytest.approx(11.0, abs=0.01))  # the last granule (less pre-skip)
    assert claim(whole[:-100]).cut  # the last page is cut
    pages = whole.rfind(b"OggS")
    assert claim(whole[:pages]).cut  # whole pages, but none ends the stream
    unflagged = bytearray(whole)
    unflagged[pages + 5] &= ~0x04
    assert claim(bytes(unflagged)).cut


@pytest.mark.parametrize("codec", OGG_CODECS)
def test_an_ogg_page_damaged_near_the_end_no_longer_hides_the_loss(speech: np.ndarray, codec: str) -> None:
    """FFmpeg takes an Ogg file's length from the last page it can read. With more bytes lost inside
    the second-to-last page than the last page holds, reading that page's stated size swallows the
    last one, and the file passed as a whole, 10 s one (found by fuzzing; a 200 without a warning)."""
    whole = encode(speech, "ogg", codec)
    pages = [i for i in range(len(whole)) if whole.startswith(b"OggS", i)]
    at = pages[-2] + 100
    damaged = whole[:at] + whole[at + len(whole) - pages[-1] + 200 :]
    assert claim(damaged).seconds == pytest.approx(11.0, abs=0.01)
    decoded = decode_audio(damaged, DecodeLimits(max_seconds=600), SR)
    assert decoded.seconds < 10.5 and any("missing or damaged" in w for w in decoded.warnings), decoded


def test_an_ogg_length_is_only_read_from_the_audio_streams_own_last_page(speech: np.ndarray) -> None:
    whole = bytearray(encode(speech, "ogg", "libopus"))
    last = whole.rfind(b"OggS")
    whole[last + 14 : last + 18] = (0x5EED).to_bytes(4, "little")  # another logical stream's serial number
    assert claim(bytes(whole)) == HeaderClaim()
    no_position = bytearray(encode(speech, "ogg", "libopus"))
    last = no_position.rfind(b"OggS")
    no_position[last + 6 : last + 14] = b"\xff" * 8  # granule -1: no packet ends on the page
    assert claim(bytes(no_position)) == HeaderClaim()


@pytest.mark.parametrize("codec", OGG_CODECS)
def test_an_ogg_stream_that_starts_late_claims_nothing(speech: np.ndarray, codec: str) -> None:
    """Its first audio page follows the headers and is an hour in: not a loss, a late start."""
    assert claim(encode(speech, "ogg", codec, start=3600.0)) == HeaderClaim()
    # the same first positions after a gap in the page numbers: pages were lost, the claim is from 0
    whole = encode(speech, "ogg", codec)
    pages = [i for i in range(len(whole)) if whole.startswith(b"OggS", i)]
    lost = whole[: pages[2]] + whole[pages[-3] :]
    assert claim(lost) == HeaderClaim(seconds=pytest.approx(11.0, abs=0.01))


def test_an_mp3_counts_its_frames_only_with_a_xing_frame(speech: np.ndarray) -> None:
    lame = encode(speech, "mp3", "libmp3lame")
    assert claim(lame).counted
    tagged = (
        b"ID3\x04\x00\x00\x00\x00\x01\x00" + bytes(128) + lame
    )  # one more ID3v2 tag, of 128 bytes (sync-safe 0x100)
    assert claim(tagged).counted
    assert not claim(encode(speech, "mp3", "libmp3lame", options={"write_xing": "0"})).counted
    zero = bytearray(lame)
    count = zero.index(b"Info") + 8
    zero[count : count + 4] = bytes(4)  # a frame count of 0: LAME on a pipe; FFmpeg guesses the length
    assert not claim(bytes(zero)).counted


def test_an_mp4_box_past_the_end_is_a_cut_file(speech: np.ndarray) -> None:
    whole = encode(speech, "mp4", "aac")  # ftyp, mdat, then the moov index last, as a recorder writes it
    assert claim(whole) == HeaderClaim()
    assert claim(whole[: len(whole) // 2]).cut  # the mdat box runs past the end
    assert claim(whole[:-10]).cut  # only the index's last bytes are gone: its header is in the tail
