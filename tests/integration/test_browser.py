"""The /demo page in headless Chromium: a fake microphone plays a recording, the page shows the words."""

from __future__ import annotations

import shutil
from pathlib import Path

from eval.textnorm import wer
from scripts.stack import Gateway
from tests.conftest import manifest
from wire.audio import read_audio_file
from wire.pcm import to_wav

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# `make test` installs Debian's chromium first (scripts/prereqs.sh); a missing browser is a failure, never a skip.
def test_page_streams_the_microphone_and_shows_the_words(gw: Gateway, jfk: Path, tmp_path: Path) -> None:
    assert CHROMIUM, "Debian chromium is missing: make test installs it (scripts/prereqs.sh)"
    from playwright.sync_api import sync_playwright

    capture = tmp_path / "mic.wav"
    capture.write_bytes(to_wav(read_audio_file(jfk, 16000).samples, 16000))
    args = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={capture}%noloop",
        "--autoplay-policy=no-user-gesture-required",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            page = browser.new_page()
            page.goto(f"{gw.url}/demo/?language=en&autostart=1&seconds=13")
            page.wait_for_function("document.getElementById('committed').textContent.length > 0", timeout=60_000)
            seen_while_talking = page.text_content("#committed")
            page.wait_for_function("document.title === 'final'", timeout=120_000)
            final = page.text_content("#final") or ""
            page.screenshot(path=str(tmp_path / "demo.png"))
        finally:
            browser.close()
    assert seen_while_talking  # partials showed up before the end
    [clip] = [c for c in manifest() if c.path == jfk]
    # the words of the recording, give or take one (greedy stream decodes may hear "asked not")
    assert wer([clip.transcript], [final]) <= 0.1, final


def test_the_file_panel_shows_progress_and_segments_and_offers_subtitles(gw: Gateway, data_dir: Path) -> None:
    """A 60 s file dropped on /demo: the progress bar fills, segments appear, the .srt link serves subtitles."""
    assert CHROMIUM, "Debian chromium is missing: make test installs it (scripts/prereqs.sh)"
    from playwright.sync_api import sync_playwright

    talk = data_dir / "snakers4__silero-vad" / "en.wav"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(f"{gw.url}/demo/?language=en")
            page.set_input_files("#file", str(talk))
            page.wait_for_function("document.title === 'job done'", timeout=240_000)
            segments = page.locator("#segments li").all_text_contents()
            progress = page.eval_on_selector("#job-progress", "el => el.value")
            srt_url = page.get_attribute("#dl-srt", "href") or ""
            srt = page.evaluate("url => fetch(url).then(r => r.text())", srt_url)
        finally:
            browser.close()
    assert progress == 1 and len(segments) >= 3
    assert segments[0].startswith("00:00:00") and "dublin" in " ".join(segments).lower()
    assert srt_url.endswith("/result?format=srt") and srt.startswith("1\n00:00:00,000 --> ")
