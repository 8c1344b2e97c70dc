"""Sphinx configuration of the django-workos-pipes documentation.

Build it with ``python3 scripts/dev.py docs`` (or ``sphinx-build -W --keep-going -n docs
docs/_build/html``). Nothing here reaches the network: no intersphinx, diagrams drawn by
Debian's graphviz, and the reference pages generated from the package itself by
``_ext/pipes_docs.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]

# autodoc imports the package, and parts of it need Django's settings to be configured.
settings.configure(
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django_workos_pipes",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    WORKOS_PIPES={},
    USE_TZ=True,
)
django.setup()

import django_workos_pipes  # noqa: E402

project = "django-workos-pipes"
author = "The django-workos-pipes authors"
copyright = "the django-workos-pipes authors"
release = django_workos_pipes.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.graphviz",
    "sphinx.ext.viewcode",
    "pipes_docs",
    "sequence",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# MyST: ``:::`` fences for directives, ``{.illustrative}`` attributes on code fences,
# and anchors on headings down to ### so pages can link to sections.
myst_enable_extensions = ["colon_fence", "attrs_block", "deflist"]
myst_heading_anchors = 3

# Every internal reference must resolve. Names outside this package (Django, requests,
# the standard library) are not checked: their inventories would need the network.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(django|requests|urllib3|collections|typing|datetime|enum|argparse)\..*"),
    (r"py:.*", r"(Any|Callable|Iterator|Iterable|Mapping|Sequence|Awaitable|Generic|Protocol)"),
    (r"py:.*", r"(HttpRequest|HttpResponse|HttpResponseBase|BaseCache|Session|AuthBase)"),
    (r"py:.*", r"(PreparedRequest|Response|Signal|ModelBackend|TemplateResponse|View)"),
    (r"py:.*", r"(timedelta|datetime|NamedTuple|TracebackType|PathLike|Path)"),
    (r"py:.*", r"(Client|RequestFactory|Literal|Protocol|StrOrPromise|os\.PathLike)"),
    # The emulator's own internals, which its public methods return or take.
    (r"py:.*", r"(django_workos_pipes\.emulator\.)?[a-z_]+\.(?!Emulator$)[A-Za-z_.]+"),
    (r"py:.*", r"(.*\.)?(_[A-Za-z_]+|T|D|R|P)"),  # private names and type variables
]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False  # no dict or Protocol docstrings on our overrides
autodoc_default_options = {"members": True, "show-inheritance": True}

graphviz_output_format = "svg"
graphviz_dot_args = ["-Gfontname=Helvetica", "-Nfontname=Helvetica", "-Efontname=Helvetica"]

html_theme = "furo"
html_title = f"django-workos-pipes {release}"
html_static_path = ["_static"]
html_css_files = ["pipes.css"]
html_theme_options = {"navigation_with_keys": True}
html_show_sourcelink = False
