"""The Django layer for WorkOS Pipes.

``from django_workos_pipes import pipes`` gives the default :class:`PipesService`. It is
built on first use, not at import, so importing this package never reads settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .service import PipesService

    pipes: PipesService

__all__ = ["__version__", "pipes"]


def __getattr__(name: str) -> Any:
    if name == "pipes":
        from .service import pipes

        return pipes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
