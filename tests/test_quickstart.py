"""The README's Quick start, as a newcomer reads it: each snippet names its file and
holds no placeholder, and the template snippet renders as it says
(``tests/system/test_quickstart.py`` follows the whole Quick start in real processes)."""

from __future__ import annotations

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
    assert "django_workos_pipes.caching.redis.RedisCache" in section("Quick start")


def test_the_quick_start_chooses_a_resolver_and_a_login_page() -> None:
    settings_py = dict(snippets())["settings.py"]
    assert "django_workos_pipes.identity.linked_user_id" in settings_py
    assert 'LOGIN_URL = "/admin/login/"' in settings_py
    assert "env = environ.Env()" in settings_py
