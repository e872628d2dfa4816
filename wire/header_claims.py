"""What a file's own header says about its length, read from its bytes.

FFmpeg fits a file's duration to the bytes that are there: a WAV cut in half reports half its
length, and an Ogg file reports the time of its last page, so a truncated upload looks like a
shorter, whole recording. The decoder (``wire/audio.py``) asks this module instead:
- RIFF/WAVE and Wave64: the ``data`` chunk's size in bytes, over the ``fmt`` chunk's byte rate;
  a data chunk that runs past the end of the upload is a cut file. A size of 0, or of nearly 2 GiB
  and more, is what a writer that could not seek back leaves (FFmpeg on a pipe writes 0xFFFFFFFF,
  SoX 0x7FFFF000): no claim.
- MP3: FFmpeg takes the length from a Xing/Info (LAME) or VBRI frame count when the first frame
  has one, and otherwise guesses it from the bitrate; only the first is a claim to hold it to.
- MP4/M4A/MOV: a top-level box that runs past the end of the upload is a cut file (when that box
  is the ``mdat`` before a ``moov`` index, FFmpeg cannot open the file at all).
- Ogg: no length in the header, but a whole file ends with a complete page flagged end-of-stream;
  a last page that is cut, or lacks the flag, means the recording broke off. For Opus, Vorbis and
  FLAC, that page's granule position (less Opus's pre-skip) is the length in samples at the rate
  the first page names. FFmpeg measures from the first audio page it can read and to the last: a page
  damaged near the end made a file look whole and shorter, and a Vorbis file missing 8 of its 11
  seconds of pages was served as 2.8 s of audio, without a word. A stream whose first audio page
  follows the headers directly and holds a later position than one page can carry starts late (a
  cut from a live stream): its length is FFmpeg's, and there is no claim.
Only bounded slices of the file are read (``HEAD_BYTES`` and ``TAIL_BYTES``). (CAF's frame count,
which FFmpeg does keep as the header states it, is read in ``wire/audio.py``.)
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["HEAD_BYTES", "TAIL_BYTES", "HeaderClaim", "header_claim"]

HEAD_BYTES = 64 * 1024  # where the fmt and data chunks must start; more is not a header
TAIL_BYTES = 64 * 1024  # holds a whole last page: an Ogg page is at most 65 307 bytes
_PLACEHOLDER_SIZE = 0x7F000000  # data sizes from here (2 GiB - 16 MiB) up are placeholders, not claims
_W64_RIFF = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_W64_WAVE = b"wave\xf3\xac\xd3\x11\x8c\xd1\x00\xc0\x4f\x8e\xdb\x8a"
_OGG_PAGE = b"OggS"
_OGG_BEGINNING_OF_STREAM = 0x02
_OGG_END_OF_STREAM = 0x04


@dataclass(frozen=True)
class HeaderClaim:
    seconds: float = 0.0  # the length the header states; 0: it states none this module reads
    cut: bool = False  # the upload ends before what the header says it holds
    present: float = 0.0  # of ``seconds``, what the upload's bytes hold (a WAV's data that is there)
    counted: bool = False  # an MP3 whose first frame counts its frames: FFmpeg's duration is exact


def header_claim(head: bytes, tail: bytes, size: int) -> HeaderClaim:
    """The claim of a file of ``size`` bytes whose first and last bytes are ``head`` and ``tail``."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _chunks(head, size, start=12, id_len=4, size_len=4, size_counts_header=False, align=2)
    if head[:16] == _W64_RIFF and head[24:40] == _W64_WAVE:
        return _chunks(head, size, start=40, id_len=16, size_len=8, size_counts_header=True, align=8)
    if _mp3_counts_frames(head):
        return HeaderClaim(counted=True)
    if head[4:8] == b"ftyp":
        return HeaderClaim(cut=_mp4_box_past_end(head, tail, size))
    if head[:4] == _OGG_PAGE:
        return _ogg_claim(head, tail)
    return HeaderClaim()


