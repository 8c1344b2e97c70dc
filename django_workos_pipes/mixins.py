"""``PipeRequiredMixin``: ``require_pipe`` for class-based views.

It makes the same decision as the decorator, through the same functions, before the
view dispatches; for a ``View`` with async handlers it decides without blocking. A
handler that lets ``PipesReauthorizationRequired`` escape sends the user to reauthorize,
as under the decorator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from .decorators import acheck_pipe, arecover, check_pipe, recover
from .owners import USER, Owner, check_owner


class PipeRequiredMixin:
    """Dispatch only when the user's connections are active and scoped.

    Set ``pipe_provider`` (and ``pipe_scopes``) for one provider, or ``pipe_providers``,
    a mapping of provider to required scopes, for several; they are checked in order and
    the first one missing decides where the user goes. Tokens are in ``request.pipes``;
    with ``pipe_credentials = True``, the connections' credentials (config included)
    instead, as ``require_pipe(..., credentials=True)`` gives.
    ``pipe_owner = "organization"`` requires the organization's shared connections
    instead of the user's own; override :meth:`get_pipe_owner` to mix both.
    """

    pipe_provider: str | None = None
    pipe_scopes: Sequence[str] = ()
    pipe_providers: Mapping[str, Sequence[str]] = {}
    pipe_credentials: bool = False
    pipe_owner: Owner = USER

    def get_pipe_owner(self, provider: str) -> Owner:
        """Whose ``provider`` connection the view needs: ``pipe_owner`` by default."""
        return check_owner(self.pipe_owner)

    def get_pipe_requirements(self) -> dict[str, tuple[str, ...]]:
        """Provider -> required scopes; override to decide per request."""
        requirements: dict[str, tuple[str, ...]] = {}
        if self.pipe_provider:
            requirements[self.pipe_provider] = tuple(self.pipe_scopes)
        requirements.update((name, tuple(scopes)) for name, scopes in self.pipe_providers.items())
        if not requirements:
            raise ImproperlyConfigured(
                f"{type(self).__name__} is missing pipe_provider (or pipe_providers)."
            )
        return requirements

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "view_is_async", False):
            return self._adispatch(request, *args, **kwargs)
        for provider, scopes in self.get_pipe_requirements().items():
            owner = self.get_pipe_owner(provider)
            response = check_pipe(request, provider, scopes, self.pipe_credentials, owner=owner)
            if response is not None:
                return response
        return recover(request, super().dispatch, *args, **kwargs)  # type: ignore[misc]

    async def _adispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        for provider, scopes in self.get_pipe_requirements().items():
            owner = self.get_pipe_owner(provider)
            credentials = self.pipe_credentials
            response = await acheck_pipe(request, provider, scopes, credentials, owner=owner)
            if response is not None:
                return response
        handling = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return await arecover(request, handling)  # type: ignore[no-any-return]
