"""Links from the site's own users and organizations to WorkOS's, by ``external_id``.

A link (or a refusal) is cached per WorkOS environment, so that a page does not ask
WorkOS who its user is on every request. A user is never looked up, nor linked, by
e-mail: that would hand one person's connections to whoever holds the address in WorkOS.
The service decides which WorkOS calls find the id (:func:`find_or_create_user`,
:func:`find_organization`); this module caches what they find.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import BaseCache

from . import wire
from .caching.keys import link_key
from .conf import app_settings
from .exceptions import LinkRefused, PipesAPIError, PipesUnavailable
from .guards import CacheGuard
from .workos.protocol import WorkOSClient

logger = logging.getLogger("django_workos_pipes.service")  # the service's, as before

USER_LINK, ORGANIZATION_LINK = "u", "g"

LINK_REFUSALS = {
    "not_provisioned": "no WorkOS user has this external_id, and PROVISION_USERS is off: "
    "turn it on, or create the WorkOS user with this external_id",
    "no_email": "the user has no e-mail address, which WorkOS needs to create a user",
    wire.EMAIL_NOT_AVAILABLE: "another WorkOS user already has this user's e-mail address, "
    "and linking by e-mail alone is never done: if that WorkOS user is this person, set its "
    "external_id to this one (WorkOS dashboard, or PUT /user_management/users/{id}); "
    "otherwise change one of the two e-mail addresses",
    "organization_not_found": "no WorkOS organization has this external_id: set it on the "
    "organization in WorkOS (dashboard, or PUT /organizations/{id})",
}


@dataclass(frozen=True)
class Links:
    """The cached links of one WorkOS ``environment`` (see :func:`environment`); a
    refusal is kept for ``refusal_ttl`` seconds, a link for ``USER_LINK_TTL``."""

    cache: CacheGuard
    environment: str
    refusal_ttl: float

    def link(self, kind: str, external_id: str, find: Callable[[], str]) -> str:
        """The cached WorkOS id of ``external_id``, else what ``find`` returns (or the
        :class:`LinkRefused` it raises), cached."""
        if external_id in ("", ".", ".."):
            raise ValueError(f"{external_id!r} can't be an external_id")
        key = link_key(kind, self.environment, external_id)
        cached = self.cache.call(lambda cache: cache.get(key), None)
        if isinstance(cached, dict):
            if isinstance(cached.get("id"), str):
                return str(cached["id"])
            if isinstance(cached.get("refused"), str):
                raise LinkRefused(str(cached["refused"]), external_id=external_id)
        try:
            workos_id = find()
        except LinkRefused as refusal:
            _log_refusal(kind, refusal)
            entry = {"refused": refusal.reason}
            ttl = math.ceil(self.refusal_ttl)
            self.cache.call(lambda cache: cache.set(key, entry, ttl), None)
            raise
        ttl = math.ceil(app_settings.USER_LINK_TTL)
        self.cache.call(lambda cache: cache.set(key, {"id": workos_id}, ttl), None)
        return workos_id

    def forget(self, kind: str, external_id: str) -> bool:
        """Drop a cached link, in every process. False if the cache can't be written."""
        key = link_key(kind, self.environment, external_id)

        def delete(cache: BaseCache) -> bool:
            cache.delete(key)
            return True

        return self.cache.call(delete, False)


def environment(api_key: str, base_url: str) -> str:
    """A digest naming the WorkOS environment (API key and base URL) links belong to."""
    seed = f"{base_url}\n{api_key}".encode()
    return hashlib.blake2b(seed, digest_size=8).hexdigest()


def find_or_create_user(
    client: WorkOSClient,
    external_id: str,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
    provision: bool,
) -> str:
    """The WorkOS user with this ``external_id``, created when ``provision`` allows."""
    user = client.get_user_by_external_id(external_id)
    if user is not None:
        return user.id
    if not provision:
        raise LinkRefused("not_provisioned", external_id=external_id)
    if not email:
        raise LinkRefused("no_email", external_id=external_id)
    try:
        user = client.create_user(
            email=email, external_id=external_id, first_name=first_name, last_name=last_name
        )
    except PipesAPIError as exc:
        if isinstance(exc, PipesUnavailable) or exc.status_code >= 500:
            raise
        # A concurrent request may have created it a moment ago: that user carries
        # this external_id, so it is this site's user and the link is sound.
        user = client.get_user_by_external_id(external_id)
        if user is not None:
            return user.id
        if wire.EMAIL_NOT_AVAILABLE in (exc.code, *exc.error_codes):
            raise LinkRefused(
                wire.EMAIL_NOT_AVAILABLE, external_id=external_id, request_id=exc.request_id
            ) from None
        raise
    return user.id


def find_organization(client: WorkOSClient, external_id: str) -> str:
    """The WorkOS organization with this ``external_id``; never created here."""
    organization = client.get_organization_by_external_id(external_id)
    if organization is None:
        raise LinkRefused("organization_not_found", external_id=external_id)
    return organization.id


def _log_refusal(kind: str, refusal: LinkRefused) -> None:
    """One warning per refusal decided from WorkOS's answers (cached ones are quiet)."""
    what = "organization" if kind == ORGANIZATION_LINK else "user"
    logger.warning(
        "Not linking %s external_id=%r to WorkOS (%s): %s.%s",
        what,
        refusal.external_id,
        refusal.reason,
        LINK_REFUSALS.get(refusal.reason, "WorkOS refused it"),
        f" request_id={refusal.request_id}" if refusal.request_id else "",
    )
