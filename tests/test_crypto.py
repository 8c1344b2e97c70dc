"""Tokens encrypted at rest: sealed in the cache, bound to their key, keys rotated.

WorkOS is stubbed at the HTTP boundary (``responses``); the cache is the locmem cache
(whose raw pickled values the tests read) or the real Redis server, read raw with
``SCAN`` and ``GET`` as ``redis-cli`` would.
"""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.conf import settings
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, override_settings

from django_workos_pipes import pipes
from django_workos_pipes.caching import crypto
from django_workos_pipes.caching.keys import CacheKeys
from django_workos_pipes.checks import check_encryption, check_settings
from django_workos_pipes.exceptions import PipesConfigurationError
from tests.builders import token_answer
from tests.stubs import stub_token

TOKEN = "ya29.ann-secret-salesforce-token"
BOB_TOKEN = "ya29.bob-secret-salesforce-token"
KEY_A = crypto.generate_key()
KEY_B = crypto.generate_key()
REDIS_BACKEND = "django.core.cache.backends.redis.RedisCache"


def keys_setting(*keys: Any) -> Any:
    return override_settings(WORKOS_PIPES={**settings.WORKOS_PIPES, "ENCRYPTION_KEYS": list(keys)})


def ann_token() -> str:
    result = pipes.get_access_token("salesforce", user_id="user_ann")
    assert result.access_token is not None
    return result.access_token.access_token


def token_key(user_id: str = "user_ann") -> str:
    return CacheKeys.build("salesforce", user_id, None).token


def raw_locmem() -> bytes:
    """Every value of the locmem cache as it is held: pickled bytes."""
    cache = caches["default"]
    return b"".join(cache._cache.values())  # type: ignore[attr-defined]


@pytest.fixture
def encrypted() -> Iterator[None]:
    with keys_setting(KEY_A):
        yield


# Keys.


def test_a_generated_key_is_32_random_bytes_in_url_safe_base64() -> None:
    key = crypto.generate_key()
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != crypto.generate_key()
    assert crypto.decode_key(key) == base64.urlsafe_b64decode(key)


def test_keys_in_standard_base64_or_without_padding_are_accepted() -> None:
    raw = bytes(range(200, 232))  # encodes with '+', '/' or '-', '_'
    for text in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        assert crypto.decode_key(text) == raw
        assert crypto.decode_key(text.rstrip("=")) == raw


@pytest.mark.parametrize(
    "value",
    ["", "not a key", KEY_A[:-4], KEY_A + "AAAA", KEY_A[:-2] + "!=", b"x" * 44, 32, None],
    ids=["empty", "words", "short", "long", "not-base64", "bytes", "int", "none"],
)
def test_anything_but_a_32_byte_key_is_refused(value: Any) -> None:
    assert crypto.decode_key(value) is None


def test_the_command_prints_a_fresh_key() -> None:
    printed = []
    for _ in range(2):
        out = io.StringIO()
        call_command("workos_pipes_generate_key", stdout=out)
        printed.append(out.getvalue().strip())
    assert all(crypto.decode_key(key) for key in printed)
    assert printed[0] != printed[1]


# Sealing.


def test_the_cached_token_is_encrypted_and_still_served(
    encrypted: None, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id="user_ann")
    assert ann_token() == TOKEN
    assert ann_token() == TOKEN
    assert len(workos_stub.calls) == 1  # the second was a hit
    raw = raw_locmem()
    assert raw and TOKEN.encode() not in raw and b"api" not in raw
    stored = caches["default"].get(token_key())
    assert isinstance(stored, bytes) and stored[:1] == crypto.VERSION


def test_without_keys_the_token_is_stored_as_before(workos_stub: responses.RequestsMock) -> None:
    """The control of the test above: the raw read does find a plain token."""
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id="user_ann")
    assert ann_token() == TOKEN
    assert TOKEN.encode() in raw_locmem()


def test_an_entry_copied_under_another_users_key_does_not_open(
    encrypted: None, workos_stub: responses.RequestsMock
) -> None:
    """Bob's key holding Ann's sealed entry is a miss: Bob gets his own token. Ann's entry
    was just opened (and memoised) in this process, so the memo must be keyed by the
    cache key too."""
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id="user_ann")
    stub_token(workos_stub, "salesforce", token_answer(BOB_TOKEN), user_id="user_bob")
    cache = caches["default"]
    assert ann_token() == TOKEN
    cache.set(token_key("user_bob"), cache.get(token_key()), 600)
    bob = pipes.get_access_token("salesforce", user_id="user_bob")
    assert bob.access_token is not None and bob.access_token.access_token == BOB_TOKEN