def _chunks(
    head: bytes, size: int, *, start: int, id_len: int, size_len: int, size_counts_header: bool, align: int
) -> HeaderClaim:
    """Walk RIFF-style chunks (4-byte ids and 32-bit sizes, or Wave64's GUIDs and 64-bit sizes)."""
    byte_rate = 0
    at = start
    header = id_len + size_len
    while at + header <= len(head):
        tag = head[at : at + 4]
        (length,) = struct.unpack_from("<I" if size_len == 4 else "<Q", head, at + id_len)
        body = length - header if size_counts_header else length
        if tag == b"fmt " and at + header + 12 <= len(head):
            (byte_rate,) = struct.unpack_from("<I", head, at + header + 8)
        elif tag == b"data":
            if byte_rate <= 0 or not 0 < body < _PLACEHOLDER_SIZE:
                return HeaderClaim()
            there = max(0, min(body, size - at - header))
            return HeaderClaim(seconds=body / byte_rate, cut=there < body, present=there / byte_rate)
        if body < 0:
            return HeaderClaim()
        at += header + body + (-(header + body) % align)
    return HeaderClaim()


@dataclass(frozen=True)
class _OggPage:
    flags: int
    granule: int  # -1: no packet ends on this page
    serial: int
    sequence: int  # the page's number in its stream: a gap is a lost page
    payload: bytes
    end: int  # where the page ends in the bytes it was read from


@dataclass(frozen=True)
class _OggAudio:
    serial: int
    rate: int  # granule positions count samples at this rate
    pre_skip: int  # samples at the start that are not audio (Opus's encoder delay)
    page_samples: int  # the most one page can carry: 255 packets of the codec's longest


def _ogg_page(data: bytes, at: int) -> _OggPage | None:
    """The page that starts at ``at`` if it lies whole within ``data``."""
    if data[at : at + 4] != _OGG_PAGE or at + 27 > len(data) or data[at + 4] != 0:  # stream structure version 0
        return None
    count = data[at + 26]
    table = data[at + 27 : at + 27 + count]
    end = at + 27 + count + sum(table)
    if len(table) != count or end > len(data):
        return None
    granule, serial, sequence = struct.unpack_from("<qII", data, at + 6)
    return _OggPage(data[at + 5], granule, serial, sequence, data[at + 27 + count : end], end)


def _ogg_claim(head: bytes, tail: bytes) -> HeaderClaim:
    last = _ogg_last_page(tail)
    if last is None or not last.flags & _OGG_END_OF_STREAM:
        return HeaderClaim(cut=True)
    audio = _ogg_audio(head)
    if audio is None or audio.serial != last.serial or last.granule <= 0 or _ogg_starts_late(head, audio):
        return HeaderClaim()  # another stream's page, another codec, no position, a late start: no length to hold
    return HeaderClaim(seconds=max(last.granule - audio.pre_skip, 0) / audio.rate)


def _ogg_last_page(tail: bytes) -> _OggPage | None:
    """The complete page that ends ``tail``, if any.

    Candidates are tried from the last "OggS" back, since the pattern may also occur inside packet data."""
    at = tail.rfind(_OGG_PAGE)
    while at >= 0:
        page = _ogg_page(tail, at)
        if page is not None and page.end == len(tail):
            return page
        at = tail.rfind(_OGG_PAGE, 0, at)
    return None


def _ogg_pages(head: bytes) -> Iterator[_OggPage]:
    """The whole pages ``head`` holds one after another from its start, up to the first that is not one."""
    at = 0
    while (page := _ogg_page(head, at)) is not None:
        yield page
        at = page.end


