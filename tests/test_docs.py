"""The documentation's sources held to the code, without building the site.

Every Python or Django-template example of ``docs/`` is included from a file the suite
runs, or marked ``{.tested}`` (and then claimed by a test here), or marked
``{.illustrative}`` on purpose; the build enforces the same rule (``docs/_ext``), this
test says which blocks are which. Reference pages name every template tag, URL and
command the package has. The site itself is built and crawled by
``tests/system/test_docs_site.py``.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.management import get_commands
from django.template import Context, Template
from django.test import RequestFactory

from django_workos_pipes import urls
from django_workos_pipes.templatetags.workos_pipes import register

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

CHECKED = {"python", "py", "python3", "pycon", "django", "html+django"}
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S
)
INCLUDE = re.compile(r"^```\{literalinclude\} (?P<path>\S+)", re.M)
# The {.tested} blocks, by page, and the test that runs (or compares) them.
TESTED = {
    "tutorial.md": "test_the_tutorial_is_the_readme_quick_start (tests/test_quickstart.py runs it)",
}


class Block(NamedTuple):
    page: str
    language: str
    marks: frozenset[str]
    body: str


def pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.md") if "_build" not in path.parts)


def blocks(path: Path) -> Iterator[Block]:
    """Each code block of a page: ```lang fences and ```{code-block} lang directives."""
    text = path.read_text()
    page = str(path.relative_to(DOCS))
    for match in FENCE.finditer(text):
        info = match["info"].strip()
        body = match["body"]
        marks: set[str] = set()
        if info.startswith("{code-block}"):
            language = info.partition(" ")[2]
            for classes in re.findall(r"^\s*:class: (.+)$", body, re.M):
                marks |= set(classes.split())
        elif info.startswith("{"):
            continue  # another directive (literalinclude, toctree, a generated table...)
        else:
            language = info
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
            if re.fullmatch(r"\{[^}]*\}", before):
                marks |= {name[1:] for name in before[1:-1].split() if name.startswith(".")}
        yield Block(page, language.lower(), frozenset(marks), body)


def test_every_example_is_tested_or_marked_illustrative() -> None:
    unmarked = [
        f"{block.page}: {block.body.splitlines()[0] if block.body else ''}"
        for path in pages()
        for block in blocks(path)
        if block.language in CHECKED and not block.marks & {"tested", "illustrative"}
    ]
    assert unmarked == []


def test_every_tested_block_is_claimed_by_a_test() -> None:
    tested_pages = {
        block.page for path in pages() for block in blocks(path) if "tested" in block.marks
    }
    assert tested_pages == set(TESTED)


def test_included_examples_are_files_the_suite_runs() -> None:
    examples = ROOT / "docs" / "examples"
    for path in pages():
        for match in INCLUDE.finditer(path.read_text()):
            target = (path.parent / match["path"]).resolve()
            assert target.is_file(), f"{path.name}: {match['path']}"
            assert target.is_relative_to(ROOT / "tests") or target.is_relative_to(examples)


def readme_quick_start() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Quick start\n")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else None]
    return re.findall(r"^```python\n(.*?)^```$", section, re.M | re.S)


def test_the_tutorial_is_the_readme_quick_start() -> None:
    """tests/test_quickstart.py applies the README's snippets to a new project: the
    tutorial's are the same, so that test runs them too."""
    tutorial = [block.body for block in blocks(DOCS / "tutorial.md") if "tested" in block.marks]
    assert tutorial == readme_quick_start()
    assert len(tutorial) == 3


# The examples rendered ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_status_template_offers_no_connect_link_to_logged_out_visitors(
    rf: RequestFactory, settings: Any, pipes_fake: Any
) -> None:
    template = Template((DOCS / "examples" / "templates" / "status.html").read_text())

    def render(user: Any) -> str:
        request = rf.get("/")
        request.user = user
        return template.render(Context({"request": request})).strip()

    assert render(AnonymousUser()) == "Log in to connect Salesforce"
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "USER_ID_RESOLVER": "tests.views.workos_user_id",
    }
    ann = User.objects.create_user("ann")
    assert ">Connect Salesforce</a>" in render(ann)
    pipes_fake.connect("salesforce", "user_ann", scopes=["api"])
    assert render(ann).startswith("Salesforce: connected (api, until ")
    pipes_fake.needs_reauthorization("salesforce", "user_ann")
    assert ">Reconnect Salesforce</a>" in render(ann)


# Reference pages name everything there is --------------------------------------------------


def test_every_template_tag_and_filter_is_on_the_tags_page() -> None:
    page = (DOCS / "reference" / "templatetags.md").read_text()
    for name in [*register.tags, *register.filters]:
        assert f"`{name}" in page, name


def test_every_url_name_is_on_the_urls_page() -> None:
    page = (DOCS / "reference" / "urls-views.md").read_text()
    for pattern in urls.urlpatterns:
        assert f"`workos_pipes:{pattern.name}`" in page, pattern.name


def test_every_management_command_is_on_the_commands_page() -> None:
    page = (DOCS / "reference" / "commands.md").read_text()
    ours = [name for name, app in get_commands().items() if app == "django_workos_pipes"]
    assert ours
    for name in ours:
        assert f"## `{name}`" in page, name


# The generators (Sphinx extensions: the docs extra, which the tox matrix leaves out) ---------


def docs_extension(name: str) -> Any:
    """The module of ``docs/_ext`` named ``name`` (skips without Sphinx)."""
    pytest.importorskip("sphinx")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(DOCS / "_ext"))


@pytest.fixture
def pipes_docs() -> Any:
    return docs_extension("pipes_docs")


@pytest.fixture
def sequence() -> Any:
    return docs_extension("sequence")


def test_the_checks_table_finds_every_check_id(pipes_docs: Any) -> None:
    source = (ROOT / "django_workos_pipes" / "checks.py").read_text()
    ids = set(re.findall(r'id="(workos_pipes\.[EW]\d+)"', source))
    found = pipes_docs.read_checks(ROOT / "django_workos_pipes" / "checks.py")
    assert {check.id for check in found} == ids
    assert all(check.message and check.level in ("Error", "Warning") for check in found)


def test_a_computed_part_of_a_check_message_reads_as_an_ellipsis(pipes_docs: Any) -> None:
    (e004,) = [
        c
        for c in pipes_docs.read_checks(ROOT / "django_workos_pipes" / "checks.py")
        if c.id == "workos_pipes.E004"
    ]
    assert e004.message == "WORKOS_PIPES['BASE_URL'] = … is not an http(s) URL."


def test_a_sequence_diagram_pins_every_lifeline(sequence: Any) -> None:
    dot = sequence.to_dot("participants: A, B, C\nA -> C: call\nC --> A: answer\nnote B: waits\n")
    assert 'label="A"' in dot and 'label="B"' in dot and 'label="C"' in dot
    assert dot.index('label="A"') < dot.index('label="B"') < dot.index('label="C"')
    assert "style=dashed]" in dot and 'label="waits"' in dot
    assert all("!" in line for line in dot.splitlines() if "pos=" in line)


def test_a_line_that_is_not_a_step_is_an_error(sequence: Any) -> None:
    with pytest.raises(ValueError, match="line 2"):
        sequence.parse("A -> B: fine\nA to B\n")
