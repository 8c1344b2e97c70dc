"""Masking: tokens, keys and ids show only their first few characters in logs and reprs."""

from __future__ import annotations

import pytest

from django_workos_pipes.masking import mask, mask_id


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("ya29.a0AfH6SMBxyz-secret", "ya29\u2026"),
        ("sk_test_abcdefghij", "sk_t\u2026"),
        ("short", "\u2026"),
        ("", "\u2026"),
        (None, "\u2026"),
    ],
)
def test_mask(value: str | None, masked: str) -> None:
    assert mask(value) == masked


def test_mask_id_keeps_the_prefix_only() -> None:
    assert mask_id("user_01HXYZABCDEFG") == "user_01HX\u2026"
    assert mask_id(None) == "-"