def _ogg_audio(head: bytes) -> _OggAudio | None:
    """The first Opus, Vorbis or FLAC stream among the opening pages (each opens with its codec's header)."""
    for page in _ogg_pages(head):
        if not page.flags & _OGG_BEGINNING_OF_STREAM:
            break
        data = page.payload
        if data[:8] == b"OpusHead" and len(data) >= 12:  # positions at 48 kHz; packets of up to 120 ms
            return _OggAudio(page.serial, 48000, struct.unpack_from("<H", data, 10)[0], 255 * 5760)
        if data[:7] == b"\x01vorbis" and len(data) >= 29:  # identification header; blocks of up to 8192
            (rate,) = struct.unpack_from("<I", data, 12)
            return _OggAudio(page.serial, rate, 0, 255 * 4096) if rate else None
        if data[:5] == b"\x7fFLAC" and data[9:13] == b"fLaC" and len(data) >= 17 + 18:  # mapping, STREAMINFO
            info = data[17:]
            rate = (info[10] << 12) | (info[11] << 4) | (info[12] >> 4)
            return _OggAudio(page.serial, rate, 0, 255 * struct.unpack_from(">H", info, 2)[0]) if rate else None
    return None


def _ogg_starts_late(head: bytes, audio: _OggAudio) -> bool:
    """Whether the stream's first audio page follows its headers directly and holds a later position
    than one page can carry: the recording starts late, where FFmpeg's length (from the first
    position) is the right one. After a gap in the page numbers, pages are lost and it starts at 0."""
    sequence = -1
    for page in _ogg_pages(head):
        if page.serial == audio.serial:
            if page.granule > 0:
                return page.sequence == sequence + 1 and page.granule - audio.pre_skip > audio.page_samples
            sequence = page.sequence
    return False  # its first audio page lies beyond the head: taken to start at 0, as almost all do


def _mp3_counts_frames(head: bytes) -> bool:
    """Whether the first MPEG audio frame (after an ID3v2 tag) is a Xing/Info or VBRI frame count."""
    at = 0
    while head[at : at + 3] == b"ID3" and at + 10 <= len(head):  # a 10-byte header, a size, maybe a footer
        tag_size = sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[at + 6 : at + 10]))  # 7 bits a byte
        at += 10 + tag_size + (10 if head[at + 5] & 0x10 else 0)
    if at + 4 > len(head) or head[at] != 0xFF or head[at + 1] & 0xE0 != 0xE0 or (head[at + 1] >> 1) & 3 != 1:
        return False  # no frame sync, or not Layer III
    mpeg1 = (head[at + 1] >> 3) & 3 == 3
    mono = head[at + 3] >> 6 == 3
    side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    # A count of 0 is LAME's placeholder on a pipe: FFmpeg then guesses from the bitrate after all.
    tag = head[at + 4 + side_info : at + 4 + side_info + 12]
    if len(tag) == 12 and tag[:4] in (b"Xing", b"Info"):
        return bool(int.from_bytes(tag[4:8], "big") & 1) and int.from_bytes(tag[8:], "big") > 0  # flag 1: count
    vbri = head[at + 36 : at + 54]
    return len(vbri) == 18 and vbri[:4] == b"VBRI" and int.from_bytes(vbri[14:], "big") > 0


def _mp4_box_past_end(head: bytes, tail: bytes, size: int) -> bool:
    """Whether an ISO-BMFF top-level box (32-bit size, or 1 and a 64-bit size; 0: to the end) runs past ``size``.

    The boxes are walked by their sizes, reading only their headers, where ``head`` or ``tail`` holds them
    (an index written last, after the audio, starts in the tail)."""
    at = 0
    while at + 8 <= size:
        box = _slice(head, tail, size, at, 16)
        if len(box) < 8:
            return False  # a header in the middle of a big file: not read, no claim
        (length,) = struct.unpack_from(">I", box)
        if length == 1 and len(box) == 16:
            (length,) = struct.unpack_from(">Q", box, 8)
        if length < 8:
            return False  # 0: the last box runs to the end; less than 8: not a box, FFmpeg says what it is
        if at + length > size:
            return True
        at += length
    return False


def _slice(head: bytes, tail: bytes, size: int, at: int, n: int) -> bytes:
    """Up to ``n`` bytes of the file from ``at``, where ``head`` (its start) or ``tail`` (its end) holds them."""
    if at < len(head):
        return head[at : at + n]
    tail_start = size - len(tail)
    return tail[at - tail_start : at - tail_start + n] if at >= tail_start else b""
