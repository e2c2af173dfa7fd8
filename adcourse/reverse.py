"""Reverse mode: record the computation on a tape, then sweep it backwards.

The forward sweep stores, for every intermediate v_i, the operation that made it.
The backward sweep starts from L̄ = ∂L/∂L = 1 and visits the tape from the end:
each v_i, once all its children are done, passes v̄_i · ∂v_i/∂x_j on to each parent x_j,
so that x̄_j = Σ over its children of v̄_child · ∂v_child/∂x_j.
Tape order is the order of execution, so walking it backwards visits children before
parents: a loop, with no recursion over the depth of the graph.

``record(fun, primals)`` is the one way in: it returns fun's output, the pullback, and the
tape itself (for the lecture's tables in graph.py and the memory counts of checkpoint.py).
"""
from dataclasses import dataclass

import numpy as np

from .core import Trace, Tracer, check_input, shape_of
from .numpy import unbroadcast
from .tree import tree_flatten, tree_unflatten


class Node:
    """One entry v_i of the tape: the primitive that made it, its value and arguments as far as its
    VJP rules read them (``prim.saves``; of the rest only the shape, see Unsaved), and its
    parents — the traced arguments, as (argument position, Node)."""

    __slots__ = ("prim", "ans", "args", "params", "parents", "shape", "index")

    def __init__(self, tape, prim, ans, args=(), params=None, parents=(), keep_all=True):
        saves = None if keep_all else prim.saves
        self.shape = shape_of(ans)
        if saves is not None:  # what no rule reads is freed as soon as the computation is done with it
            if "ans" not in saves and isinstance(ans, ARRAYS):
                ans = Unsaved(ans)
            if "args" not in saves:
                args = list(args)
                for i, a in enumerate(args):
                    if i not in saves and isinstance(a, ARRAYS):
                        args[i] = Unsaved(a)
        self.prim, self.ans, self.args, self.params, self.parents = prim, ans, args, params, parents
        self.index = len(tape)  # prim None: an input of the transform
        tape.append(self)


class Unsaved:
    """An array that no VJP rule of its node reads: the tape keeps its shape, not the array.
    (Numbers, shapes and axes are kept as they are: they cost no memory.)"""

    __slots__ = ("shape",)

    def __init__(self, value):
        self.shape = shape_of(value)

    ndim = property(lambda self: len(self.shape))

    def __repr__(self):
        return f"Unsaved(shape={self.shape})"


ARRAYS = (np.ndarray, Tracer)  # what Unsaved stands in for

class VJPTracer(Tracer):
    """A value watched by reverse mode, and the node of the tape that made it."""

    __slots__ = ("node",)

    def __init__(self, trace, primal, node):
        self.trace, self.primal, self.node = trace, primal, node


class VJPTrace(Trace):
    """Reverse mode's trace: a tape of Nodes. ``keep_all`` keeps every value and argument, not
    only what the VJP rules read (the lecture's tables and linearize need them)."""

    def __init__(self, keep_all=False):
        super().__init__()
        self.tape, self.keep_all = [], keep_all

    def new_input(self, x):
        return VJPTracer(self, x, Node(self.tape, None, x, params={}))

    def process(self, prim, args, params):
        primals, parents, nested = list(args), [], False
        for i, a in enumerate(args):
            if type(a) is VJPTracer and a.trace is self:
                primals[i] = a.primal
                nested = nested or isinstance(a.primal, Tracer)
                if prim.vjp[i] is not None:
                    parents.append((i, a.node))
            elif isinstance(a, Tracer):
                nested = True
        # values of enclosing transforms go on to their traces; plain ones straight to numpy
        ans = prim(*primals, **params) if nested else prim.impl(*primals, **params)
        return VJPTracer(self, ans, Node(self.tape, prim, ans, primals, params, parents, self.keep_all))


