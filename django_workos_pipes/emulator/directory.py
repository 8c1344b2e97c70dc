"""The users and organizations a site links its own to, through their ``external_id``.

Kept apart from connected accounts (a connection's ``user_id`` needs no user here, as
the Pipes calls never asked for one), saved in the state file beside the connections.
Emails are stored trimmed and lower-cased, as WorkOS stores them; an email or an
``external_id`` belongs to one user at a time. Passwords are accepted by the endpoints
and never kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .. import wire
from .persistence import StateFile
from .state import saved_times

# The fields a create or an update may set, as the endpoints have checked them.
FIELDS = (
    "email",
    "email_verified",
    "first_name",
    "last_name",
    "name",
    "external_id",
    "metadata",
    "locale",
)


class UnknownUser(LookupError):
    """No user has this id."""


class Taken(ValueError):
    """Another user already has this email or external id; ``field`` says which."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is not available")
        self.field = field


def normal_email(email: str) -> str:
    """How WorkOS stores an email: trimmed and lower-cased."""
    return email.strip().lower()


@dataclass(frozen=True)
class User:
    """A WorkOS user, as the emulator holds it."""

    id: str
    email: str
    created_at: datetime
    updated_at: datetime
    email_verified: bool = False
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    external_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    locale: str | None = None
    organization_ids: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        """The ``user`` object: every key the official SDK requires, and the optional ones."""
        full_name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return wire.user_object(
            self.id,
            email=self.email,
            external_id=self.external_id,
            first_name=self.first_name,
            last_name=self.last_name,
            email_verified=self.email_verified,
            created_at=self.created_at,
            updated_at=self.updated_at,
            name=self.name or full_name or None,
            metadata=dict(self.metadata),
            locale=self.locale,
        )

    def to_json(self) -> dict[str, Any]:
        """Everything needed to restore the user from a state file."""
        return {
            **self.to_api(),
            "name": self.name,
            "organization_ids": list(self.organization_ids),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> User:
        created, updated = saved_times(data)
        return cls(
            id=str(data["id"]),
            email=str(data["email"]),
            created_at=created,
            updated_at=updated,
            email_verified=bool(data.get("email_verified")),
            first_name=data.get("first_name"),
            last_name=data.get("last_name"),
            name=data.get("name"),
            external_id=data.get("external_id"),
            metadata=dict(data.get("metadata") or {}),
            locale=data.get("locale"),
            organization_ids=tuple(data.get("organization_ids") or ()),
        )


@dataclass(frozen=True)
class Organization:
    """A WorkOS organization, as the emulator holds it."""

    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The ``organization`` object, with every key the official SDK requires."""
        return wire.organization_object(
            self.id,
            name=self.name,
            external_id=self.external_id,
            created_at=self.created_at,
            updated_at=wire.timestamp(self.updated_at),
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Organization:
        created, updated = saved_times(data)
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            created_at=created,
            updated_at=updated,
            external_id=data.get("external_id"),
        )


class Directory:
    """Thread-safe users and organizations, looked up by id, email and external id;
    saved as they change."""

    def __init__(self, state_file: StateFile | None = None) -> None:
        self._lock = threading.Lock()
        self._state_file = state_file
        self._users: dict[str, User] = {}
        self._organizations: dict[str, Organization] = {}
        if state_file is not None:
            self._users = {u.id: u for u in map(User.from_json, state_file.part("users"))}
            saved = map(Organization.from_json, state_file.part("organizations"))
            self._organizations = {o.id: o for o in saved}

    def create_organization(self, name: str, external_id: str | None = None) -> Organization:
        """A new organization; :class:`Taken` if another has this external id."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("an organization needs a name")
        moment = wire.now()
        organization = Organization(
            wire.new_id("org"), name.strip(), moment, moment, external_id or None
        )
        with self._lock:
            if external_id and any(
                o.external_id == external_id for o in self._organizations.values()
            ):
                raise Taken("external_id")
            self._organizations[organization.id] = organization
            self._save()
        return organization

    def organization(self, organization_id: str) -> Organization | None:
        with self._lock:
            return self._organizations.get(organization_id)

    def organization_by_external_id(self, external_id: str) -> Organization | None:
        with self._lock:
            found = (o for o in self._organizations.values() if o.external_id == external_id)
            return next(found, None)

    def organizations(self) -> list[Organization]:
        with self._lock:
            return sorted(self._organizations.values(), key=lambda o: o.id)

    def create(self, email: str, organization_ids: Iterable[str] = (), **fields: Any) -> User:
        """A new user; :class:`Taken` if the email or external id belongs to another."""
        moment = wire.now()
        user = User(
            id=wire.new_id("user"),
            email=normal_email(email),
            created_at=moment,
            updated_at=moment,
            organization_ids=tuple(dict.fromkeys(organization_ids)),
            **_checked(fields),
        )
        with self._lock:
            self._refuse_taken(user)
            self._users[user.id] = user
            self._save()
        return user

    def update(self, user_id: str, **fields: Any) -> User:
        """Change the fields given, keep the others; :class:`UnknownUser`, :class:`Taken`."""
        with self._lock:
            current = self._users.get(user_id)
            if current is None:
                raise UnknownUser(user_id)
            changes = _checked(fields)
            if "email" in changes:
                changes["email"] = normal_email(changes["email"])
            updated = replace(current, **changes, updated_at=wire.now())
            self._refuse_taken(updated)
            self._users[user_id] = updated
            self._save()
        return updated

    def get(self, user_id: str) -> User | None:
        with self._lock:
            return self._users.get(user_id)

    def by_external_id(self, external_id: str) -> User | None:
        with self._lock:
            return next((u for u in self._users.values() if u.external_id == external_id), None)

    def all(self) -> list[User]:
        """Every user, oldest first (ids are ULIDs: they sort by creation time)."""
        with self._lock:
            return sorted(self._users.values(), key=lambda user: user.id)

    def clear(self) -> None:
        with self._lock:
            self._users.clear()
            self._organizations.clear()
            self._save()

    def _refuse_taken(self, user: User) -> None:
        for other in self._users.values():
            if other.id == user.id:
                continue
            if other.email == user.email:
                raise Taken("email")
            if user.external_id is not None and other.external_id == user.external_id:
                raise Taken("external_id")

    def _save(self) -> None:
        if self._state_file is not None:
            self._state_file.save_parts(
                {
                    "users": [user.to_json() for user in self._users.values()],
                    "organizations": [o.to_api() for o in self._organizations.values()],
                }
            )


def _checked(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown user fields: {', '.join(sorted(unknown))}")
    return dict(fields)
