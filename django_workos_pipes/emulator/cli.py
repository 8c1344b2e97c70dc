"""``python -m django_workos_pipes.emulator``: run the emulator until Ctrl-C or SIGTERM.

The management command ``workos_pipes_emulator`` reuses :func:`add_arguments` and
:func:`serve`, so both accept the same options and print the same status line.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any, Protocol

from .. import wire
from .app import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TOKEN_LIFETIME, Emulator
from .endpoint import DEFAULT_API_KEY
from .persistence import StateFileError
from .providers import Provider, parse_spec

logger = logging.getLogger("django_workos_pipes.emulator")

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class Output(Protocol):
    """Where the status line goes: ``sys.stdout`` or a command's ``OutputWrapper``."""

    def write(self, text: str, /) -> Any: ...

    def flush(self) -> Any: ...


def add_arguments(parser: argparse.ArgumentParser, *, verbose_flag: bool = True) -> None:
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="interface to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port, 0 for any free one (default: %(default)s)",
    )
    # Secrets may come from the environment, so they don't show in the process list.
    parser.add_argument(
        "--api-key",
        default=os.environ.get("WORKOS_API_KEY") or DEFAULT_API_KEY,
        help=f"the API key to accept (default: $WORKOS_API_KEY, else {DEFAULT_API_KEY})",
    )
    parser.add_argument("--webhook-url", help="where to POST signed webhook events")
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("WORKOS_WEBHOOK_SECRET") or None,
        help="the secret that signs them (default: $WORKOS_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="JSON file that keeps connections, users and organizations across restarts",
    )
    parser.add_argument(
        "--token-lifetime",
        type=float,
        default=DEFAULT_TOKEN_LIFETIME,
        metavar="SECONDS",
        help="lifetime of minted tokens, 0 for tokens that never expire (default: %(default)s)",
    )
    parser.add_argument(
        "--provider",
        action="append",
        default=[],
        metavar="SLUG[=SCOPE,...]",
        help="accept another provider slug, with its default scopes (repeatable)",
    )
    parser.add_argument(
        "--public-url", help="base URL of consent links, if browsers reach the emulator elsewhere"
    )
    parser.add_argument(
        "--event-family",
        choices=tuple(wire.EVENT_FAMILIES),
        default="connected_account",
        help="webhook names: pipes.connected_account.* or pipes.account_connection.* "
        "(default: %(default)s)",
    )
    if verbose_flag:
        parser.add_argument("--verbose", action="store_true", help="log every request")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m django_workos_pipes.emulator",
        description="A local stand-in for the WorkOS Pipes API, for development and tests.",
    )
    add_arguments(parser)
    return parser


def emulator_from_options(options: Mapping[str, Any], *, verbose: bool = False) -> Emulator:
    """An :class:`Emulator` from parsed options; ``ValueError`` for a bad combination."""
    if options.get("webhook_url") and not options.get("webhook_secret"):
        raise ValueError("--webhook-url needs --webhook-secret to sign the events")
    providers: list[Provider] = [parse_spec(spec) for spec in options.get("provider") or []]
    return Emulator(
        api_key=options["api_key"],
        webhook_url=options.get("webhook_url"),
        webhook_secret=options.get("webhook_secret"),
        token_lifetime=options.get("token_lifetime") or None,
        host=options["host"],
        port=options["port"],
        state_file=options.get("state"),
        providers=providers,
        public_url=options.get("public_url"),
        verbose=verbose or bool(options.get("verbose")),
        event_family=options.get("event_family") or "connected_account",
    )


def status_line(emulator: Emulator) -> str:
    """One line: where it listens, which key it accepts, where the page is.

    The key is shown in full only when it is the public default; a key given on the
    command line or in the environment is masked.
    """
    webhooks = f", webhooks to {emulator.webhook_url}" if emulator.webhook_url else ""
    return (
        f"WorkOS Pipes emulator listening on {emulator.url} "
        f"(API key {emulator.shown_api_key}{webhooks}); "
        f"control page {emulator.url}/_emulator/ - Ctrl-C to stop"
    )


def serve(emulator: Emulator, out: Output) -> int:
    """Start, print the status line, and block until SIGINT/SIGTERM; then stop cleanly."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        emulator.start()
        out.write(status_line(emulator) + "\n")
        out.flush()
        if emulator.host not in LOOPBACK:
            logger.warning(
                "listening on %s: anyone who reaches it can use /_emulator/ (no API key)",
                emulator.host,
            )
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.stop()
    return 0


def configure_logging(verbose: bool) -> None:
    """Warnings (failed webhooks) always reach stderr; every request only when verbose."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    options = vars(parser.parse_args(argv))
    configure_logging(options["verbose"])
    try:
        emulator = emulator_from_options(options)
    except StateFileError as exc:
        parser.exit(2, f"error: {exc}\n")
    except ValueError as exc:
        parser.error(str(exc))
    try:
        return serve(emulator, sys.stdout)
    except OSError as exc:
        parser.exit(
            1, f"error: cannot listen on {options['host']}:{options['port']}: {exc.strerror}\n"
        )
