"""``{sequence-diagram}``: sequence diagrams written as text, drawn by Graphviz at build time.

The content is one step a line, so diagrams are reviewed like prose and need no network
and no drawing tool but Debian's ``graphviz``::

    Browser -> View: GET /salesforce/       a call (solid arrow)
    WorkOS --> View: access_token           an answer (dashed arrow)
    note View: runs the view                a note on one lifeline
    note View, Cache: polls for the answer  a note across two
    participants: Browser, View, Cache      (optional, first) the order of the lifelines

Participants appear left to right in the order they are first named, unless a
``participants:`` line gives it. The layout is
computed here (columns, rows) and handed to ``neato`` with every node pinned, so that
lifelines stay straight whatever the labels' widths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from docutils.nodes import Node
from docutils.statemachine import StringList
from sphinx.ext.graphviz import Graphviz

ARROW = re.compile(r"^(?P<a>[^-:>]+?)\s*(?P<arrow>-->|->)\s*(?P<b>[^:]+?)\s*:\s*(?P<text>.*)$")
NOTE = re.compile(r"^note\s+(?P<who>[^:]+?)\s*:\s*(?P<text>.*)$")
CHAR = 0.075  # inches per character at 10 pt, roughly
ROW = 0.42
MIN_GAP = 1.7
FONT = 'fontname="Helvetica", fontsize=10'


@dataclass(frozen=True)
class Step:
    kind: str  # "call", "answer" or "note"
    who: tuple[str, ...]
    text: str


def parse(text: str) -> list[Step]:
    steps: list[Step] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("participants:"):
            names = line.partition(":")[2].split(",")
            steps.append(Step("order", tuple(name.strip() for name in names), ""))
        elif match := NOTE.match(line):
            who = tuple(name.strip() for name in match["who"].split(","))
            steps.append(Step("note", who, match["text"]))
        elif match := ARROW.match(line):
            kind = "answer" if match["arrow"] == "-->" else "call"
            steps.append(Step(kind, (match["a"].strip(), match["b"].strip()), match["text"]))
        else:
            raise ValueError(f"line {number} of the sequence diagram is not a step: {raw!r}")
    return steps


def participants(steps: list[Step]) -> list[str]:
    names: list[str] = []
    for step in steps:
        names.extend(name for name in step.who if name not in names)
    return names


def columns(names: list[str], steps: list[Step]) -> list[float]:
    """x of each lifeline, in inches: wide enough for the labels between them."""
    gaps = [MIN_GAP] * max(len(names) - 1, 0)
    for step in steps:
        if step.kind in ("note", "order"):
            continue
        left, right = sorted(names.index(name) for name in step.who)
        needed = (len(step.text) * CHAR + 0.4) / max(right - left, 1)
        for gap in range(left, right):
            gaps[gap] = max(gaps[gap], needed)
    xs = [0.0]
    for gap in gaps:
        xs.append(xs[-1] + gap)
    return xs


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(text: str) -> str:
    parsed = parse(text)
    names = participants(parsed)
    steps = [step for step in parsed if step.kind != "order"]
    xs = columns(names, steps)
    bottom = -(len(steps) + 1) * ROW
    lines = [
        "digraph sequence {",
        "graph [splines=false, overlap=true, outputorder=edgesfirst, pad=0.15];",
        f'node [shape=point, width=0.01, height=0.01, label="", color="#9aa5b1", {FONT}];',
        f'edge [color="#1f2d3d", arrowsize=0.7, {FONT}];',
    ]
    for column, (name, x) in enumerate(zip(names, xs, strict=True)):
        lines.append(
            f'h{column} [shape=box, style="rounded,filled", fillcolor="#eef2f7", '
            f'color="#5b6b82", width=1.3, height=0.32, label={quote(name)}, '
            f'pos="{x:.2f},0!"];'
        )
        lines.append(f'f{column} [pos="{x:.2f},{bottom:.2f}!"];')
        lines.append(f'h{column} -> f{column} [dir=none, style=dashed, color="#9aa5b1"];')
    for row, step in enumerate(steps, 1):
        y = -row * ROW
        positions = sorted(xs[names.index(name)] for name in step.who)
        if step.kind == "note":
            middle = (positions[0] + positions[-1]) / 2
            width = max(len(step.text) * CHAR + 0.3, positions[-1] - positions[0] + 0.6)
            lines.append(
                f'n{row} [shape=note, style=filled, fillcolor="#fff8dc", color="#c9b458", '
                f"width={width:.2f}, height=0.28, label={quote(step.text)}, "
                f'pos="{middle:.2f},{y:.2f}!"];'
            )
            continue
        a, b = (xs[names.index(name)] for name in step.who)
        style = "dashed" if step.kind == "answer" else "solid"
        lines.append(f'a{row} [pos="{a:.2f},{y:.2f}!"];')
        lines.append(f'b{row} [pos="{b:.2f},{y:.2f}!"];')
        lines.append(f"a{row} -> b{row} [style={style}];")
        lines.append(
            f"t{row} [shape=plaintext, width=0.1, height=0.1, margin=0, "
            f'label={quote(step.text)}, pos="{(a + b) / 2:.2f},{y + 0.13:.2f}!"];'
        )
    lines.append("}")
    return "\n".join(lines)


class SequenceDiagram(Graphviz):
    """A Graphviz figure whose content is the step list above, not dot."""

    def run(self) -> list[Node]:
        self.content = StringList(to_dot("\n".join(self.content)).splitlines())
        self.options["layout"] = "neato"
        self.options.setdefault("class", []).append("sequence-diagram")
        return super().run()


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.graphviz")
    app.add_directive("sequence-diagram", SequenceDiagram)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
