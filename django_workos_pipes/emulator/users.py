"""The endpoints a site uses to link its own users (and organizations) to WorkOS's.

``GET /user_management/users/external_id/{external_id}``, ``GET|PUT
/user_management/users/{id}``, ``GET|POST /user_management/users``, and for
organizations ``GET /organizations/external_id/{external_id}``, ``GET
/organizations/{id}`` and ``POST /organizations``, in the official SDK's shapes. Every
call goes through the :class:`~.guard.ApiGuard` (faults aimed at ``users``, or
``organizations``, reach them).

What the SDKs leave open, the emulator decides as WorkOS was seen to: a duplicate email
on create is a 400 ``user_creation_error`` whose ``errors`` say ``email_not_available``
(observed on the live API). Its own guesses, in the same shape: an ``external_id``
already in use is ``external_id_not_available``, and an update that meets either is a
400 ``user_update_error``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .. import wire
from .directory import Directory, Organization, Taken, UnknownUser, User, normal_email
from .guard import ApiGuard, invalid, not_found, optional_string
from .web import Handler, HttpError, Request, Response, Router, error_response, json_response

USERS = "/user_management/users"
ORDERS = ("asc", "desc", "normal")
HASH_TYPES = ("bcrypt", "firebase-scrypt", "ssha", "ssha256", "scrypt", "pbkdf2", "argon2")
DEFAULT_LIMIT = 10
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TAKEN = {
    "email": (wire.EMAIL_NOT_AVAILABLE, "This email is not available."),
    "external_id": ("external_id_not_available", "This external ID is not available."),
}


class UsersApi:
    """Handlers of the user endpoints, over a :class:`~.directory.Directory`."""

    def __init__(self, directory: Directory, guard: ApiGuard) -> None:
        self.directory = directory
        self.guard = guard

    def register(self, router: Router) -> None:
        routes: list[tuple[str, str, str, Handler]] = [
            ("GET", f"{USERS}/external_id/{{external_id}}", "user_by_external_id", self._by_ext),
            ("GET", f"{USERS}/{{user_id}}", "get_user", self._get),
            ("PUT", f"{USERS}/{{user_id}}", "update_user", self._update),
            ("GET", USERS, "list_users", self._list),
            ("POST", USERS, "create_user", self._create),
        ]
        for method, pattern, operation, step in routes:
            router.add(method, pattern, self.guard.route(operation, step, "users"))
        organizations: list[tuple[str, str, str, Handler]] = [
            (
                "GET",
                "/organizations/external_id/{external_id}",
                "organization_by_external_id",
                self._organization_by_ext,
            ),
            ("GET", "/organizations/{organization_id}", "get_organization", self._organization),
            ("POST", "/organizations", "create_organization", self._create_organization),
        ]
        for method, pattern, operation, step in organizations:
            router.add(method, pattern, self.guard.route(operation, step, "organizations"))

    def _organization_by_ext(self, request: Request, params: Mapping[str, str]) -> Response:
        external_id = params["external_id"]
        found = self.directory.organization_by_external_id(external_id)
        return _found(found, f"Organization with external ID '{external_id}' not found.")

    def _organization(self, request: Request, params: Mapping[str, str]) -> Response:
        organization_id = params["organization_id"]
        found = self.directory.organization(organization_id)
        return _found(found, f"Organization not found: '{organization_id}'.")

    def _create_organization(self, request: Request, params: Mapping[str, str]) -> Response:
        """A new organization (``name``, ``external_id``; domains are not kept)."""
        body = request.json_object()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("name", "is required")
        try:
            created = self.directory.create_organization(name, optional_string(body, "external_id"))
        except Taken:
            raise HttpError(
                error_response(
                    409,
                    "An organization with this external_id already exists.",
                    "external_id_conflict",
                )
            ) from None
        return json_response(201, created.to_api())

    def _by_ext(self, request: Request, params: Mapping[str, str]) -> Response:
        external_id = params["external_id"]
        found = self.directory.by_external_id(external_id)
        return _found(found, f"User with external ID '{external_id}' not found.")

    def _get(self, request: Request, params: Mapping[str, str]) -> Response:
        return json_response(200, self._user(params["user_id"]).to_api())

    def _list(self, request: Request, params: Mapping[str, str]) -> Response:
        query = request.query
        users = self.directory.all()
        email = optional_string(query, "email")
        if email is not None:
            users = [user for user in users if user.email == normal_email(email)]
        organization = optional_string(query, "organization_id") or optional_string(
            query, "organization"
        )
        if organization is not None:
            users = [user for user in users if organization in user.organization_ids]
        return json_response(200, page(users, query))

    def _create(self, request: Request, params: Mapping[str, str]) -> Response:
        body = request.json_object()
        email = body.get("email")
        if not isinstance(email, str) or not _EMAIL.fullmatch(normal_email(email)):
            raise invalid("email", "must be a valid email address")
        fields = _fields(body)
        fields.pop("email", None)
        try:
            user = self.directory.create(email, **fields)
        except Taken as taken:
            raise _taken("Could not create user.", "user_creation_error", taken) from None
        return json_response(201, user.to_api())

    def _update(self, request: Request, params: Mapping[str, str]) -> Response:
        body = request.json_object()
        fields = _fields(body)
        if "email" in fields and not _EMAIL.fullmatch(normal_email(fields["email"] or "")):
            raise invalid("email", "must be a valid email address")
        try:
            user = self.directory.update(params["user_id"], **fields)
        except UnknownUser:
            raise _user_not_found(params["user_id"]) from None
        except Taken as taken:
            raise _taken("Could not update user.", "user_update_error", taken) from None
        return json_response(200, user.to_api())

    def _user(self, user_id: str) -> User:
        user = self.directory.get(user_id)
        if user is None:
            raise _user_not_found(user_id)
        return user


def _found(record: User | Organization | None, message: str) -> Response:
    """The record, or the 404 WorkOS answers when there is none."""
    if record is None:
        raise not_found(message)
    return json_response(200, record.to_api())


def page(users: Sequence[User], query: Mapping[str, str]) -> dict[str, Any]:
    """One page of ``users`` (oldest first) in the order and from the cursor asked for.

    ``asc`` and ``desc`` list by creation time; ``after`` continues past the cursor,
    ``before`` goes back from it. ``normal`` lists newest first, where ``before`` fetches
    older users and ``after`` newer ones. ``list_metadata`` holds the cursor of each side
    that has more users, ``null`` for a side that has none. Ids are ULIDs, so a cursor
    compares by id, even when the user it names is gone.
    """
    limit = _limit(query)
    order = query.get("order") or "desc"
    if order not in ORDERS:
        raise invalid("order", "must be one of asc, desc, normal")
    before, after = query.get("before") or None, query.get("after") or None
    if before and after:
        raise invalid("before", "can't be combined with after")
    listed = list(users) if order == "asc" else list(reversed(users))
    forward, back = (after, before) if order != "normal" else (before, after)
    newest_first = order != "asc"
    if forward is not None:
        start = [_past(user.id, forward, newest_first) for user in listed].count(False)
        chosen = listed[start : start + limit]
        first = start
    elif back is not None:
        end = [_short(user.id, back, newest_first) for user in listed].count(True)
        first = max(0, end - limit)
        chosen = listed[first:end]
    else:
        first, chosen = 0, listed[:limit]
    more_before = first > 0 and bool(chosen)
    more_after = first + len(chosen) < len(listed) and bool(chosen)
    cursors = {
        "before": chosen[0].id if more_before else None,
        "after": chosen[-1].id if more_after else None,
    }
    if order == "normal":
        cursors = {"before": cursors["after"], "after": cursors["before"]}
    return {
        "object": "list",
        "data": [user.to_api() for user in chosen],
        "list_metadata": cursors,
    }


def _past(user_id: str, cursor: str, newest_first: bool) -> bool:
    """Whether ``user_id`` comes after ``cursor`` in the listing's order."""
    return user_id < cursor if newest_first else user_id > cursor


