"""The computational graph of a function, and the lecture's step-by-step tables over it.

``trace_graph(f, w1, w2)`` runs f once under reverse mode and keeps the tape as a graph of
nodes v_i = op(parents). Over that graph:
  * ``forward_table``: each v_i with its tangent v̇_i = Σ_j ∂v_i/∂x_j · ẋ_j (forward mode, one direction);
  * ``reverse_table``: each v_i with its adjoint v̄_i = ∂L/∂v_i = Σ_children v̄_c · ∂c/∂v_i (reverse mode);
  * ``draw_graph``: the graph drawn with matplotlib, optionally annotated and highlighted;
  * ``draw_steps``: the lecture's step-by-step slides, the graph beside the table as it grows.
Tables speak English or Russian (``set_language``).
"""
import html
import inspect
from dataclasses import dataclass

import numpy as np

from . import display
from .reverse import ancestors, backward_pass, forward_sweep, record

_FORMULAS = {"add": "{0} + {1}", "subtract": "{0} − {1}", "multiply": "{0} · {1}",
             "divide": "{0} / {1}", "power": "{0}^{1}", "negative": "−{0}", "matmul": "{0} @ {1}",
             "sqrt": "√{0}", "log": "log {0}", "exp": "exp {0}", "sin": "sin {0}", "cos": "cos {0}",
             "tanh": "tanh {0}", "sigmoid": "σ({0})", "relu": "relu({0})", "abs": "|{0}|"}


@dataclass
class GraphNode:
    """v_i = op(parents): one node of the computational graph."""
    name: str
    op: str           # "input" for the function's arguments
    parents: list     # names of the traced arguments (constants appear only in the formula)
    formula: str      # e.g. "w2 · v1"
    value: object


class Graph:
    """The nodes of a traced function in evaluation order, inputs first, output last."""

    def __init__(self, nodes, tape_nodes, tape):
        self.nodes, self._tape_nodes, self._tape = nodes, tape_nodes, tape
        self.by_name = {n.name: n for n in nodes}

    @property
    def inputs(self):
        return [n for n in self.nodes if n.op == "input"]

    @property
    def output(self):
        return self.nodes[-1]

    def __repr__(self):
        return "\n".join(f"{n.name} = {n.formula}" for n in self.nodes if n.op != "input")


def trace_graph(fun, *args, input_names=None, output_name="L"):
    """Evaluate ``fun(*args)`` once and return its computational graph.

    Inputs are named after fun's parameters (w1, w2, ...), intermediates v1, v2, ... in order
    of evaluation, the output ``output_name``. Nodes the output does not depend on are left out.
    """
    if input_names is None:
        try:
            input_names = list(inspect.signature(fun).parameters)[:len(args)]
        except (TypeError, ValueError):
            input_names = []
        if len(input_names) < len(args):
            input_names = [f"x{i + 1}" for i in range(len(args))]
    _, _, tape = record(fun, args, who="trace_graph", keep_all=True)
    out = tape.outputs[0] if len(tape.outputs) == 1 else None
    if out is None:
        raise ValueError("trace_graph: the output does not depend on the inputs; nothing to draw")

    needed = ancestors(tape, [out] + tape.inputs)  # what the output depends on, and the inputs
    kept = [n for n in tape.nodes if n.index in needed]

    names, nodes, count = {}, [], 0
    for node in kept:
        if node.prim is None:
            names[node.index] = input_names[len(nodes)]
            nodes.append(GraphNode(names[node.index], "input", [], names[node.index], node.ans))
            continue
        count += 1
        names[node.index] = output_name if node is out else f"v{count}"
        traced = dict(node.parents)
        shown = [names[traced[i].index] if i in traced else _short(a) for i, a in enumerate(node.args)]
        template = _FORMULAS.get(node.prim.name, node.prim.name + "(" + ", ".join(
            "{%d}" % i for i in range(len(shown))) + ")")
        nodes.append(GraphNode(names[node.index], node.prim.name,
                               [names[p.index] for _, p in node.parents],
                               template.format(*shown), node.ans))
    return Graph(nodes, kept, tape)


