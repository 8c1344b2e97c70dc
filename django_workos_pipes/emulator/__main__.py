"""Entry point of ``python -m django_workos_pipes.emulator`` (see ``--help``)."""

from .cli import main

raise SystemExit(main())
