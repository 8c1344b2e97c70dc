"""One emulator on loopback for every test of this folder, reset after each test, with
a webhook receiver that checks each signature: no part of the emulator is mocked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from workos import WorkOSClient

from django_workos_pipes.emulator import Emulator
from tests.emulator.calls import API_KEY, SECRET
from tests.servers import Receiver


@pytest.fixture(scope="package")
def shared_emulator() -> Iterator[tuple[Emulator, Receiver]]:
    """The emulator and its webhook receiver (starting them per test costs time)."""
    receiver = Receiver(SECRET)
    with Emulator(api_key=API_KEY, webhook_url=receiver.url, webhook_secret=SECRET) as emulator:
        yield emulator, receiver
    receiver.close()


@pytest.fixture
def receiver(shared_emulator: tuple[Emulator, Receiver]) -> Receiver:
    return shared_emulator[1]


@pytest.fixture
def emu(shared_emulator: tuple[Emulator, Receiver]) -> Iterator[Emulator]:
    """The shared emulator, reset after each test: no connections, faults or events."""
    emulator, receiver = shared_emulator
    yield emulator
    assert emulator.wait_for_webhooks(5)
    emulator.reset()
    emulator.event_family = "connected_account"
    receiver.clear()


@pytest.fixture
def sdk_on_emulator(emu: Emulator) -> Iterator[WorkOSClient]:
    """The official client, pointed at the emulator, without retries (faults show)."""
    with WorkOSClient(
        api_key=API_KEY, client_id="client_emulator", base_url=emu.url, max_retries=0
    ) as client:
        yield client
