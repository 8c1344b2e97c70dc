"""Outage budgets: circuit breakers around the cache and around WorkOS.

A page with ten ``pipe_status`` tags (or a view under ten stacked ``@require_pipe``)
must not pay one cache timeout, or one WorkOS ``TIMEOUT`` with its retries, per tag.
These tests count calls and read the breakers' state; the render times with a frozen
Redis and a failing WorkOS are measured by ``benchmarks/outages.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
import time_machine
from django.contrib.auth.models import User
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path

from django_workos_pipes import pipes
from django_workos_pipes.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from django_workos_pipes.caching.keys import WORKOS_DOWN
from django_workos_pipes.decorators import require_pipe
from django_workos_pipes.exceptions import PipesUnavailable
from django_workos_pipes.service import PipesService
from django_workos_pipes.testing.fakes import PipesFake
from tests import caches as test_caches
from tests.builders import token_answer
from tests.settings import API_KEY
from tests.stubs import USER_RESOLVER, token_url

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

PROVIDERS = [f"provider-{n}" for n in range(10)]
PAGE = "/status/?" + "&".join(f"provider={provider}" for provider in PROVIDERS)
PERIOD = 5.0  # the breakers' period: longer than any render here, however loaded the machine
SHORT = 0.2  # the WorkOS breaker's period where a test waits for it to pass


def settings(**extra: Any) -> dict[str, Any]:
    return {
        "API_KEY": API_KEY,
        "USER_ID_RESOLVER": USER_RESOLVER,
        "BACKOFF_FACTOR": 0,
        "MAX_RETRIES": 2,
        "WORKOS_BREAKER_SECONDS": PERIOD,
        "CACHE_BREAKER_SECONDS": PERIOD,
        **extra,
    }


def stacked(view: Any) -> Any:
    for provider in reversed(PROVIDERS):
        view = require_pipe(provider)(view)
    return view


@stacked
def ten_pipes(request: HttpRequest) -> HttpResponse:
    return HttpResponse(",".join(sorted(request.pipes)))  # type: ignore[attr-defined]


from tests.urls import urlpatterns as _test_urls  # noqa: E402

urlpatterns = [*_test_urls, path("ten/", ten_pipes)]


@pytest.fixture
def flaky_cache() -> Iterator[type[test_caches.FlakyCache]]:
    """The default cache, counting its calls; ``FlakyCache.down = True`` takes it away."""
    with override_settings(CACHES=test_caches.flaky(), WORKOS_PIPES=settings()):
        test_caches.Calls.take()
        yield test_caches.FlakyCache
        test_caches.FlakyCache.down = False
        caches["default"].clear()


@pytest.fixture
def ann_client(client: Client, ann: User, flaky_cache: type[test_caches.FlakyCache]) -> Client:
    """pytest-django's client, logged in as Ann, on the counting cache: the page's visitor."""
    return client


@pytest.fixture
def workos() -> Iterator[responses.RequestsMock]:
    """Every provider's token answered (any user), until a test replaces the answers."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for provider in PROVIDERS:
            mock.post(token_url(provider), json=token_answer(f"ya29.{provider}-token"))
        yield mock


def fail_workos(workos: responses.RequestsMock, failure: Any) -> None:
    """WorkOS answers every token call with ``failure`` (a status, or an exception)."""
    for provider in PROVIDERS:
        if isinstance(failure, int):
            workos.replace(responses.POST, token_url(provider), json={}, status=failure)
        else:
            workos.replace(responses.POST, token_url(provider), body=failure)


def calls_to(workos: responses.RequestsMock) -> int:
    count = len(workos.calls)
    workos.calls.reset()
    return count


def statuses(client: Client, path: str = PAGE) -> list[str]:
    html = client.get(path).content.decode()
    return [
        "active" if "active=True" in line else line.split("error=")[1].split()[0]
        for line in html.split("<p")[1:]
    ]


# The breaker itself.


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_breaker_opens_on_failure_lets_one_trial_through_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock)
    assert breaker.state == CLOSED and breaker.allow()

    breaker.failed(5)
    assert breaker.state == OPEN and not breaker.allow() and breaker.is_open()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.state == HALF_OPEN and not breaker.is_open()
    assert breaker.allow(), "one trial"
    assert not breaker.allow(), "only one, while it runs"
    breaker.failed(5)
    clock.now += 5.1
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state == CLOSED and breaker.allow() and breaker.trips == 2


