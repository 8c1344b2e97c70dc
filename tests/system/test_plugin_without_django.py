"""The pytest plugin in a project that has no Django settings at all, run by a pytest
process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.processes
def test_plugin_loads_in_a_project_without_django(tmp_path: Path) -> None:
    """pytest loads the plugin everywhere the package is installed: it must not need
    settings to load, and says what is missing when the fixture is used without them."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_elsewhere.py").write_text(
        textwrap.dedent(
            """
            def test_plain():
                assert True

            def test_with_fake(pipes_fake):
                pass
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)

    def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = pytest_run("--fixtures", "-q")
    assert "pipes_fake" in listed.stdout, listed.stdout + listed.stderr

    run = pytest_run("-q", "-rE")
    summary = run.stdout.strip().splitlines()[-1]
    assert "1 passed" in summary and "1 error" in summary, run.stdout + run.stderr
    assert "pipes_fake needs Django settings" in run.stdout
