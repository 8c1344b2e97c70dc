"""``manage.py workos_pipes_emulator``: the local WorkOS Pipes emulator, from a project.

The same options and status line as ``python -m django_workos_pipes.emulator``; it
reads no settings, so it runs the same whatever the project's configuration.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_workos_pipes.emulator import StateFileError, cli


class Command(BaseCommand):
    help = "Run a local stand-in for the WorkOS Pipes API until Ctrl-C."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser, verbose_flag=False)

    def handle(self, *args: Any, **options: Any) -> None:
        verbose = options["verbosity"] >= 2
        cli.configure_logging(verbose)
        try:
            emulator = cli.emulator_from_options(options, verbose=verbose)
            cli.serve(emulator, self.stdout)
        except (StateFileError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            where = f"{options['host']}:{options['port']}"
            raise CommandError(f"cannot listen on {where}: {exc.strerror}") from exc