def backward_pass(tape, seeds, keep_all=False, release=False):
    """Adjoints v̄_i = ∂L/∂v_i, by one sweep back from the outputs to the start of the tape.

    ``seeds`` pairs each output node with its cotangent (∂L/∂L = 1 for a scalar loss).

    Adjoints of intermediates are dropped once passed on (that memory is what checkpointing
    fights for); inputs keep theirs. ``keep_all=True`` keeps every adjoint, for the tables.
    ``release=True`` also drops what each node saved once its rules have run: for a tape swept
    only once, so that the memory of the forward sweep is reused by the backward one.
    """
    adjoints, last = [None] * len(tape), -1
    for node, cotangent in seeds:
        total = adjoints[node.index]
        adjoints[node.index] = cotangent if total is None else total + cotangent
        last = max(last, node.index)
    for i in range(last, -1, -1):
        node = tape[i]
        g = adjoints[i]
        if g is None or not node.parents:
            continue
        if not keep_all:
            adjoints[i] = None
        for argnum, parent in node.parents:
            contribution = node.prim.vjp[argnum](g, node.ans, *node.args, **node.params)
            if getattr(contribution, "shape", ()) != parent.shape:  # (a Python float has none)
                contribution = unbroadcast(contribution, parent.shape)
            total = adjoints[parent.index]
            adjoints[parent.index] = contribution if total is None else total + contribution
        if release:
            node.ans = node.args = None
    return adjoints


@dataclass
class Tape:
    """What ``record`` saw: the nodes in order of execution, the nodes of the inputs, and the node
    of each output leaf (None for an output that does not depend on the inputs)."""

    nodes: list
    inputs: list
    outputs: list


def record(fun, primals, who="vjp", keep_all=False):
    """(fun(*primals), pullback, tape): one forward sweep of ``fun`` under reverse mode.

    ``primals`` is a tuple with one entry per argument (arrays, or tuples/lists/dicts of them).
    ``pullback(ḡ)`` = ḡᵀ ∂fun, one entry per argument, by one backward sweep of the tape; errors
    about bad inputs name ``who``. The tape keeps what the VJP rules read (everything: keep_all).
    """
    x_leaves, x_def = tree_flatten(tuple(primals))
    trace = VJPTrace(keep_all)
    inputs = [trace.new_input(check_input(x, who, i)) for i, x in enumerate(x_leaves)]
    out_leaves, out_def = tree_flatten(fun(*tree_unflatten(x_def, inputs)))
    outputs, values = [], []  # the node of each output leaf (None if it is a constant), its value
    for o in out_leaves:
        mine = type(o) is VJPTracer and o.trace is trace
        outputs.append(o.node if mine else None)
        values.append(o.primal if mine else o)
    tape = Tape(trace.tape, [x.node for x in inputs], outputs)

    def pullback(cotangent, release=False):
        ct_leaves, ct_def = tree_flatten(cotangent)
        if ct_def != out_def:
            raise ValueError(f"{who}: the cotangent {ct_def} is not structured like the output {out_def}")
        seeds = []
        for k, (node, ct) in enumerate(zip(outputs, ct_leaves)):
            ct = check_input(ct, f"{who} (cotangent)", k)
            if shape_of(ct) != shape_of(values[k]):
                raise ValueError(f"{who}: cotangent {k} has shape {np.shape(ct)} but the output has "
                                 f"shape {np.shape(values[k])}; a cotangent must match its output")
            if node is not None:  # else it adds nothing
                seeds.append((node, ct))
        adjoints = backward_pass(tape.nodes, seeds, release=release)
        return tree_unflatten(x_def, [np.zeros(x.shape) if adjoints[x.index] is None else adjoints[x.index]
                                      for x in tape.inputs])

    return tree_unflatten(out_def, values), pullback, tape


def vjp(fun, *primals):
    """(f(x), pullback) with pullback(ḡ) = ḡᵀ ∂f(x): the vector-Jacobian product, like ``jax.vjp``.

    One forward sweep records the tape; each call of the pullback is one backward sweep,
    so the tape can be swept for many cotangents (that is how ``jacrev`` builds a Jacobian).
    """
    out, pullback, _ = record(fun, primals)
    return out, pullback