@pytest.mark.parametrize("position", [0, 5, 20, -1], ids=["version", "nonce", "body", "tag"])
def test_an_altered_entry_is_a_miss(
    encrypted: None, workos_stub: responses.RequestsMock, position: int
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id="user_ann")
    stub_token(workos_stub, "salesforce", token_answer(TOKEN + "-2"), user_id="user_ann")
    cache = caches["default"]
    assert ann_token() == TOKEN
    stored = bytearray(cache.get(token_key()))
    stored[position] ^= 0x01
    cache.set(token_key(), bytes(stored), 600)
    assert ann_token() == TOKEN + "-2"


def test_turning_encryption_on_or_off_reads_the_other_kind_as_a_miss(
    workos_stub: responses.RequestsMock,
) -> None:
    for n in range(3):
        stub_token(workos_stub, "salesforce", token_answer(f"{TOKEN}-{n}"), user_id="user_ann")
    assert ann_token() == f"{TOKEN}-0"
    with keys_setting(KEY_A):
        assert ann_token() == f"{TOKEN}-1"  # the plain entry is not trusted, and replaced
        assert f"{TOKEN}-1".encode() not in raw_locmem()
    assert ann_token() == f"{TOKEN}-2"


def test_an_inactive_answer_is_sealed_too(
    encrypted: None, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", {"active": False, "error": "not_installed"})
    for _ in range(2):
        assert pipes.get_access_token("salesforce", user_id="user_ann").error == "not_installed"
    assert b"not_installed" not in raw_locmem()


def test_hits_open_the_entry_once(encrypted: None, workos_stub: responses.RequestsMock) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id="user_ann")
    ann_token()  # a miss, fetched and sealed
    ann_token()  # the first hit opens it
    ring = crypto.keyring()
    assert ring is not None
    before = ring.unseal.cache_info()  # type: ignore[attr-defined]
    for _ in range(10):
        ann_token()
    after = ring.unseal.cache_info()  # type: ignore[attr-defined]
    assert (after.hits - before.hits, after.misses - before.misses) == (10, 0)


# Rotation.


def test_rotation_old_entries_open_until_their_key_is_removed(
    workos_stub: responses.RequestsMock,
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id="user_ann")
    stub_token(workos_stub, "salesforce", token_answer(BOB_TOKEN), user_id="user_bob")
    stub_token(workos_stub, "salesforce", token_answer(TOKEN + "-new"), user_id="user_ann")
    with keys_setting(KEY_A):
        assert ann_token() == TOKEN
    with keys_setting(KEY_B, KEY_A):
        assert ann_token() == TOKEN  # sealed with A, opened with A: no call to WorkOS
        pipes.get_access_token("salesforce", user_id="user_bob")  # sealed with B
    with keys_setting(KEY_B):
        bob = pipes.get_access_token("salesforce", user_id="user_bob")
        assert bob.access_token is not None and bob.access_token.access_token == BOB_TOKEN
        assert ann_token() == TOKEN + "-new"  # A is gone: a miss, fetched again


@pytest.mark.django_db
def test_an_entry_no_key_opens_is_a_miss_for_a_view_not_a_500(
    client: Client, ann: Any, stub_resolver: None, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id="user_ann")
    stub_token(workos_stub, "salesforce", token_answer(TOKEN + "-new"), user_id="user_ann")
    with keys_setting(KEY_A):
        assert client.get("/sync/").json() == {"salesforce": TOKEN}
    with keys_setting(KEY_B):
        response = client.get("/sync/")
    assert response.status_code == 200
    assert response.json() == {"salesforce": TOKEN + "-new"}


# Configuration errors.


def test_a_malformed_key_is_a_check_error_that_names_the_setting_not_the_key() -> None:
    bad = "secret-looking-but-malformed-key-value"
    with keys_setting(KEY_A, bad):
        errors = [m for m in check_settings() if m.id == "workos_pipes.E010"]
        assert len(errors) == 1
        assert "Key #2 of WORKOS_PIPES['ENCRYPTION_KEYS']" in errors[0].msg
        assert bad not in errors[0].msg and KEY_A not in errors[0].msg
        with pytest.raises(SystemCheckError, match=r"workos_pipes\.E010") as raised:
            call_command("check")
        assert bad not in str(raised.value)