def _short(user_id: str, cursor: str, newest_first: bool) -> bool:
    """Whether ``user_id`` comes before ``cursor`` in the listing's order."""
    return user_id > cursor if newest_first else user_id < cursor


def _limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100:
        raise invalid("limit", "must be a whole number from 1 to 100")
    return int(raw)


def _fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The user fields of a create or update body, checked; passwords checked, dropped."""
    fields: dict[str, Any] = {}
    for name in ("email", "first_name", "last_name", "name", "external_id", "locale"):
        if name in body:
            value = body[name]
            if value is not None and not isinstance(value, str):
                raise invalid(name, "must be a string or null")
            fields[name] = value if value != "" or name == "email" else None
    if "email_verified" in body:
        if not isinstance(body["email_verified"], bool):
            raise invalid("email_verified", "must be true or false")
        fields["email_verified"] = body["email_verified"]
    if "metadata" in body:
        fields["metadata"] = _metadata(body["metadata"])
    _check_password(body)
    return fields


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise invalid("metadata", "must be an object of strings")
    return dict(value)


def _check_password(body: Mapping[str, Any]) -> None:
    """Passwords are read only to refuse bad ones: the emulator never keeps them."""
    for name in ("password", "password_hash", "ip_address", "user_agent", "signals_id"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise invalid(name, "must be a string")
    if body.get("password_hash") is not None and body.get("password_hash_type") not in HASH_TYPES:
        raise invalid("password_hash_type", f"must be one of {', '.join(HASH_TYPES)}")


def _taken(message: str, code: str, taken: Taken) -> HttpError:
    if code == "user_creation_error" and taken.field == "email":
        return HttpError(json_response(400, wire.email_not_available_error()))
    error_code, error_message = _TAKEN[taken.field]
    errors = [{"code": error_code, "message": error_message}]
    return HttpError(error_response(400, message, code, errors=errors))


def _user_not_found(user_id: str) -> HttpError:
    return not_found(f"User not found: '{user_id}'.", entity_id=user_id)
