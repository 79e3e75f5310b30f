"""docs/chatbot-tools.md shows a session a real run produces.

The transcript between the markers is regenerated (throwaway database, proxy, the MCP
server over stdio) and compared line by line; only the verification codes, random at
each run, are masked on both sides.
"""

from __future__ import annotations

import re
from pathlib import Path

from tools import chatbot_transcript

DOC = Path(__file__).resolve().parents[2] / "docs" / "chatbot-tools.md"
START = "<!-- transcript: python -m tools.chatbot_transcript -->\n"
END = "<!-- end of transcript -->"
CODE = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")


def masked(text: str) -> list[str]:
    """The lines with every six-digit code replaced."""
    return CODE.sub("NNNNNN", text).strip().splitlines()


def test_the_documented_transcript_is_what_a_run_produces() -> None:
    """Same calls, same answers, in the same order."""
    doc = DOC.read_text()
    assert START in doc and END in doc
    documented = doc.split(START, 1)[1].split(END, 1)[0]
    assert masked(chatbot_transcript.record()) == masked(documented)
