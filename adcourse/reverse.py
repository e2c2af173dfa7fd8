"""Reverse mode: record the computation on a tape, then sweep it backwards.

The forward sweep stores every intermediate v_i with the operation that made it.
The backward sweep starts from L̄ = ∂L/∂L = 1 and visits the tape from the end:
each v_i, once all its children are done, passes v̄_i · ∂v_i/∂x_j on to each parent x_j,
so that x̄_j = Σ over its children of v̄_child · ∂v_child/∂x_j.
Tape order is the order of execution, so walking it backwards visits children before
parents: a loop, with no recursion over the depth of the graph.
"""
import numpy as np

from .core import Trace, Tracer, check_input, shape_of
from .tree import tree_flatten, tree_unflatten


class Node:
    """One entry v_i of the tape: how it was made, and from which earlier entries."""

    __slots__ = ("index", "prim", "value", "shape", "args", "params", "parents")

    def __init__(self, index, prim, value, args, params, parents):
        self.index, self.prim, self.value, self.shape = index, prim, value, shape_of(value)
        self.args, self.params = args, params   # what the VJP rules need
        self.parents = parents                  # [(argument position, Node)], traced arguments only


class VJPTracer(Tracer):
    """A value watched by reverse mode, with its place on the tape."""

    __slots__ = ("node",)

    def __init__(self, trace, primal, node):
        self.trace, self.primal, self.node = trace, primal, node


class VJPTrace(Trace):
    def __init__(self):
        super().__init__()
        self.tape = []

    def record(self, prim, value, args=(), params=None, parents=()):
        node = Node(len(self.tape), prim, value, args, params or {}, parents)
        self.tape.append(node)
        return VJPTracer(self, value, node)

    def process(self, prim, args, params):
        mine = [isinstance(a, VJPTracer) and a.trace is self for a in args]
        primals = [a.primal if m else a for a, m in zip(args, mine)]
        parents = [(i, a.node) for i, (a, m) in enumerate(zip(args, mine))
                   if m and prim.vjps[i] is not None]
        return self.record(prim, prim(*primals, **params), primals, params, parents)


def backward_pass(tape, seeds, keep_all=False):
    """Adjoints v̄_i = ∂L/∂v_i, by one sweep back from the outputs to the start of the tape.

    ``seeds`` pairs each output node with its cotangent (∂L/∂L = 1 for a scalar loss).

    Adjoints of intermediates are dropped once passed on (that memory is what checkpointing
    fights for); inputs keep theirs. ``keep_all=True`` keeps every adjoint, for the tables.
    """
    from .numpy import unbroadcast
    adjoints = [None] * len(tape)
    for node, cotangent in seeds:
        total = adjoints[node.index]
        adjoints[node.index] = cotangent if total is None else total + cotangent
    for i in range(max((node.index for node, _ in seeds), default=-1), -1, -1):
        node = tape[i]
        g = adjoints[i]
        if g is None or not node.parents:
            continue
        if not keep_all:
            adjoints[i] = None
        for argnum, parent in node.parents:
            contribution = node.prim.vjps[argnum](g, node.value, *node.args, **node.params)
            if shape_of(contribution) != parent.shape:
                contribution = unbroadcast(contribution, parent.shape)
            total = adjoints[parent.index]
            adjoints[parent.index] = contribution if total is None else total + contribution
    return adjoints


def vjp(fun, *primals):
    """(f(x), pullback) with pullback(ḡ) = ḡᵀ ∂f(x): the vector-Jacobian product, like ``jax.vjp``.

    One forward sweep records the tape; each call of the pullback is one backward sweep,
    so the tape can be swept for many cotangents (that is how ``jacrev`` builds a Jacobian).
    """
    x_leaves, x_def = tree_flatten(primals)
    trace = VJPTrace()
    inputs = [trace.record(None, check_input(x, "vjp", i)) for i, x in enumerate(x_leaves)]
    out = fun(*tree_unflatten(x_def, inputs))
    out_leaves, out_def = tree_flatten(out)
    values = [o.primal if isinstance(o, VJPTracer) and o.trace is trace else o for o in out_leaves]

    def pullback(cotangent):
        ct_leaves, ct_def = tree_flatten(cotangent)
        if ct_def != out_def:
            raise ValueError(f"vjp: the cotangent {ct_def} is not structured like the output {out_def}")
        seeds = []
        for k, (o, ct) in enumerate(zip(out_leaves, ct_leaves)):
            ct = check_input(ct, "vjp (cotangent)", k)
            if np.shape(ct) != np.shape(values[k]):
                raise ValueError(f"vjp: cotangent {k} has shape {np.shape(ct)} but the output has "
                                 f"shape {np.shape(values[k])}; a cotangent must match its output")
            if isinstance(o, VJPTracer) and o.trace is trace:  # else it adds nothing
                seeds.append((o.node, ct))
        adjoints = backward_pass(trace.tape, seeds)
        grads = [adjoints[x.node.index] for x in inputs]
        grads = [np.zeros(x.node.shape) if g is None else g for x, g in zip(inputs, grads)]
        return tree_unflatten(x_def, grads)

    return tree_unflatten(out_def, values), pullback