def _short(value):
    value = np.asarray(value)
    return display.number(value.item(), "g") if value.size == 1 else f"array{value.shape}"


_WORDS = {  # what tables say, in the course's two languages (the keys stay English)
    "en": {"node": "node", "formula": "formula", "value": "value", "tangent": "tangent",
           "adjoint": "adjoint", "forward": "Forward mode", "reverse": "Reverse mode, adjoints from"},
    "ru": {"node": "узел", "formula": "формула", "value": "значение", "tangent": "касательная",
           "adjoint": "сопряжённая", "forward": "Прямой режим",
           "reverse": "Обратный режим, сопряжённые от"},
}


def set_language(language):
    """The language of tables, numbers and plot ticks: "en" or "ru" (see adcourse.display)."""
    display.set_language(language)


class Table:
    """Rows of numbers with a header: HTML in Jupyter, plain text elsewhere. Slice it for steps.

    ``header`` holds the column keys ("node", "value", ...) that ``column`` looks up; they are
    shown in the language of ``set_language``.
    """

    def __init__(self, title, header, rows):
        self.title, self.header, self.rows = title, header, rows

    def __getitem__(self, index):
        return Table(self.title, self.header, self.rows[index])

    def __len__(self):
        return len(self.rows)

    def column(self, name):
        return [row[self.header.index(name)] for row in self.rows]

    def _labels(self):
        return [_WORDS[display.language()].get(h, h) for h in self.header]

    def _cells(self, row):
        return [display.number(c, ".6g") if isinstance(c, (float, np.floating)) else str(c) for c in row]

    def __str__(self):
        cells = [self._labels()] + [self._cells(r) for r in self.rows]
        widths = [max(len(r[k]) for r in cells) for k in range(len(self.header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return self.title + "\n" + "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._labels())
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in self._cells(r)) + "</tr>"
                       for r in self.rows)
        return (f"<table><caption>{html.escape(self.title)}</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _scalar(x):
    x = np.asarray(x)
    return float(x) if x.size == 1 else x


def forward_table(graph, direction):
    """Forward mode over the graph: v̇_i = Σ_j ∂v_i/∂x_j · ẋ_j for inputs' tangents ``direction``.

    ``direction`` has one entry per input, e.g. (1, 0) for ∂/∂w1. Returns a Table with columns
    node, formula, value, tangent — one row per node, in evaluation order.
    """
    inputs = graph.inputs
    if len(direction) != len(inputs):
        raise ValueError(f"forward_table: the direction has {len(direction)} entries but the graph "
                         f"has {len(inputs)} inputs ({', '.join(n.name for n in inputs)})")
    tangent = forward_sweep(graph._tape, [np.broadcast_to(np.asarray(d, float), x.shape)
                                          for d, x in zip(direction, graph._tape.inputs)])
    rows = [[n.name, n.formula, _scalar(n.value), _scalar(tangent[t.index])]
            for n, t in zip(graph.nodes, graph._tape_nodes)]
    seed = ", ".join(f"ẋ({n.name}) = {display.number(d, 'g')}" for n, d in zip(inputs, map(float, np.ravel(direction))))
    return Table(f"{_WORDS[display.language()]['forward']}, {seed}", ["node", "formula", "value", "tangent"], rows)


def reverse_table(graph, cotangent=1.0):
    """Reverse mode over the graph: adjoints v̄_i = ∂L/∂v_i from L̄ = ``cotangent``.

    Rows are in the order the backward sweep visits them: output first, inputs last.
    """
    out = graph._tape_nodes[-1]
    adjoints = backward_pass(graph._tape.nodes, [(out, np.asarray(cotangent, float))], keep_all=True)
    rows = [[n.name, n.formula, _scalar(n.value),
             _scalar(0.0 if adjoints[t.index] is None else adjoints[t.index])]
            for n, t in zip(graph.nodes, graph._tape_nodes)]
    return Table(f"{_WORDS[display.language()]['reverse']} {graph.output.name}̄ = {display.number(float(cotangent), 'g')}",
                 ["node", "formula", "value", "adjoint"], rows[::-1])


def layout(graph):
    """(x, y) positions: x = longest path from an input, nodes of one column spread evenly."""
    depth = {}
    for n in graph.nodes:
        depth[n.name] = 1 + max((depth[p] for p in n.parents), default=-1)
    columns = {}
    for n in graph.nodes:
        columns.setdefault(depth[n.name], []).append(n.name)
    return {name: (d, (len(col) - 1) / 2 - k) for d, col in columns.items() for k, name in enumerate(col)}


def draw_graph(graph, ax=None, annotations=None, highlight=(), title=None):
    """Draw the graph: a circle per node, an arrow per edge; returns the matplotlib Axes.

    ``annotations`` maps node names to text written under the node (values, tangents, adjoints);
    ``highlight`` names nodes to colour, e.g. the node a forward or backward step is at.
    """
    import matplotlib.pyplot as plt

    pos = layout(graph)
    if ax is None:
        width = 2.2 * (1 + max(x for x, _ in pos.values()))
        _, ax = plt.subplots(figsize=(max(width, 4), 3))
    for n in graph.nodes:
        for p in n.parents:
            skips = abs(pos[n.name][0] - pos[p][0]) > 1  # bend edges that jump over a column
            ax.annotate("", xy=pos[n.name], xytext=pos[p],
                        arrowprops=dict(arrowstyle="-|>", color="0.4", shrinkA=18, shrinkB=18, lw=1.2,
                                        connectionstyle=f"arc3,rad={-0.35 if skips else 0}"))
    for n in graph.nodes:
        x, y = pos[n.name]
        colour = "#f4a261" if n.name in highlight else ("#a8dadc" if n.op == "input" else "#e9ecef")
        ax.scatter([x], [y], s=1500, color=colour, edgecolors="0.3", zorder=2)
        ax.text(x, y + 0.05, n.name, ha="center", va="center", fontsize=11, weight="bold", zorder=3)
        if n.op != "input":
            ax.text(x, y - 0.14, n.formula, ha="center", va="center", fontsize=7, zorder=3)
        if annotations and n.name in annotations:
            ax.text(x, y - 0.32, annotations[n.name], ha="center", va="top", fontsize=8, color="#1d3557")
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.75, max(ys) + 0.7)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def draw_steps(graph, table, column, steps):
    """The lecture's step-by-step slides: one row per step, the graph beside the table so far.

    ``steps`` lists (k, title): after the step, the table's first k rows are known. The nodes a
    step adds are highlighted in the graph and shaded in the table, and the numbers of ``column``
    ("tangent" or "adjoint") known so far are written under their nodes. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(steps), 2, figsize=(8, 3.0 * len(steps)), dpi=80,
                             gridspec_kw={"width_ratios": [1.45, 1]}, squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.96, bottom=0.02, hspace=0.25, wspace=0.02)
    done = 0
    for (ax_graph, ax_table), (k, title) in zip(axes, steps):
        rows = table[:k]
        names = rows.column("node")
        draw_graph(graph, ax=ax_graph, highlight=names[done:], title=title,
                   annotations={n: display.number(x, ".4g") for n, x in zip(names, rows.column(column))})
        ax_table.axis("off")
        for i, line in enumerate(str(rows).splitlines()[1:]):  # header, rule, one line per row
            shade = {"facecolor": "#fde2c8", "edgecolor": "none", "pad": 1.5}
            ax_table.text(0, 0.88 - 0.11 * i, line, family="monospace", fontsize=9.5,
                          va="top", bbox=shade if i - 2 >= done else None)
        done = k
    return fig
