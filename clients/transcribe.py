"""Transcribe a file as a job, with a progress bar, and write the result.

    python -m clients.transcribe lecture.mp3                       # -> lecture.txt, Russian by default
    python -m clients.transcribe lecture.mp3 -o lecture.srt --language en
    python -m clients.transcribe call.wav -o call.json --diarize --url http://host:8000 --key KEY

The output's extension picks the format: .srt, .vtt, .txt, .json (as /audio/transcribe answers).
The job runs on the server; if this client is interrupted, ``GET /jobs/<id>`` still has it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import httpx

__all__ = ["FORMATS", "run_job"]

FORMATS = {".srt": "srt", ".vtt": "vtt", ".txt": "text", ".json": "json"}
_BAR = 30


def progress_line(view: dict[str, Any]) -> str:
    progress = view["progress"]
    filled = round(progress["fraction"] * _BAR)
    return (
        f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {progress['fraction'] * 100:5.1f}%  "
        f"{progress['done_sec']:.0f}/{progress['total_sec']:.0f} s  {view['status']:<9}"
    )


def run_job(
    client: httpx.Client,
    audio: Path,
    params: dict[str, str],
    fmt: str,
    poll_sec: float = 1.0,
    out: TextIO = sys.stderr,
) -> bytes:
    """Submit ``audio`` as a job, show its progress on ``out`` until it ends, and return the result in ``fmt``."""
    with audio.open("rb") as fh:
        r = client.post("/jobs/transcribe", params=params, files={"file": (audio.name, fh)})
    if r.status_code != 202:
        raise SystemExit(f"submit failed: {r.status_code} {r.text}")
    location = r.headers["location"]
    view = r.json()
    out.write(f"job {view['job_id']}\n")
    while view["status"] in ("queued", "running"):
        out.write(progress_line(view))
        out.flush()
        time.sleep(poll_sec)
        view = client.get(location, params={"segments_from": 1 << 30}).json()  # progress only
    out.write(progress_line(view) + "\n")
    if view["status"] != "succeeded":
        raise SystemExit(f"job {view['status']}: {view.get('error')}")
    result = client.get(f"{location}/result", params={"format": fmt})
    result.raise_for_status()
    return result.content


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("-o", "--output", type=Path, help="where to write (default: FILE with .txt)")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", help="API key (Authorization: Bearer)")
    parser.add_argument("--language", help="language code or 'auto' (default: the server's DEFAULT_LANGUAGE)")
    parser.add_argument("--diarize", action="store_true", help="label segments with speakers")
    parser.add_argument("--word-timestamps", action="store_true")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between progress checks")
    args = parser.parse_args(argv)
    output = args.output or args.file.with_suffix(".txt")
    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        parser.error(f"unknown output type {output.suffix!r}: use one of {', '.join(FORMATS)}")
    params = {"language": args.language, "diarize": "true" if args.diarize else None}
    if args.word_timestamps:
        params["word_timestamps"] = "true"
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    with httpx.Client(base_url=args.url, headers=headers, timeout=httpx.Timeout(600.0)) as client:
        body = run_job(client, args.file, {k: v for k, v in params.items() if v}, fmt, args.poll)
    output.write_bytes(body)
    print(f"wrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
