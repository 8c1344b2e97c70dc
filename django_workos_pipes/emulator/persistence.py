"""What the emulator keeps in a JSON file (``--state FILE``), so a restart keeps it:
connections, and the users and organizations a site links its own to.

Each part is saved by its owner (:class:`~.accounts.Accounts`, :class:`~.directory.Directory`)
through one :class:`StateFile`, which remembers the latest of every part and writes the
whole file: to a temporary file renamed into place, so a crash or a Ctrl-C halfway
through never leaves a truncated file behind.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .state import Connection

logger = logging.getLogger("django_workos_pipes.emulator")

VERSION = 1
PARTS = ("connections", "users", "organizations")


class StateFileError(ValueError):
    """The state file exists but cannot be read back."""


class StateFile:
    """One state file, read once on start and rewritten whenever a part changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._parts: dict[str, list[Any]] = read(path)

    def connections(self) -> list[Connection]:
        try:
            return [Connection.from_json(item) for item in self._parts["connections"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateFileError(f"{self.path} is not an emulator state file ({exc})") from exc

    def part(self, name: str) -> list[Any]:
        """A part as saved (plain JSON), for its owner to read back."""
        return list(self._parts[name])

    def save(self, name: str, items: Iterable[Any]) -> None:
        """Replace one part and write the file; a failure is logged, never raised."""
        self.save_parts({name: items})

    def save_parts(self, parts: Mapping[str, Iterable[Any]]) -> None:
        """Replace some parts and write the file once."""
        with self._lock:
            self._parts.update((name, list(items)) for name, items in parts.items())
            try:
                write(self.path, self._parts)
            except OSError as exc:
                logger.warning("could not save the state to %s: %s", self.path, exc)

    def save_connections(self, connections: Iterable[Connection]) -> None:
        self.save("connections", [connection.to_json() for connection in connections])


def read(path: Path) -> dict[str, list[Any]]:
    """Every part saved in ``path``, as JSON; empty ones when the file does not exist yet."""
    empty: dict[str, list[Any]] = {name: [] for name in PARTS}
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return empty
    except OSError as exc:
        raise StateFileError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(raw) if raw.strip() else {"connections": []}
        parts = {name: list(data.get(name) or []) for name in PARTS}
        if not isinstance(data["connections"], list):
            raise TypeError("connections must be a list")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateFileError(f"{path} is not an emulator state file ({exc})") from exc
    return parts


def write(path: Path, parts: Mapping[str, list[Any]]) -> None:
    data = {"version": VERSION, **parts}
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
