"""Reverse mode: record the computation on a tape, then sweep it backwards.

The forward sweep stores every intermediate v_i with the operation that made it.
The backward sweep starts from L̄ = ∂L/∂L = 1 and visits the tape from the end:
each v_i, once all its children are done, passes v̄_i · ∂v_i/∂x_j on to each parent x_j,
so that x̄_j = Σ over its children of v̄_child · ∂v_child/∂x_j.
Tape order is the order of execution, so walking it backwards visits children before
parents: a loop, with no recursion over the depth of the graph.
"""
import weakref

import numpy as np

from .core import Trace, Tracer, check_input, shape_of
from .numpy import unbroadcast
from .tree import tree_flatten, tree_unflatten


class VJPTracer(Tracer):
    """A value watched by reverse mode, and its own entry v_i on the tape: how it was made."""

    __slots__ = ("index", "prim", "args", "params", "parents", "shape")

    def __init__(self, trace, primal, prim=None, args=(), params=None, parents=()):
        self.trace, self.primal, self.shape = trace, primal, shape_of(primal)
        self.index, self.prim = len(trace.tape), prim  # prim None: an input of the transform
        self.args, self.params = args, params or {}     # what the VJP rules need
        self.parents = parents                          # [(argument position, VJPTracer)] of this trace
        trace.tape.append(self)


class VJPTrace(Trace):
    def __init__(self):
        super().__init__()
        self.tape = []

    def process(self, prim, args, params):
        primals, parents, nested = list(args), [], False
        for i, a in enumerate(args):
            if type(a) is VJPTracer and a.trace is self:
                primals[i] = a.primal
                nested = nested or isinstance(a.primal, Tracer)
                if prim.vjps[i] is not None:
                    parents.append((i, a))
            elif isinstance(a, Tracer):
                nested = True
        # values of enclosing transforms go on to their traces; plain ones straight to numpy
        value = prim(*primals, **params) if nested else prim.impl(*primals, **params)
        return VJPTracer(self, value, prim, primals, params, parents)


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
            contribution = node.prim.vjps[argnum](g, node.primal, *node.args, **node.params)
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
    return vjp_named(fun, primals, "vjp")


def vjp_named(fun, primals, transform):
    """vjp, with errors about bad inputs naming ``transform`` (grad uses it)."""
    x_leaves, x_def = tree_flatten(primals)
    trace = VJPTrace()
    inputs = [VJPTracer(trace, check_input(x, transform, i)) for i, x in enumerate(x_leaves)]
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
            if shape_of(ct) != shape_of(values[k]):
                raise ValueError(f"vjp: cotangent {k} has shape {np.shape(ct)} but the output has "
                                 f"shape {np.shape(values[k])}; a cotangent must match its output")
            if isinstance(o, VJPTracer) and o.trace is trace:  # else it adds nothing
                seeds.append((o, ct))
        adjoints = backward_pass(trace.tape, seeds)
        grads = [adjoints[x.index] for x in inputs]
        grads = [np.zeros(x.shape) if g is None else g for x, g in zip(inputs, grads)]
        return tree_unflatten(x_def, grads)

    # The tape and its tracers point at each other; clear the tape once the pullback is gone, so
    # that the stored intermediates are freed at once, not when the cycle collector next runs.
    # (A weak reference with a callback: far cheaper than weakref.finalize.)
    trace.on_release = weakref.ref(pullback, lambda _, tape=trace.tape: tape.clear())
    return tree_unflatten(out_def, values), pullback
