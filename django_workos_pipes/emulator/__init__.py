"""A faithful local stand-in for the WorkOS Pipes API, standard library only.

Run it with ``python -m django_workos_pipes.emulator --port 4100`` (or the
``workos_pipes_emulator`` management command), or from Python::

    with Emulator(webhook_url=url, webhook_secret="whsec") as emu:
        emu.connect("salesforce", "user_123")
        client = WorkOSClient(api_key=emu.api_key, client_id="client_x", base_url=emu.url)

It needs no Django settings: nothing here imports Django.

The HTTP surface: ``POST /data-integrations/{provider}/token``, ``/credentials`` and
``/authorize``, ``GET|DELETE /user_management/users/{user_id}/connected_accounts/{provider}``,
``GET /user_management/users/{user_id}/data_providers``, their organization twins
(``/organizations/{organization_id}/connected_accounts/{provider}``,
``/organizations/{organization_id}/data_providers``), the user endpoints
(``GET|POST /user_management/users``, ``GET|PUT /user_management/users/{id}``,
``GET /user_management/users/external_id/{external_id}``), the organizations a site
links to (``GET /organizations/external_id/{external_id}``, ``GET /organizations/{id}``,
``POST /organizations``) (all with
``Authorization: Bearer <api key>``), a stand-in provider API at
``/_provider/{provider}/me`` (with the provider token), the consent page at
``/consent/{id}``, and the
control API and page under ``/_emulator/``, which need no key: the emulator binds to
127.0.0.1 by default.
"""

from __future__ import annotations

from .app import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    EVENT_CONNECTED,
    EVENT_DISCONNECTED,
    EVENT_REAUTHORIZATION_NEEDED,
    Emulator,
)
from .calls import Call
from .endpoint import DEFAULT_API_KEY
from .faults import FAULT_KINDS, MALFORMED_BODY
from .persistence import StateFileError
from .providers import Provider
from .state import (
    CONNECTED,
    DISCONNECTED,
    NEEDS_REAUTHORIZATION,
    AccountSelectionRequired,
    Connection,
    UnknownConnection,
)
from .webhooks import Delivery

__all__ = [
    "CONNECTED",
    "DEFAULT_API_KEY",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DISCONNECTED",
    "EVENT_CONNECTED",
    "EVENT_DISCONNECTED",
    "EVENT_REAUTHORIZATION_NEEDED",
    "FAULT_KINDS",
    "MALFORMED_BODY",
    "NEEDS_REAUTHORIZATION",
    "AccountSelectionRequired",
    "Call",
    "Connection",
    "Delivery",
    "Emulator",
    "Provider",
    "StateFileError",
    "UnknownConnection",
]
