"""Foreign values in the cache are misses: never a 500, never served as a token (issue 10).

Another version of the package, another app sharing the cache and its key prefix, a bad
deploy or a hand-edited Redis can leave anything under the service's keys. Each value
here is written straight into the cache under the real key; the service must then ask
WorkOS (stubbed with ``responses``) or serve only what this version could have written.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import responses
from django.core.cache import caches
from django.test import Client, override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_workos_pipes import pipes
from django_workos_pipes.caching.entries import Entry
from django_workos_pipes.caching.keys import CacheKeys
from django_workos_pipes.exceptions import PipesAPIError, PipesUnavailable
from django_workos_pipes.results import AccessToken, TokenResult
from tests.builders import token_answer
from tests.settings import API_KEY
from tests.stubs import token_url

FRESH = "ya29.fresh-from-workos"
KEYS = CacheKeys.build("salesforce", "user_1", None)
NOW = time.time()
LATER = NOW + 3000
UGEN, OGEN, FETCH = 1234567, 7654321, 42  # the generations in the cache, a fetch id


def entry(fetched: Any, fresh_until: Any, *body: Any) -> tuple[Any, ...]:
    """An entry's tuple: the head (generations, fresh until, fetch id), then ``body``.
    A ``fetched`` other than NOW stands for a foreign user generation."""
    return (UGEN if fetched is NOW else fetched, OGEN, fresh_until, FETCH, *body)


SETTINGS = {
    "API_KEY": API_KEY,
    "MAX_RETRIES": 0,
    "LOCK_TIMEOUT": 0.05,
    "USER_ID_RESOLVER": lambda request: "user_1",
    "ORGANIZATION_ID_RESOLVER": lambda request: None,
}


@pytest.fixture(autouse=True)
def _settings() -> Iterator[None]:
    with override_settings(WORKOS_PIPES=SETTINGS):
        yield


def read_with(values: dict[str, Any]) -> tuple[TokenResult, int]:
    """Write ``values`` under their keys, then ask the service: (result, WorkOS calls)."""
    cache = caches["default"]
    cache.delete_many([KEYS.token, KEYS.lock, KEYS.failure])
    cache.set_many({KEYS.user_generation: UGEN, KEYS.org_generation: OGEN, **values})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as workos:
        workos.post(token_url("salesforce"), json=token_answer(FRESH, expires_at=None))
        try:
            result = pipes.get_access_token("salesforce", user_id="user_1")
        except (PipesUnavailable, PipesAPIError):  # allowed, though WorkOS answers here
            pytest.fail("WorkOS answered, yet the service raised")
        return result, len(workos.calls)


def assert_proper(result: TokenResult) -> None:
    """A result that could have come from WorkOS."""
    assert isinstance(result, TokenResult)
    token = result.access_token
    if result.active:
        assert isinstance(token, AccessToken) and result.error is None
        assert isinstance(token.access_token, str) and token.access_token
        assert token.expires_at is None or (
            isinstance(token.expires_at, datetime) and token.expires_at.tzinfo is not None
        )
        for scopes in (token.scopes, token.missing_scopes):
            assert isinstance(scopes, tuple) and all(isinstance(s, str) for s in scopes)
    else:
        assert token is None and isinstance(result.error, str) and result.error


def written_by_this_version(value: Any) -> bool:
    """True when ``value`` is exactly what ``Entry.encode`` writes for some entry."""
    entry = Entry.decode(value)
    if entry is None:
        return False
    encoded = entry.encode()
    if len(encoded) != len(value) or type(value) is not tuple:
        return False
    for ours, theirs in zip(encoded, value):
        if isinstance(ours, float) and isinstance(theirs, (int, float)):
            if not math.isclose(ours, theirs, abs_tol=1e-5):
                return False
        elif ours != theirs or type(ours) is not type(theirs):
            return False
    return True


def assert_miss_or_proper(values: dict[str, Any]) -> None:
    result, calls = read_with(values)
    if calls == 1:
        assert result.access_token is not None and result.access_token.access_token == FRESH
        return
    assert calls == 0
    assert_proper(result)
    assert written_by_this_version(values[KEYS.token]), (values, result)


# The shapes the outsider's tour tried, and the one that was served as an active token.

VALID_TOKEN = entry(NOW, LATER, None, "ya29.cached", None, ("api",), ())
FOREIGN_ENTRIES = {
    "no token (served as an active token)": entry(NOW, LATER, None, None, None, (), ()),
    "empty token": entry(NOW, LATER, None, "", None, (), ()),
    "bytes token": entry(NOW, LATER, None, b"ya29.bytes", None, (), ()),
    "int token": entry(NOW, LATER, None, 42, None, (), ()),
    "an error and a token": entry(NOW, LATER, "not_installed", "ya29.x", None, (), ()),
    "inactive without an error": entry(NOW, LATER, None),
    "inactive with an empty error": entry(NOW, LATER, ""),
    "inactive with a bytes error": entry(NOW, LATER, b"not_installed"),
    "string user generation": entry("yesterday", LATER, "not_installed"),
    "string fresh_until": entry(NOW, "later", "not_installed"),
    "None generation and fresh_until": entry(None, None, "not_installed"),
    "bool generation and fresh_until": entry(True, True, "not_installed"),
    "NaN user generation": entry(math.nan, LATER, None, "ya29.x", None, (), ()),
    "inf user generation": entry(math.inf, LATER, None, "ya29.x", None, (), ()),
    "NaN fresh_until": entry(NOW, math.nan, None, "ya29.x", None, (), ()),
    "inf fresh_until": entry(NOW, math.inf, None, "ya29.x", None, (), ()),
    "huge user generation": entry(10**400, LATER, "not_installed"),
    "huge fresh_until": entry(NOW, 10**400, "not_installed"),
    "NaN expiry": entry(NOW, LATER, None, "ya29.x", math.nan, (), ()),
    "inf expiry": entry(NOW, LATER, None, "ya29.x", math.inf, (), ()),
    "huge expiry": entry(NOW, LATER, None, "ya29.x", 10**400, (), ()),
    "string expiry": entry(NOW, LATER, None, "ya29.x", "2031-01-01", (), ()),
    "scopes as a string": entry(NOW, LATER, None, "ya29.x", None, "api", ()),
    "scopes as a list": entry(NOW, LATER, None, "ya29.x", None, ["api"], []),
    "nested scopes": entry(NOW, LATER, None, "ya29.x", None, (("api",),), ()),
    "bytes scopes": entry(NOW, LATER, None, "ya29.x", None, (b"api",), ()),
    "missing scopes as an int": entry(NOW, LATER, None, "ya29.x", None, (), 3),
    "a dict in the token": entry(NOW, LATER, None, {"token": "ya29.x"}, None, (), ()),
    "too short": entry(NOW, LATER),
    "length 4": entry(NOW, LATER, None, "ya29.x"),
    "length 8": (*VALID_TOKEN, None),
    "empty tuple": (),
    "a list": list(VALID_TOKEN),
    "a dict": {"access_token": "ya29.x"},
    "bytes": b"\x80\x04junk",
    "a string": "ya29.x",
    "an int": 10**400,
    "NaN": math.nan,
    "None": None,
}


def test_the_entry_this_version_writes_is_served() -> None:
    """The control: with the same generations in the cache, VALID_TOKEN is a hit."""
    result, calls = read_with({KEYS.token: VALID_TOKEN})
    assert calls == 0
    assert result.access_token is not None and result.access_token.access_token == "ya29.cached"


@pytest.mark.parametrize("value", FOREIGN_ENTRIES.values(), ids=FOREIGN_ENTRIES.keys())
def test_a_foreign_entry_is_a_miss(value: Any) -> None:
    result, calls = read_with({KEYS.token: value})
    assert calls == 1
    assert result.access_token is not None and result.access_token.access_token == FRESH


FOREIGN_MARKERS = {  # under the generation keys
    "huge": 10**400,
    "string": "yesterday",
    "bytes": b"1",
    "NaN": math.nan,
    "tuple": (NOW,),
    "list": [NOW],
    "None": None,
}


@pytest.mark.parametrize("marker", [KEYS.user_generation, KEYS.org_generation], ids=["user", "org"])
@pytest.mark.parametrize("value", FOREIGN_MARKERS.values(), ids=FOREIGN_MARKERS.keys())
def test_a_foreign_generation_gives_no_500(marker: str, value: Any) -> None:
    assert_miss_or_proper({KEYS.token: VALID_TOKEN, marker: value})


@pytest.mark.parametrize("value", FOREIGN_MARKERS.values(), ids=FOREIGN_MARKERS.keys())
def test_a_foreign_failure_marker_while_a_lock_is_held_gives_no_500(value: Any) -> None:
    result, calls = read_with({KEYS.lock: "someone", KEYS.failure: value})
    assert calls == 1 and result.active


# Generated junk.


def replaced(value: tuple[Any, ...], index: int, part: Any) -> tuple[Any, ...]:
    return (*value[:index], part, *value[index + 1 :])


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**400), 2**63, 2**64])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
junk = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=8).map(tuple)
        | st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        | st.frozensets(st.integers() | st.text(max_size=5), max_size=3)
    ),
    max_leaves=20,
)
timestamps = st.floats(min_value=NOW - 10, max_value=NOW + 3000) | scalars
strings = st.text(min_size=1, max_size=20) | scalars
valid_scopes = st.lists(st.text(max_size=10), max_size=3).map(tuple)
generations = st.sampled_from([UGEN]) | scalars
near_misses = (
    st.tuples(generations, st.just(OGEN) | scalars, timestamps, st.just(FETCH) | scalars, strings)
    | st.tuples(
        generations,
        st.just(OGEN) | scalars,
        timestamps,
        st.just(FETCH) | scalars,
        st.none() | strings,
        strings,
        st.none() | timestamps | st.floats(),
        valid_scopes | junk,
        valid_scopes | junk,
    )
    | st.tuples(st.integers(0, 8), junk).map(lambda change: replaced(VALID_TOKEN, *change))
)
markers = st.none() | scalars | st.floats(min_value=NOW - 100, max_value=NOW + 100)

JUNK_SETTINGS = hypothesis_settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@JUNK_SETTINGS
@given(value=junk | near_misses, user_marker=markers, org_marker=markers)
def test_any_value_under_the_keys_is_a_miss_or_a_proper_answer(
    value: Any, user_marker: Any, org_marker: Any
) -> None:
    values = {KEYS.token: value}
    for key, marker in ((KEYS.user_generation, user_marker), (KEYS.org_generation, org_marker)):
        if marker is not None:
            values[key] = marker
    assert_miss_or_proper(values)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=junk | near_misses, page=st.sampled_from(["/sync/", "/status/?provider=salesforce"]))
def test_no_foreign_value_makes_a_page_fail(value: Any, page: str) -> None:
    cache = caches["default"]
    cache.set(KEYS.token, value)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as workos:
        workos.post(token_url("salesforce"), json=token_answer(FRESH, expires_at=None))
        response = Client(raise_request_exception=False).get(page)
    cache.delete(KEYS.token)
    assert response.status_code in (200, 302), response.status_code
