"""The system tests: real server processes, the browser, packaging, the example project,
the fault suite and the soak.

Every test collected below this folder is marked ``system``, so ``pytest -m "not
system"`` is the fast unit suite and ``pytest -m system`` this one; nobody has to
remember the marker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``system`` before ``-m`` selects (hence ``tryfirst``)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.system)
