#!/usr/bin/env python3
"""Django's command-line utility for the example site (``run.py`` runs it for you)."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # The site is the ``example_project`` package of the repository: make it importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
