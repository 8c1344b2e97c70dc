"""What a person reads: provider names instead of slugs, scopes that wrap whole, and the
small things of issue 13 (classifiers, the example's favicon)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import pytest
import responses
from django.template import Context, Template
from django.test import Client, RequestFactory

from django_workos_pipes.providers import provider_name
from django_workos_pipes.status import PipeStatus
from tests.builders import inactive_answer
from tests.stubs import stub_token

ROOT = Path(__file__).resolve().parent.parent
APP_BASE = ROOT / "django_workos_pipes" / "templates" / "workos_pipes" / "base.html"
SITE_CSS = ROOT / "example_project" / "demo" / "static" / "demo" / "site.css"


@pytest.mark.parametrize(
    ("slug", "name"),
    [
        ("salesforce", "Salesforce"),
        ("hubspot", "HubSpot"),
        ("github", "GitHub"),
        ("apollo-oauth", "Apollo"),
        ("my-crm", "My Crm"),
        ("zoho_books", "Zoho Books"),
    ],
)
def test_known_slugs_have_their_names_and_others_are_title_cased(slug: str, name: str) -> None:
    assert provider_name(slug) == name


def test_provider_names_setting_wins(settings: Any) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "PROVIDER_NAMES": {"my-crm": "MyCRM"}}
    assert provider_name("my-crm") == "MyCRM"
    assert PipeStatus.anonymous("my-crm").name == "MyCRM"
    page = Template('{% load workos_pipes %}{{ "my-crm"|pipe_provider_name }}').render(Context())
    assert page == "MyCRM"


@pytest.mark.django_db
@pytest.mark.usefixtures("stub_resolver")
def test_the_denied_page_names_the_provider(
    client: Client, ann: Any, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"))

    page = client.get("/sync/?error=access_denied").content.decode()

    assert "Salesforce is not connected" in page
    assert "salesforce is not connected" not in page


@pytest.mark.django_db
@pytest.mark.usefixtures("stub_resolver")
def test_the_unavailable_page_names_the_provider(
    client: Client, ann: Any, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "MAX_RETRIES": 0}
    stub_token(workos_stub, "hubspot", status=502)
    page = client.get("/stacked/").content.decode()  # hubspot is checked first
    assert "your HubSpot connection" in page


def chip_rules(css: str) -> list[str]:
    return re.findall(r"\.chip[\w.-]*\s*\{[^}]*\}", css)


def test_scopes_never_break_mid_word() -> None:
    pages = [APP_BASE, *APP_BASE.parent.glob("*.html"), SITE_CSS]
    rules = [rule for page in pages for rule in chip_rules(page.read_text())]
    assert len(rules) >= 4
    for rule in rules:
        assert "anywhere" not in rule and "break-all" not in rule, rule
    assert re.search(r"\.chip \{[^}]*white-space: nowrap", APP_BASE.read_text())
    assert re.search(r"\.chip \{[^}]*word-break: keep-all", SITE_CSS.read_text(), re.S)


def test_the_example_breaks_long_scopes_only_after_separators() -> None:
    from example_project.demo.templatetags.demo import scope_breaks

    assert scope_breaks("crm.objects.contacts.read") == "crm.<wbr>objects.<wbr>contacts.<wbr>read"
    assert scope_breaks("https://x.io/a") == "https://<wbr>x.<wbr>io/<wbr>a"
    assert scope_breaks("<b>") == "&lt;b&gt;"


def test_the_example_serves_a_favicon(rf: RequestFactory) -> None:
    from django.urls import resolve

    favicon = resolve("/favicon.ico", urlconf="example_project.urls").func

    response = favicon(rf.get("/favicon.ico"))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")


def test_django_classifiers_match_the_tox_matrix() -> None:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    classifiers = setup["metadata"]["classifiers"]
    declared = set(re.findall(r"Framework :: Django :: (\d+\.\d+)", classifiers))
    tox = Path(ROOT / "tox.ini").read_text()
    tested = {f"{m[0]}.{m[1:]}" for m in re.findall(r"django(\d\d): Django", tox)}
    assert declared == tested == {"4.2", "5.2", "6.0", "6.1"}
