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
    """One entry v_i of the tape: the primitive that made it, its value, its arguments, and its
    parents — the traced arguments, as (argument position, Node)."""

    __slots__ = ("prim", "ans", "args", "params", "parents", "shape", "index")

    def __init__(self, tape, prim, ans, args=(), params=None, parents=()):
        self.prim, self.ans, self.args, self.params = prim, ans, args, params or {}
        self.parents, self.shape = parents, shape_of(ans)
        self.index = len(tape)  # prim None: an input of the transform
        tape.append(self)


class VJPTracer(Tracer):
    """A value watched by reverse mode, and the node of the tape that made it."""

    __slots__ = ("node",)

    def __init__(self, trace, primal, node):
        self.trace, self.primal, self.node = trace, primal, node


class VJPTrace(Trace):
    def __init__(self):
        super().__init__()
        self.tape = []

    def new_input(self, x):
        return VJPTracer(self, x, Node(self.tape, None, x))

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
        return VJPTracer(self, ans, Node(self.tape, prim, ans, primals, params, parents))


def backward_pass(tape, seeds, keep_all=False):
    """Adjoints v̄_i = ∂L/∂v_i, by one sweep back from the outputs to the start of the tape.

    ``seeds`` pairs each output node with its cotangent (∂L/∂L = 1 for a scalar loss).

    Adjoints of intermediates are dropped once passed on (that memory is what checkpointing
    fights for); inputs keep theirs. ``keep_all=True`` keeps every adjoint, for the tables.
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
            if shape_of(contribution) != parent.shape:
                contribution = unbroadcast(contribution, parent.shape)
            total = adjoints[parent.index]
            adjoints[parent.index] = contribution if total is None else total + contribution
    return adjoints


@dataclass
class Tape:
    """What ``record`` saw: the nodes in order of execution, the nodes of the inputs, and the node
    of each output leaf (None for an output that does not depend on the inputs)."""

    nodes: list
    inputs: list
    outputs: list


def record(fun, primals, who="vjp"):
    """(fun(*primals), pullback, tape): one forward sweep of ``fun`` under reverse mode.

    ``primals`` is a tuple with one entry per argument (arrays, or tuples/lists/dicts of them).
    ``pullback(ḡ)`` = ḡᵀ ∂fun, one entry per argument, by one backward sweep of the tape; errors
    about bad inputs name ``who``.
    """
    x_leaves, x_def = tree_flatten(tuple(primals))
    trace = VJPTrace()
    inputs = [trace.new_input(check_input(x, who, i)) for i, x in enumerate(x_leaves)]
    out = fun(*tree_unflatten(x_def, inputs))
    out_leaves, out_def = tree_flatten(out)
    outputs = [o.node if type(o) is VJPTracer and o.trace is trace else None for o in out_leaves]
    values = [o.primal if node is not None else o for o, node in zip(out_leaves, outputs)]
    tape = Tape(trace.tape, [x.node for x in inputs], outputs)

    def pullback(cotangent):
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
        adjoints = backward_pass(tape.nodes, seeds)
        grads = [adjoints[x.index] for x in tape.inputs]
        return tree_unflatten(x_def, [np.zeros(x.shape) if g is None else g for x, g in zip(tape.inputs, grads)])

    return tree_unflatten(out_def, values), pullback, tape


def vjp(fun, *primals):
    """(f(x), pullback) with pullback(ḡ) = ḡᵀ ∂f(x): the vector-Jacobian product, like ``jax.vjp``.

    One forward sweep records the tape; each call of the pullback is one backward sweep,
    so the tape can be swept for many cotangents (that is how ``jacrev`` builds a Jacobian).
    """
    out, pullback, _ = record(fun, primals)
    return out, pullback
