#!/usr/bin/env python3
"""The two commands of a fresh checkout, needing nothing but Python 3.10+.

    python3 scripts/dev.py example   # the example project with the local WorkOS emulator
    python3 scripts/dev.py test      # the whole test suite (extra arguments go to pytest)
    python3 scripts/dev.py docs      # the documentation site, into docs/_build/html

Each creates ``.venv`` beside this repo on first use and installs the package with its
test and docs extras into it; they reinstall only when ``setup.cfg`` changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("DWP_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".django-workos-pipes-installed"
DOCS = ROOT / "docs"
DOCS_HTML = DOCS / "_build" / "html"


def ensure_venv() -> None:
    """Create the venv and install the package, unless it is already up to date."""
    if sys.version_info < (3, 10):
        sys.exit("django-workos-pipes needs Python 3.10 or newer.")
    wanted = hashlib.sha256((ROOT / "setup.cfg").read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        print(f"Creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    print("Installing django-workos-pipes and its test and docs dependencies ...", flush=True)
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test,docs]"], check=True)
    STAMP.write_text(wanted)


def run(argv: list[str]) -> int:
    """Run a program from the venv, in the repo, forwarding Ctrl-C to it."""
    process = subprocess.Popen(argv, cwd=ROOT)
    try:
        return process.wait()
    except KeyboardInterrupt:
        return process.wait()


def build_docs(rest: list[str]) -> int:
    """Build the site as CI does: warnings are errors, every reference must resolve."""
    if shutil.which("dot") is None:
        print(
            "The diagrams need Graphviz's `dot`: apt-get install graphviz "
            "(or brew install graphviz), then run this again.",
            file=sys.stderr,
        )
        return 1
    argv = [str(PYTHON), "-m", "sphinx", "-W", "--keep-going", "-n", "-q"]
    code = run([*argv, *rest, str(DOCS), str(DOCS_HTML)])
    if code == 0:
        print(f"Documentation built: open {(DOCS_HTML / 'index.html').as_uri()}")
    return code


def main() -> int:
    command, *rest = sys.argv[1:] or ["help"]
    if command == "test":
        ensure_venv()
        return run([str(PYTHON), "-m", "pytest", *rest])
    if command == "docs":
        ensure_venv()
        return build_docs(rest)
    if command == "example":
        ensure_venv()
        return run([str(PYTHON), str(ROOT / "example_project" / "run.py"), *rest])
    print(__doc__)
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main())
