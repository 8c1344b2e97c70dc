"""The README's Quick start, as a newcomer reads it: each snippet names its file and
holds no placeholder, and the template snippet renders as it says
(``tests/system/test_quickstart.py`` follows the whole Quick start in real processes)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.template import Context, Template
from django.test import RequestFactory

from tests.readme import code_blocks, section, snippets


def test_each_snippet_names_its_file_and_holds_no_placeholder() -> None:
    files = [name for name, _ in snippets()]
    assert files == ["settings.py", "views.py", "urls.py"]
    for _, code in snippets():
        assert "..." not in code and "…" not in code
        compile(code, "<readme>", "exec")


def test_the_install_line_brings_the_extra_the_cache_needs() -> None:
    (install, *_) = code_blocks(section("Quick start"), "console")
    assert 'pip install "django-workos-pipes[redis]"' in install
    assert "django.core.cache.backends.redis.RedisCache" in section("Quick start")


def test_the_quick_start_chooses_a_resolver_and_a_login_page() -> None:
    settings_py = dict(snippets())["settings.py"]
    assert "django_workos_pipes.identity.linked_user_id" in settings_py
    assert 'LOGIN_URL = "/admin/login/"' in settings_py
    assert "env = environ.Env()" in settings_py


@pytest.mark.django_db
def test_the_template_snippet_offers_no_connect_link_to_logged_out_visitors(
    rf: RequestFactory, settings: Any, pipes_fake: Any
) -> None:
    (snippet,) = code_blocks(section("Template tags"), "django")
    template = Template(snippet)

    def render(user: Any) -> str:
        request = rf.get("/")
        request.user = user
        return template.render(Context({"request": request})).strip()

    logged_out = render(AnonymousUser())
    assert logged_out == "Log in to connect Salesforce"
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "USER_ID_RESOLVER": "tests.views.workos_user_id",
    }
    ann = User.objects.create_user("ann")
    assert ">Connect Salesforce</a>" in render(ann)
    pipes_fake.connect("salesforce", "user_ann", scopes=["api"])
    assert render(ann).startswith("Salesforce: connected (api, until ")
