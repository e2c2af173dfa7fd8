"""Reverse mode: record the computation on a tape, then sweep it backwards.

The forward sweep stores, for every intermediate v_i, the operation that made it.
The backward sweep starts from L̄ = ∂L/∂L = 1 and visits the tape from the end:
each v_i, once all its children are done, passes v̄_i · ∂v_i/∂x_j on to each parent x_j,
so that x̄_j = Σ over its children of v̄_child · ∂v_child/∂x_j.
Tape order is the order of execution, so walking it backwards visits children before
parents: a loop, with no recursion over the depth of the graph.

``record(fun, primals)`` is the one way in: it returns fun's output, the pullback, and the
tape itself (for the lecture's tables in graph.py and the memory counts of checkpoint.py).
A tape that keeps every value can also be swept forwards (``forward_sweep``): that is the
linearized function, whose transpose the backward sweep computes.
"""
from dataclasses import dataclass

import numpy as np

from .core import Primitive, Trace, Tracer, check_input, shape_of
from .forward import push_tangent
from .numpy import concatenate, getitem, ravel, reshape, unbroadcast
from .tree import tree_flatten, tree_unflatten


class Node:
    """One entry v_i of the tape: the primitive that made it, its value and arguments as far as its
    VJP rules read them (``prim.saves``; of the rest only the shape, see Unsaved), and its
    parents — the traced arguments, as (argument position, Node)."""

    __slots__ = ("prim", "ans", "args", "params", "parents", "shape", "index")

    def __init__(self, tape, prim, ans, args=(), params=None, parents=(), keep_all=True):
        saves = None if keep_all else prim.saves
        shape = getattr(ans, "shape", None)  # (shape_of, inlined: this runs once per operation)
        self.shape = np.shape(ans) if shape is None else shape
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

    def owns(self, value):
        return type(value) is VJPTracer and value.trace is self

    def unwrap_call(self, call, args):
        """(the leaves of a custom call's differentiable arguments, those arguments one level
        down, its other arguments)."""
        diff, nondiff = call.split(args)
        leaves, treedef = tree_flatten(diff)
        return leaves, tree_unflatten(treedef, [v.primal if self.owns(v) else v for v in leaves]), nondiff

    def process_custom_jvp(self, call, args):
        """A custom JVP rule under reverse mode: the backward sweep transposes it (as the VJP of
        the tangent map, which is linear), and enclosing transforms apply their own rules."""
        leaves, primals, nondiff = self.unwrap_call(call, args)
        treedef = tree_flatten(primals)[1]
        out = call(*call.join(primals, nondiff))

        def tangent_map(*tangents):
            return call.rule(nondiff, primals, tree_unflatten(treedef, tangents))[1]

        def pull(cotangent):
            zeros = [np.zeros(shape_of(x)) for x in tree_flatten(primals)[0]]
            return vjp(tangent_map, *zeros)[1](cotangent)

        return self.custom_node(f"custom_jvp({call.__name__})", leaves, out, pull, lambda ts: tangent_map(*ts))

    def process_custom_vjp(self, call, args):
        """A custom VJP rule: fwd now (its code runs one level down), bwd in the backward sweep."""
        leaves, primals, nondiff = self.unwrap_call(call, args)
        out, residuals = call.forward(call.join(primals, nondiff))

        def pull(cotangent):
            return tree_flatten(call.backward(nondiff, residuals, cotangent, primals))[0]

        def push(tangents):
            raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")

        return self.custom_node(f"custom_vjp({call.__name__})", leaves, out, pull, push)

    def custom_node(self, name, leaves, out, pull, push):
        """One node for a call with custom rules, from the traced ``leaves`` to the leaves of
        ``out``: both packed into flat vectors, so that the rule runs once per sweep.
        ``pull(ḡ as out's tree)`` gives a cotangent per leaf; ``push(tangent per leaf)`` the tangent."""
        mine = [self.owns(v) for v in leaves]
        in_shapes = [shape_of(v) for v in leaves]
        traced_shapes = [s for s, m in zip(in_shapes, mine) if m]
        out_leaves, out_def = tree_flatten(out)
        out_shapes = [shape_of(o) for o in out_leaves]

        def vjp_rule(g, ans, x):
            cotangents = pull(tree_unflatten(out_def, unpack(g, out_shapes)))
            return concatenate([ravel(c) for c, m in zip(cotangents, mine) if m])

        def jvp_rule(t, ans, x):
            pieces = iter(unpack(t, traced_shapes))
            tangents = [next(pieces) if m else np.zeros(s) for s, m in zip(in_shapes, mine)]
            return concatenate([ravel(o) for o in tree_flatten(push(tangents))[0]])

        packed_in = concatenate([ravel(v) for v, m in zip(leaves, mine) if m])  # on the tape
        packed_out = concatenate([ravel(o) for o in out_leaves])
        prim = Primitive(name, None, jvp=(jvp_rule,), vjp=(vjp_rule,), saves=())
        node = Node(self.tape, prim, packed_out, [packed_in.primal], {}, [(0, packed_in.node)], self.keep_all)
        return tree_unflatten(out_def, unpack(VJPTracer(self, packed_out, node), out_shapes))


def unpack(vector, shapes):
    """A flat vector cut into arrays of the given shapes, in order."""
    pieces, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        pieces.append(reshape(getitem(vector, index=slice(start, start + size)), shape))
        start += size
    return pieces


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


def forward_sweep(tape, tangents):
    """Tangents v̇_i of every node from one tangent per input, node by node in tape order: the
    lecture's forward step on a recorded tape (which must keep every value, ``keep_all``).
    As a function of the input tangents this is the linearized function; the backward sweep
    computes its transpose."""
    tangent = {node.index: t for node, t in zip(tape.inputs, tangents)}
    for node in tape.nodes:
        if node.prim is not None:
            incoming = [None] * len(node.args)  # the tangents of the traced arguments
            for argnum, parent in node.parents:
                incoming[argnum] = tangent[parent.index]
            tangent[node.index] = push_tangent(node.prim, node.ans, node.args, node.params, incoming)
    return tangent


def ancestors(tape, nodes):
    """The indices of ``nodes`` and of every node they depend on."""
    needed = {node.index for node in nodes}
    for node in reversed(tape.nodes[:max(needed, default=-1) + 1]):
        if node.index in needed:
            needed.update(parent.index for _, parent in node.parents)
    return needed


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
    about bad inputs name ``who``. The tape keeps what the VJP rules read (everything: keep_all);
    ``pullback(ḡ, release=True)`` frees it as it goes, for a tape that is swept only once.
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
