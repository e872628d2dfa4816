"""``X-AudioCore-Warnings``: what decoding (or the model) had to work around, on every route that takes audio.

A 200 for a file whose damaged packets were skipped, or whose audio is partly missing, must say so. The transcript
bodies carry it in ``raw.warnings``; enhance, diarize, the speaker routes and OpenAI's formats have no place
for it in their bodies, so every one of them sends the list in this header, as JSON (ASCII, one line).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.responses import Response

__all__ = ["WARNINGS_HEADER", "report_warnings"]

WARNINGS_HEADER = "X-AudioCore-Warnings"


def report_warnings(response: Response, warnings: Sequence[str]) -> None:
    """Set the header on ``response`` when there is anything to say."""
    if warnings:
        response.headers[WARNINGS_HEADER] = json.dumps(list(warnings))