def test_a_trial_that_never_reports_does_not_wedge_the_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock)
    breaker.failed(5)
    clock.now += 5.1
    assert breaker.allow()  # a trial that found its answer elsewhere and never called
    clock.now += 5.1
    assert breaker.allow(), "another trial, one period later"


def test_a_breaker_of_zero_seconds_never_opens() -> None:
    breaker = CircuitBreaker()
    breaker.failed(0)
    assert breaker.state == CLOSED and breaker.allow()


# The cache breaker.


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The default service's cache breaker, on a clock the test moves."""
    clock = Clock()
    monkeypatch.setattr(pipes, "cache_breaker", CircuitBreaker(clock))
    return clock


def test_a_cache_that_is_down_costs_one_call_per_period_not_one_per_tag(
    ann_client: Client,
    flaky_cache: type[test_caches.FlakyCache],
    workos: responses.RequestsMock,
    clock: Clock,
) -> None:
    assert statuses(ann_client) == ["active"] * 10
    test_caches.Calls.take()
    calls_to(workos)
    flaky_cache.down = True

    assert statuses(ann_client) == ["active"] * 10  # straight from WorkOS
    assert test_caches.Calls.take() == {"get_many": 1}, "one cache call, then the breaker"
    assert calls_to(workos) == 10
    assert pipes.cache_breaker.state == OPEN

    assert statuses(ann_client) == ["active"] * 10
    assert test_caches.Calls.take() == {}, "the cache is skipped for the period"

    clock.now += PERIOD * 1.2
    assert statuses(ann_client) == ["active"] * 10
    assert test_caches.Calls.take() == {"get_many": 1}, "one trial per period"
    assert pipes.cache_breaker.state == OPEN

    flaky_cache.down = False
    clock.now += PERIOD * 1.2
    assert statuses(ann_client) == ["active"] * 10
    assert pipes.cache_breaker.state == CLOSED, "recovered by itself"
    calls_to(workos)
    assert statuses(ann_client) == ["active"] * 10
    assert calls_to(workos) == 0, "cached again"


def test_ten_stacked_decorators_cost_one_cache_call_with_the_cache_down(
    ann_client: Client,
    flaky_cache: type[test_caches.FlakyCache],
    workos: responses.RequestsMock,
    clock: Clock,
) -> None:
    flaky_cache.down = True
    response = ann_client.get("/ten/")
    assert response.status_code == 200
    assert response.content.decode() == ",".join(sorted(PROVIDERS))
    assert test_caches.Calls.take() == {"get_many": 1}
    assert calls_to(workos) == 10


def test_invalidations_are_not_stored_while_the_cache_breaker_is_open(
    flaky_cache: type[test_caches.FlakyCache], workos: responses.RequestsMock, clock: Clock
) -> None:
    """Refused at once (False: not stored), and stored again once the cache is back."""
    flaky_cache.down = True
    assert pipes.invalidate("salesforce", user_id="user_ann") is False
    assert pipes.cache_breaker.state == OPEN
    assert pipes.invalidate("salesforce", user_id="user_ann") is False
    flaky_cache.down = False
    clock.now += PERIOD * 1.2
    assert pipes.invalidate("salesforce", user_id="user_ann") is True


# The WorkOS breaker.


@pytest.mark.parametrize(
    "failure",
    [503, requests.exceptions.ReadTimeout("timed out"), requests.exceptions.ConnectionError()],
    ids=["503", "timeout", "refused"],
)
def test_workos_down_costs_a_page_of_ten_tags_one_call(
    ann_client: Client,
    workos: responses.RequestsMock,
    failure: Any,
) -> None:
    fail_workos(workos, failure)
    assert statuses(ann_client) == ["unknown"] * 10
    assert calls_to(workos) == 1, "no retries from a tag, and the breaker answers the rest"
    assert pipes.workos_breaker.state == OPEN
    assert WORKOS_DOWN in caches["default"].get_many([WORKOS_DOWN])

    assert statuses(ann_client) == ["unknown"] * 10
    assert calls_to(workos) == 0


