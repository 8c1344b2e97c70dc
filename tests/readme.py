"""The README's sections and code blocks, for the tests that hold the README to the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
FILE_LINE = re.compile(r"# (\w+\.py)\b")


def section(title: str) -> str:
    """The README's ``## title`` section, up to the next one."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.M | re.S)


def snippets() -> list[tuple[str, str]]:
    """(file name, code) of each Python block of the Quick start, in order."""
    found = []
    for block in code_blocks(section("Quick start"), "python"):
        first_line = block.splitlines()[0]
        match = FILE_LINE.fullmatch(first_line) or FILE_LINE.match(first_line)
        assert match, f"a Quick start snippet does not name its file:\n{block}"
        found.append((match.group(1), block))
    return found
