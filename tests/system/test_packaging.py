"""The built wheel and sdist carry everything the app needs at run time."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEEDED = (
    "django_workos_pipes/py.typed",
    "django_workos_pipes/templates/workos_pipes/unavailable.html",
    "django_workos_pipes/templates/workos_pipes/denied.html",
    "django_workos_pipes/templates/workos_pipes/confirm.html",
    "django_workos_pipes/templates/workos_pipes/organization.html",
    "django_workos_pipes/templates/workos_pipes/accounts.html",
    "django_workos_pipes/templatetags/workos_pipes.py",
    "django_workos_pipes/emulator/__main__.py",
    "django_workos_pipes/testing/plugin.py",
    "django_workos_pipes/management/commands/workos_pipes_send_webhook.py",
)


@pytest.mark.processes
def test_wheel_and_sdist_build_and_install_cleanly(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("django_workos_pipes-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(
            next(name for name in names if name.endswith("entry_points.txt"))
        )
    assert set(NEEDED) <= names
    assert b"workos_pipes = django_workos_pipes.testing.plugin" in entry_points

    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (sdist,) = dist.glob("django_workos_pipes-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert set(NEEDED) | {"setup.cfg", "README.md", "MANIFEST.in"} <= members

    # A fresh venv: the wheel installs, and its files are found where Django looks.
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import importlib.resources as r, django_workos_pipes.signatures as s;"
        "root = r.files('django_workos_pipes');"
        "print(root.joinpath('py.typed').is_file(),"
        " root.joinpath('templates/workos_pipes/unavailable.html').is_file(), s.sign)"
    )
    out = subprocess.run([str(python), "-c", probe], check=True, capture_output=True, text=True)
    assert out.stdout.startswith("True True <function sign")
