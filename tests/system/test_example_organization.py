"""The example project's organization (an administrator connects Acme's Salesforce, a
member uses it), tested under the example's own settings and user model.

The example is another Django project than the tests' one, so its tests
(``example_project/tests``) run in a pytest of their own, with WorkOS answered by the
``pipes_fake`` fixture: no emulator, no server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.system.processes import ROOT

pytestmark = pytest.mark.processes


def test_the_example_s_organization_tests_pass(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CACHE_URL")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["EXAMPLE_STATE_DIR"] = str(tmp_path)
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--ds=example_project.settings",
            str(ROOT / "example_project" / "tests"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert " passed" in finished.stdout
