"""``python -m django_workos_pipes.emulator --help``."""

from .cli import main

raise SystemExit(main())
