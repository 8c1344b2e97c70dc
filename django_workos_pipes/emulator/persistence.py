"""Connections saved to a JSON file (``--state FILE``), so a restart keeps them.

Written to a temporary file and renamed into place, so a crash or a Ctrl-C halfway
through never leaves a truncated file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .state import Connection

VERSION = 1


class StateFileError(ValueError):
    """The state file exists but cannot be read back."""


def load(path: Path) -> list[Connection]:
    """The connections saved in ``path``; none when the file does not exist yet."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StateFileError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(raw) if raw.strip() else {"connections": []}
        return [Connection.from_json(item) for item in data["connections"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateFileError(f"{path} is not an emulator state file ({exc})") from exc


def save(path: Path, connections: Iterable[Connection]) -> None:
    data = {"version": VERSION, "connections": [c.to_json() for c in connections]}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
