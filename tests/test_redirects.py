"""Where a missing connection is sent: the connect and reauthorize URLs, from their settings."""

from __future__ import annotations

from typing import Any

import pytest

from django_workos_pipes.exceptions import PipesConfigurationError
from django_workos_pipes.redirects import connect_url, reauthorize_url


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("/connections/", "/connections/?next=/here/"),
        ("/connections/{provider}/", "/connections/sales%20force/?next=/here/"),
        ("/c/?source=app&next=/old/", "/c/?source=app&next=/here/"),
        (
            "https://app.example.com/c/{provider}?a=1",
            "https://app.example.com/c/sales%20force?a=1&next=/here/",
        ),
        ("connections", "/connections/?next=/here/"),
        ("connection", "/connections/sales%20force/?next=/here/"),
        ("workos_pipes:connect", "/pipes/connect/sales%20force/?next=/here/"),
    ],
)
def test_connect_url_forms(settings: Any, setting: str, expected: str) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "CONNECT_URL": setting}
    assert connect_url("sales force", "/here/") == expected


def test_reauthorize_url_follows_its_own_setting(settings: Any) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "REAUTHORIZE_URL": "/fix/{provider}/"}
    assert reauthorize_url("jira", "/x/?y=1") == "/fix/jira/?next=/x/%3Fy%3D1"
    assert connect_url("jira") == "/pipes/connect/jira/"


def test_an_unknown_url_name_names_the_setting(settings: Any) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "CONNECT_URL": "no-such-route"}
    with pytest.raises(PipesConfigurationError, match=r"WORKOS_PIPES\['CONNECT_URL'\]"):
        connect_url("jira", "/")
