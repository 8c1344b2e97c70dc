"""Webhook signatures: real HMAC, checked against the official ``workos`` SDK both ways."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
from workos import WorkOSClient

from django_workos_pipes import signatures
from django_workos_pipes.signatures import SignatureError, compute_digest, parse_header, verify
from django_workos_pipes.testing import sign_webhook
from tests.builders import sdk_signature, signature_at, webhook_event

SECRET = "whsec_test_signatures_0123456789"
OLD, NEW, OTHER = "whsec_old_secret_aaaa", "whsec_new_secret_bbbb", "whsec_other_secret_cccc"
NOW = 1_900_000_000.0
BODY = json.dumps(webhook_event("disconnected", "salesforce", "user_01ABC")).encode()


def test_sign_has_the_wire_format() -> None:
    header = sign_webhook(BODY, SECRET, timestamp=NOW)
    assert re.fullmatch(r"t=\d{13}, v1=[0-9a-f]{64}", header)
    assert header.startswith(f"t={int(NOW * 1000)}, ")


def test_the_official_sdk_accepts_our_signatures(workos_sdk: WorkOSClient) -> None:
    header = sign_webhook(BODY, SECRET)
    workos_sdk.webhooks.verify_header(event_body=BODY, event_signature=header, secret=SECRET)
    with pytest.raises(ValueError, match="does not match"):
        workos_sdk.webhooks.verify_header(event_body=BODY, event_signature=header, secret=OTHER)
    with pytest.raises(ValueError, match="does not match"):
        workos_sdk.webhooks.verify_header(
            event_body=BODY + b" ", event_signature=header, secret=SECRET
        )


def test_the_official_sdk_parses_our_pipes_events(workos_sdk: WorkOSClient) -> None:
    for name in ("connected", "disconnected", "reauthorization_needed", "connection_failed"):
        body = json.dumps(webhook_event(name, "hubspot", None, "org_01XYZ")).encode()
        header = sign_webhook(body, SECRET)
        event = workos_sdk.webhooks.verify_event(
            event_body=body, event_signature=header, secret=SECRET
        )
        assert event is not None


def test_we_accept_what_the_official_sdk_computes() -> None:
    header = sdk_signature(BODY, SECRET, int(NOW * 1000))
    verify(BODY, header, [SECRET], now=NOW)


def test_digest_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000000." + BODY, hashlib.sha256).hexdigest()
    assert compute_digest("1700000000000", BODY, SECRET) == expected


def test_rotation_accepts_every_configured_secret_and_nothing_else() -> None:
    for secret in (OLD, NEW):
        verify(BODY, sign_webhook(BODY, secret, NOW), [OLD, NEW], now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify(BODY, sign_webhook(BODY, OTHER, NOW), [OLD, NEW], now=NOW)


def test_several_v1_digests_are_each_tried() -> None:
    stamp = str(int(NOW * 1000))
    header = f"t={stamp}, v1={'0' * 64}, v1={compute_digest(stamp, BODY, SECRET)}"
    verify(BODY, header, [SECRET], now=NOW)


@pytest.mark.parametrize(
    ("offset_ms", "accepted"),
    [
        (-180_000, True),
        (-180_001, False),
        (180_000, True),
        (180_001, False),
        (0, True),
        (-86_400_000, False),
    ],
)
def test_tolerance_applies_to_past_and_future_timestamps(offset_ms: int, accepted: bool) -> None:
    header = signature_at(BODY, int(NOW * 1000) + offset_ms, SECRET)
    if accepted:
        verify(BODY, header, [SECRET], tolerance=180, now=NOW)
    else:
        with pytest.raises(SignatureError, match="tolerance"):
            verify(BODY, header, [SECRET], tolerance=180, now=NOW)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("garbage", "malformed"),
        ("t=, v1=abc", "malformed"),
        ("t=17000000000x0, v1=abc", "malformed"),
        ("t=-1700000000000, v1=abc", "malformed"),
        ("t=1.7e12, v1=abc", "malformed"),
        ("t=\u0661\u0662\u0663, v1=abc", "malformed"),  # Arabic-Indic digits
        ("t=1700000000000", "malformed"),
        ("v1=abc", "malformed"),
        ("t=1700000000000, v0=abc", "malformed"),
        (f"t={'9' * 5000}, v1=abc", "too long"),
        (f"t={'9' * 17}, v1=abc", "malformed"),
        (f"t={'9' * 900}, v1=abc", "malformed"),
        ("t=1900000000000, " + "v1=ab, " * 200, "too long"),
    ],
)
def test_malformed_headers_raise_signature_error_only(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(BODY, header, [SECRET], now=NOW)


def test_wrong_digest_other_body_and_tampered_body_are_rejected() -> None:
    stamp = int(NOW * 1000)
    attempts = [
        (BODY, f"t={stamp}, v1={'a' * 64}"),
        (BODY, signature_at(b'{"object": "event"}', stamp, SECRET)),
        (BODY.replace(b"user_01ABC", b"user_01ABD"), signature_at(BODY, stamp, SECRET)),
        (BODY, signature_at(BODY, stamp, SECRET).replace(f"t={stamp}", f"t={stamp + 1}")),
        (BODY, signature_at(BODY, stamp, SECRET).upper().replace("T=", "t=").replace("V1", "v1")),
    ]
    for body, header in attempts:
        with pytest.raises(SignatureError, match="does not match"):
            verify(body, header, [SECRET], now=NOW)


def test_no_secret_matches_nothing() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(BODY, sign_webhook(BODY, SECRET, NOW), ["", ""], now=NOW)


def test_parse_header_tolerates_spacing_and_unknown_keys() -> None:
    assert parse_header("t=123,v1=ab") == ("123", ["ab"])
    assert parse_header(" t=123 ,  v1=ab , x=1, v1=cd") == ("123", ["ab", "cd"])


def test_the_header_name_matches_the_wire() -> None:
    assert signatures.HEADER == "WorkOS-Signature"
