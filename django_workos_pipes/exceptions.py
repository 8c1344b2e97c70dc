"""Exceptions raised by django-workos-pipes.

They extend Django's own where one fits, so Django's machinery treats them right:
:class:`PipesConfigurationError` is an ``ImproperlyConfigured``. No message built here
ever contains an API key or an access token.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, PermissionDenied

from .masking import mask_id


class PipesError(Exception):
    """Base class of every error this package raises."""


class PipesConfigurationError(PipesError, ImproperlyConfigured):
    """A setting is missing or has a value that cannot work."""


class InvalidProvider(PipesError, ValueError):
    """A provider slug that is not lower-case letters, digits, ``-`` and ``_``.

    Refused before any request: a slug is a segment of WorkOS URLs, and ``..`` there
    would reach another endpoint.
    """

    def __init__(self, provider: object) -> None:
        PipesError.__init__(
            self,
            f"{str(provider)[:40]!r} is not a provider slug (lower-case letters, digits, "
            "'-' and '_')",
        )


class InvalidPathSegment(PipesError, ValueError):
    """An id or slug that can't be one segment of a WorkOS URL: empty, ``.`` or ``..``
    (which HTTP clients resolve against the path, reaching another endpoint)."""


class PipesAPIError(PipesError):
    """WorkOS answered a request with a client error (4xx) or a body that makes no sense."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        code: str | None = None,
        error_codes: tuple[str, ...] = (),
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.code = code
        self.error_codes = error_codes
        """The ``code`` of each entry of the body's ``errors`` list, when it has one."""
        PipesError.__init__(self, message)

    def __str__(self) -> str:
        parts = [f"WorkOS answered {self.status_code}"]
        if self.code:
            parts.append(f"code={self.code}")
        if self.error_codes:
            parts.append(f"errors={','.join(self.error_codes)}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return f"{' '.join(parts)}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, "
            f"error_codes={self.error_codes!r}, request_id={self.request_id!r}, "
            f"message={self.message!r})"
        )


class PipesUnavailable(PipesError):
    """WorkOS could not be reached, timed out, or kept failing (429/5xx) past the retries."""

    def __init__(
        self, message: str, *, status_code: int | None = None, request_id: str | None = None
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        PipesError.__init__(self, message)

    def __str__(self) -> str:
        suffix = f" (request_id={self.request_id})" if self.request_id else ""
        return f"{self.message}{suffix}"


# Both bases store status_code; here it is always the int of the 2xx answer.
class PipesMalformedResponse(PipesAPIError, PipesUnavailable):  # type: ignore[misc]
    """WorkOS answered 2xx with a body that is not what the API promises.

    It is a :class:`PipesAPIError` (WorkOS did answer) and a :class:`PipesUnavailable`
    (no usable answer came back), so callers that fall back to a cached token, or
    render the "unavailable" page, treat it like an outage.
    """

    def __init__(self, message: str, *, status_code: int, request_id: str | None = None) -> None:
        PipesAPIError.__init__(
            self, message, status_code=status_code, request_id=request_id, code="malformed_response"
        )


PROVIDER_REJECTED_TOKEN = "provider_rejected_token"
"""``PipesReauthorizationRequired.error`` when WorkOS is active but the provider refuses
(401) the freshest token WorkOS has: only the user, signing in again, can fix it."""


class PipesReauthorizationRequired(PipesError):
    """A connection can't be used until its user reauthorizes (or connects) it.

    Raised by the provider sessions (``pipes.session``, ``PipesAuth``) and by
    ``pipes.require_access_token`` when WorkOS answers inactive, or when the provider
    refuses the token WorkOS hands out. ``error`` is WorkOS's code
    (``needs_reauthorization``, ``not_installed``, or one added later) or
    :data:`PROVIDER_REJECTED_TOKEN`. It carries ids, never a token; the user id is masked
    in ``str`` and ``repr``, since both end up in logs and error pages.

    For an organization's connection (``owner == "organization"``), ``user_id`` is the
    member who was using it; only an administrator of the organization can fix it.
    ``connected_account_id`` names the account, when one of several was asked for.
    """

    def __init__(
        self,
        provider: str,
        *,
        user_id: str | None = None,
        organization_id: str | None = None,
        error: str = "needs_reauthorization",
        owner: str = "user",
        connected_account_id: str | None = None,
    ) -> None:
        self.provider = provider
        self.user_id = user_id
        self.organization_id = organization_id
        self.error = error
        self.owner = owner
        self.connected_account_id = connected_account_id
        # args holds only what __init__ takes positionally, so that pickling (a task
        # queue's result backend) rebuilds it: the other fields travel in __dict__.
        PipesError.__init__(self, provider)

    def __str__(self) -> str:
        if self.owner == "organization":
            return (
                f"The {self.provider} connection of organization "
                f"{mask_id(self.organization_id)} needs an administrator to reauthorize it "
                f"({self.error})"
            )
        return (
            f"The {self.provider} connection of user {mask_id(self.user_id)} needs the user "
            f"to reauthorize it ({self.error})"
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, user_id={mask_id(self.user_id)!r}, "
            f"error={self.error!r})"
        )


class LinkRefused(PipesError, PermissionDenied):
    """A logged-in Django user can't be linked to a WorkOS user, and won't be by retrying.

    ``reason`` says why, as a code the refusal page and a project's own handler can act
    on:

    - ``"email_not_available"``: provisioning was refused because another WorkOS user
      already has this e-mail address. Linking to that user would hand one person's
      connections to another, so it is never done automatically;
    - ``"no_email"``: provisioning needs an e-mail address and the user has none;
    - ``"not_provisioned"``: no WorkOS user has this ``external_id`` and
      ``PROVISION_USERS`` is off;
    - ``"organization_not_found"``: no WorkOS organization has this ``external_id``.

    It is a ``PermissionDenied``: a view that lets it escape answers 403, never 500. The
    app's own views, decorator, mixin and template tags catch it and show
    ``workos_pipes/not_linked.html``.
    """

    def __init__(self, reason: str, *, external_id: str, request_id: str | None = None) -> None:
        self.reason = reason
        self.external_id = external_id
        self.request_id = request_id
        suffix = f" (request_id={request_id})" if request_id else ""
        PipesError.__init__(self, f"{reason} for external_id={external_id!r}{suffix}")