def test_a_malformed_key_raises_on_use_and_is_not_taken_for_a_cache_outage(
    workos_stub: responses.RequestsMock,
) -> None:
    with keys_setting("not-a-key"):
        with pytest.raises(PipesConfigurationError, match=r"ENCRYPTION_KEYS") as raised:
            pipes.get_access_token("salesforce", user_id="user_ann")
    assert "not-a-key" not in str(raised.value)


def test_keys_from_the_environment_and_errors_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKOS_PIPES_ENCRYPTION_KEYS", f"{KEY_B}, {KEY_A}")
    with override_settings(WORKOS_PIPES={"API_KEY": "sk_test_x"}):
        assert crypto.configured_keys() == (crypto.decode_key(KEY_B), crypto.decode_key(KEY_A))
        monkeypatch.setenv("WORKOS_PIPES_ENCRYPTION_KEYS", f"{KEY_B},short")
        with pytest.raises(PipesConfigurationError) as raised:
            crypto.configured_keys()
    assert str(raised.value).startswith(
        "Key #2 of the WORKOS_PIPES_ENCRYPTION_KEYS environment variable"
    )


@pytest.mark.parametrize("value", [42, [KEY_A, 7], {"key": KEY_A}])
def test_a_setting_that_is_not_a_list_of_strings_is_an_error(value: Any) -> None:
    with override_settings(WORKOS_PIPES={**settings.WORKOS_PIPES, "ENCRYPTION_KEYS": value}):
        errors = [m for m in check_settings() if m.id == "workos_pipes.E010"]
        assert len(errors) == 1 and "must be a list of keys" in errors[0].msg
        assert KEY_A not in errors[0].msg


def test_keys_without_the_cryptography_package_are_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    with keys_setting(KEY_A):
        (error,) = [m for m in check_settings() if m.id == "workos_pipes.E010"]
    assert "pip install 'django-workos-pipes[encryption]'" in error.msg


# The deploy check.


def deploy_check_output(**overrides: Any) -> str:
    """``check --deploy`` of the security tag, where W010 is registered (other tags'
    deploy checks, e.g. Django 6.1's development mail backend, are not this test's)."""
    err = io.StringIO()
    with override_settings(**overrides):
        call_command("check", "--deploy", "--tag", "security", stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_deploy_check_warns_of_a_shared_cache_without_keys() -> None:
    shared = {"default": {"BACKEND": REDIS_BACKEND, "LOCATION": "redis://127.0.0.1:9/0"}}
    output = deploy_check_output(CACHES=shared)
    assert "workos_pipes.W010" in output
    assert "HINT: pip install 'django-workos-pipes[encryption]'" in output
    with keys_setting(KEY_A):
        assert "workos_pipes.W010" not in deploy_check_output(CACHES=shared)
    assert "workos_pipes.W010" not in deploy_check_output()  # locmem: nothing shared


def test_the_encryption_warning_is_for_deployment_only() -> None:
    shared = {"default": {"BACKEND": REDIS_BACKEND, "LOCATION": "redis://127.0.0.1:9/0"}}
    with override_settings(CACHES=shared):
        assert [m.id for m in check_encryption()] == ["workos_pipes.W010"]
        call_command("check", stdout=io.StringIO(), stderr=(err := io.StringIO()))
    assert "W010" not in err.getvalue()


# The raw Redis server.


def raw_redis(url: str, prefix: str) -> dict[bytes, bytes]:
    """What ``redis-cli --scan --pattern 'PREFIX:*'`` and ``GET`` show."""
    import redis

    client = redis.Redis.from_url(url)
    return {key: client.get(key) or b"" for key in client.scan_iter(f"{prefix}:*")}


@pytest.mark.redis
@pytest.mark.parametrize("keys", [(), (KEY_A,)], ids=["plain", "encrypted"])
def test_no_token_readable_in_the_raw_redis_server(
    redis_url: str, redis_cache: str, workos_stub: responses.RequestsMock, keys: tuple[str, ...]
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id="user_ann")
    stub_token(workos_stub, "salesforce", token_answer(BOB_TOKEN), user_id="user_bob")
    with keys_setting(*keys):
        assert ann_token() == TOKEN
        pipes.get_access_token("salesforce", user_id="user_bob")
        assert ann_token() == TOKEN
    raw = raw_redis(redis_url, redis_cache)
    dump = b"\n".join([*raw, *raw.values()])
    assert len([key for key in raw if b":t:" in key]) == 2  # and their generations
    found = [token for token in (TOKEN, BOB_TOKEN) if token.encode() in dump]
    assert found == ([] if keys else [TOKEN, BOB_TOKEN])