def test_another_process_learns_of_the_outage_through_the_cache(
    ann_client: Client,
    workos: responses.RequestsMock,
) -> None:
    fail_workos(workos, 503)
    assert statuses(ann_client) == ["unknown"] * 10
    calls_to(workos)
    other_process = PipesService()
    assert other_process.workos_breaker.state == CLOSED
    with pytest.raises(PipesUnavailable, match="circuit breaker"):
        other_process.get_access_token("provider-0", user_id="user_someone_else")
    assert calls_to(workos) == 0


def test_the_breaker_serves_cached_tokens_and_recovers_by_itself(
    client: Client,
    ann: User,
    flaky_cache: type[test_caches.FlakyCache],
    workos: responses.RequestsMock,
) -> None:
    with (
        override_settings(WORKOS_PIPES=settings(TOKEN_TTL=0.05, WORKOS_BREAKER_SECONDS=SHORT)),
        time_machine.travel(time.time()) as clock,
    ):
        assert statuses(client) == ["active"] * 10
        calls_to(workos)
        clock.shift(0.1)  # every token is due for a refresh, and none has expired
        fail_workos(workos, 503)
        assert statuses(client) == ["active"] * 10, "stale-if-error, for every tag"
        assert calls_to(workos) == 1

        for provider in PROVIDERS:
            workos.replace(
                responses.POST, token_url(provider), json=token_answer(f"ya29.{provider}-2")
            )
        time.sleep(SHORT)  # this process's breaker counts real (monotonic) time
        clock.shift(1)  # the shared key lives whole seconds, as cache timeouts do
        assert statuses(client) == ["active"] * 10
        assert calls_to(workos) == 10, "closed after the first success: every tag refreshed"
        assert pipes.workos_breaker.state == CLOSED


def test_stacked_decorators_pay_one_request_s_retries_not_ten(
    ann_client: Client,
    workos: responses.RequestsMock,
) -> None:
    fail_workos(workos, 503)
    assert ann_client.get("/ten/").status_code == 503
    assert calls_to(workos) == 3, "1 + MAX_RETRIES for the outermost, then the 503 page"
    assert ann_client.get("/ten/").status_code == 503
    assert calls_to(workos) == 0


def test_a_refusal_is_an_answer_and_does_not_open_the_breaker(
    ann_client: Client,
    workos: responses.RequestsMock,
) -> None:
    fail_workos(workos, 401)
    assert statuses(ann_client) == ["unknown"] * 10
    assert calls_to(workos) == 10
    assert pipes.workos_breaker.state == CLOSED


def test_zero_seconds_turns_the_workos_breaker_off(
    ann_client: Client,
    workos: responses.RequestsMock,
) -> None:
    fail_workos(workos, 503)
    with override_settings(WORKOS_PIPES=settings(WORKOS_BREAKER_SECONDS=0)):
        assert statuses(ann_client) == ["unknown"] * 10
        assert calls_to(workos) == 10
        assert pipes.workos_breaker.state == CLOSED
        assert caches["default"].get(WORKOS_DOWN) is None


def test_a_settings_change_closes_the_breakers(
    flaky_cache: type[test_caches.FlakyCache], workos: responses.RequestsMock
) -> None:
    fail_workos(workos, 503)
    with pytest.raises(PipesUnavailable):
        pipes.get_access_token("provider-0", user_id="user_ann")
    assert pipes.workos_breaker.state == OPEN
    with override_settings(WORKOS_PIPES=settings(TIMEOUT=1)):
        pipes.cache  # the next use of the service
        assert pipes.workos_breaker.state == CLOSED


def test_a_fake_s_outage_stays_with_its_connection() -> None:
    """No breaker with a test double: PipesFake declares outages per connection."""
    with PipesFake().installed() as fake:
        fake.unavailable("salesforce", user_id="user_ann")
        fake.connect("hubspot", user_id="user_ann")
        with pytest.raises(PipesUnavailable):
            pipes.get_access_token("salesforce", user_id="user_ann")
        assert pipes.get_access_token("hubspot", user_id="user_ann").active
        assert pipes.workos_breaker.state == CLOSED
