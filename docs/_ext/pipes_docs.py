"""Reference pages generated from the package, so that the documentation can't drift.

- ``{settings-table}``: every key of ``django_workos_pipes.conf.SETTINGS``, each a
  ``{setting}`` target;
- ``{checks-table}``: every system check id found in ``checks.py`` (read, not run), each
  a ``{check}`` target; the directive's content may give a summary per id;
- ``{argparse-options}``: the options of the emulator's command line, or of a
  management command, from their real ``argparse`` parsers;
- ``{emulator-routes}``: the routes the emulator really serves, under a path prefix.

It also holds the rule about code examples: every Python or Django-template block of
the site is either included from a file the test suite runs (``literalinclude`` from
``tests/`` or ``docs/examples/``), or marked ``{.tested}`` (an inline block that
``tests/test_docs.py`` runs or compares), or marked ``{.illustrative}`` on purpose.
Anything else is a warning, which ``sphinx-build -W`` turns into a failed build.
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_id, make_refnode

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "django_workos_pipes"
TESTED_SOURCES = (ROOT / "tests", ROOT / "docs" / "examples")
CHECKED_LANGUAGES = frozenset({"python", "py", "python3", "pycon", "django", "html+django"})
MARKS = frozenset({"tested", "illustrative"})


Cell = list[nodes.Node]
CODE = re.compile(r"``(.+?)``|`(.+?)`")


def inline(text: str, *, classes: Iterable[str] = ()) -> nodes.paragraph:
    """A paragraph of plain text whose ``code`` (reST or Markdown quotes) is literal."""
    paragraph = nodes.paragraph(classes=list(classes))
    position = 0
    for match in CODE.finditer(text):
        paragraph += nodes.Text(text[position : match.start()])
        code = match.group(1) or match.group(2)
        paragraph += nodes.literal(code, code)
        position = match.end()
    paragraph += nodes.Text(text[position:])
    return paragraph


def code(text: str) -> nodes.paragraph:
    paragraph = nodes.paragraph()
    paragraph += nodes.literal(text, text)
    return paragraph


class TableDirective(SphinxDirective):
    """A directive that builds one table (docutils nodes, whatever the page's markup)."""

    headers: tuple[str, ...] = ()
    widths: tuple[int, ...] = ()
    css_class = ""

    def rows(self) -> Iterable[list[Cell]]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        table = nodes.table(classes=[self.css_class])
        group = nodes.tgroup(cols=len(self.headers))
        table += group
        for width in self.widths:
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += self.row([[nodes.paragraph(text=header)] for header in self.headers])
        body = nodes.tbody()
        for cells in self.rows():
            body += self.row(cells)
        group += head
        group += body
        return [table]

    @staticmethod
    def row(cells: list[Cell]) -> nodes.row:
        row = nodes.row()
        for content in cells:
            entry = nodes.entry()
            entry.extend(content)
            row += entry
        return row

    def target(self, kind: str, name: str) -> nodes.target:
        """A ``{kind}`` cross-reference target for ``name`` (as ``add_crossref_type``'s)."""
        node_id = make_id(self.env, self.state.document, kind, name)
        target = nodes.target("", "", ids=[node_id])
        self.state.document.note_explicit_target(target)
        std = self.env.get_domain("std")
        std.note_object(kind, name, node_id, location=(self.env.docname, self.lineno))
        return target


# Settings ------------------------------------------------------------------------------


class SettingsTable(TableDirective):
    """Every ``WORKOS_PIPES`` key, in the order ``conf.SETTINGS`` declares them."""

    headers = ("Key", "Environment", "Default", "Meaning")
    widths = (22, 18, 18, 42)
    css_class = "settings-table"

    def rows(self) -> Iterator[list[Cell]]:
        from django_workos_pipes.conf import SETTINGS

        self.env.note_dependency(str(PACKAGE / "conf.py"))
        for setting in SETTINGS:
            yield [
                [self.target("setting", setting.name), code(setting.name)],
                [code(setting.env_var) if setting.env_var else inline("-")],
                [default_cell(setting.name, setting.default)],
                [inline(meaning(setting))],
            ]


def default_cell(name: str, default: Any) -> nodes.paragraph:
    if name == "API_KEY":
        return inline("required")
    if default is None:
        return inline("unset")
    return code(repr(default))


def meaning(setting: Any) -> str:
    text = " ".join(setting.doc.split())
    if setting.number:
        bound = "a positive number" if setting.positive else "a number, zero or more"
        text += f" Must be {bound}."
    return text


# System checks ---------------------------------------------------------------------------


class Check(NamedTuple):
    id: str
    level: str
    message: str
    hint: str


def read_checks(path: Path) -> list[Check]:
    """Every ``Error(...)`` / ``Warning(...)`` with an ``id=`` in ``checks.py``, in id order."""
    found: dict[str, Check] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in ("Error", "Warning", "Critical", "Info", "Debug"):
            continue
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        check_id = keywords.get("id")
        if not isinstance(check_id, ast.Constant):
            continue
        message = source_text(node.args[0]) if node.args else ""
        hint = source_text(keywords["hint"]) if "hint" in keywords else ""
        found.setdefault(check_id.value, Check(check_id.value, node.func.id, message, hint))
    return sorted(found.values(), key=lambda check: check.id)


def source_text(node: ast.expr) -> str:
    """A message as a reader sees it: literal parts kept, computed parts shown as ``…``."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "…" for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return source_text(node.left) + source_text(node.right)
    return "…"


class ChecksTable(TableDirective):
    """The system checks, read from ``checks.py``; content lines ``ID: summary``."""

    has_content = True
    headers = ("ID", "Level", "What it reports")
    widths = (20, 10, 70)
    css_class = "checks-table"

    def rows(self) -> Iterator[list[Cell]]:
        path = PACKAGE / "checks.py"
        self.env.note_dependency(str(path))
        checks = read_checks(path)
        summaries = dict(self.summaries())
        for check_id in sorted(set(summaries) - {check.id for check in checks}):
            logger.warning(
                "%s is summarised here but checks.py has no such check id",
                check_id,
                location=(self.env.docname, self.lineno),
            )
        for check in checks:
            described: Cell = [inline(summaries.get(check.id) or check.message)]
            if check.id in summaries and check.message.strip("…"):
                described.append(inline(f"Message: {check.message}", classes=["check-text"]))
            if check.hint:
                described.append(inline(f"Hint: {check.hint}", classes=["check-text"]))
            yield [
                [self.target("check", check.id), code(check.id)],
                [inline(check.level)],
                described,
            ]

    def summaries(self) -> Iterator[tuple[str, str]]:
        for line in self.content:
            if line.strip():
                check_id, _, summary = line.partition(": ")
                yield check_id.strip(), summary.strip()


# Command lines ---------------------------------------------------------------------------


class ArgparseOptions(TableDirective):
    """The options of ``emulator`` or of a management command (its name as argument)."""

    required_arguments = 1
    headers = ("Option", "Default", "What it does")
    widths = (30, 20, 50)
    css_class = "options-table"

    def rows(self) -> Iterator[list[Cell]]:
        parser = make_parser(self.arguments[0])
        for action in parser._actions:
            if not action.option_strings or action.dest in SKIPPED_OPTIONS:
                continue
            names = ", ".join(action.option_strings)
            metavar = action.metavar or (action.dest.upper() if action.nargs != 0 else "")
            yield [
                [code(f"{names} {metavar}".strip())],
                [option_default(action)],
                [inline(option_help(action))],
            ]


SKIPPED_OPTIONS = frozenset(
    {"help", "version", "settings", "pythonpath", "traceback", "no_color", "force_color"}
    | {"skip_checks"}
)


def make_parser(name: str) -> argparse.ArgumentParser:
    if name == "emulator":
        from django_workos_pipes.emulator.cli import add_arguments

        parser = argparse.ArgumentParser(prog="python -m django_workos_pipes.emulator")
        add_arguments(parser)
        return parser
    from django.core.management import load_command_class

    command = load_command_class("django_workos_pipes", name)
    parser: argparse.ArgumentParser = command.create_parser("manage.py", name)
    return parser


def option_default(action: argparse.Action) -> nodes.paragraph:
    if action.nargs == 0 or action.default in (None, [], argparse.SUPPRESS):
        return inline("")
    if action.dest in ("api_key", "webhook_secret"):
        return inline("from the environment (see the help)")
    return code(str(action.default))


def option_help(action: argparse.Action) -> str:
    text = (action.help or "").replace("%(default)s", str(action.default))
    if action.choices and action.metavar:
        text += f" One of: {', '.join(map(str, action.choices))}."
    return text


# The emulator's routes ----------------------------------------------------------------


class EmulatorRoutes(TableDirective):
    """The emulator's routes under ``:prefix:`` (or outside every ``:exclude:`` prefix);
    content lines ``METHOD /path:: what it does``."""

    option_spec = {"prefix": directives.unchanged, "exclude": directives.unchanged}
    has_content = True
    headers = ("Method", "Path", "What it does")
    widths = (10, 45, 45)
    css_class = "routes-table"

    def rows(self) -> Iterator[list[Cell]]:
        excluded = self.options.get("exclude", "").split()
        routes = [
            (method, path)
            for method, path in emulator_routes()
            if path.startswith(self.options.get("prefix", "/"))
            and not any(path.startswith(prefix) for prefix in excluded)
        ]
        notes = dict(self.notes())
        for method, path in sorted(set(notes) - set(routes)):
            logger.warning(
                "%s %s is described here but the emulator has no such route",
                method,
                path,
                location=(self.env.docname, self.lineno),
            )
        for method, path in routes:
            yield [[inline(method)], [code(path)], [inline(notes.get((method, path), ""))]]

    def notes(self) -> Iterator[tuple[tuple[str, str], str]]:
        for line in self.content:
            if line.strip():
                route, _, note = line.partition(":: ")
                method, _, path = route.strip().partition(" ")
                yield (method, path.strip()), note.strip()


def emulator_routes() -> list[tuple[str, str]]:
    from django_workos_pipes.emulator import Emulator

    router = Emulator()._router
    return [(route.method, "/" + "/".join(route.pattern)) for route in router._routes]


# Code examples: tested, or illustrative on purpose ----------------------------------------


def check_code_examples(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    for block in doctree.findall(nodes.literal_block):
        language = str(block.get("language", "")).lower()
        if language not in CHECKED_LANGUAGES:
            continue
        if MARKS & set(block.get("classes", ())) or from_tested_file(block, doctree):
            continue
        first = block.astext().strip().splitlines()[:1]
        logger.warning(
            "a %s example is neither included from a tested file nor marked {.tested} "
            "or {.illustrative}: %s",
            language,
            first[0] if first else "(empty)",
            location=(docname, block.line),
        )


def from_tested_file(block: nodes.literal_block, doctree: nodes.document) -> bool:
    """Whether ``literalinclude`` brought the block from a file the test suite runs."""
    source = block.get("source")
    if not source or source == doctree.get("source"):
        return False
    path = Path(source).resolve()
    return any(path.is_relative_to(folder) for folder in TESTED_SOURCES)


# Short names in docstrings ---------------------------------------------------------------


def resolve_short_names(
    app: Sphinx, env: Any, node: Any, contnode: nodes.Element
) -> nodes.Element | None:
    """Resolve ``:class:`PipesUnavailable``` (as docstrings write it, without its module)
    to the one object of this package with that name; ambiguous names stay unresolved,
    and so are reported."""
    if node.get("refdomain") != "py" or "." in node["reftarget"].lstrip("~."):
        return None
    name = node["reftarget"].lstrip("~.")
    domain = env.get_domain("py")
    matches = [
        (full, entry)
        for full, entry in domain.objects.items()
        if full.startswith("django_workos_pipes.") and full.rsplit(".", 1)[-1] == name
    ]
    if len({entry.node_id for _, entry in matches}) != 1:
        return None
    full, entry = matches[0]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, full)


def readable_factories(
    app: Sphinx,
    what: str,
    name: str,
    obj: Any,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None] | None:
    """A dataclass field's ``default_factory`` shows as ``<factory>``, which is not Python:
    Sphinx then can't parse the signature and splits ``tuple[str, ...]`` apart."""
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), return_annotation
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_crossref_type("setting", "setting", indextemplate="pair: %s; setting")
    app.add_crossref_type("check", "check", indextemplate="pair: %s; system check")
    app.add_directive("settings-table", SettingsTable)
    app.add_directive("checks-table", ChecksTable)
    app.add_directive("argparse-options", ArgparseOptions)
    app.add_directive("emulator-routes", EmulatorRoutes)
    app.connect("doctree-read", check_code_examples)
    app.connect("missing-reference", resolve_short_names)
    app.connect("autodoc-process-signature", readable_factories)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
