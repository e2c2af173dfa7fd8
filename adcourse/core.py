"""Primitives, traced values, and the dispatch between them.

A *primitive* is an operation whose derivatives we know: its forward rule
(JVP, ``t ↦ ∂f·t``) and its reverse rule (VJP, ``g ↦ gᵀ∂f``), one per argument.
A transform (``jvp`` in forward.py, ``vjp`` in reverse.py) wraps its inputs in
*tracers*. A primitive applied to a tracer is handed to the tracer's *trace*,
which computes the value and, on the side, the derivative information.

Transforms nest. Every call of ``jvp`` or ``vjp`` opens a trace with a fresh,
higher *level*; a primitive goes to the highest-level trace among its
arguments, and that trace sees values of lower levels as constants. This is
what keeps ``grad(grad(f))`` right and rules out perturbation confusion.

This module imports nothing else of adcourse. What makes a tracer behave like an array
(operators, methods, numpy's protocols) is attached in numpy.py, beside the primitives.
"""
import itertools

import numpy as np

_levels = itertools.count(1)  # nested transforms always get higher levels than enclosing ones


class Trace:
    """One running transform. Subclasses define ``process(prim, args, params)`` for a primitive,
    and ``process_custom_jvp(call, args)`` / ``process_custom_vjp(call, args)`` for a function
    with custom rules (custom.py)."""

    def __init__(self):
        self.level = next(_levels)


class Primitive:
    """An operation with an implementation on arrays and per-argument derivative rules.

    ``jvp[i](t, ans, *args, **params)`` is the output tangent caused by tangent ``t`` of argument i;
    ``vjp[i](g, ans, *args, **params)`` is the cotangent of argument i given the output cotangent ``g``.
    A rule of ``None`` marks an argument that is not differentiable (a condition, an index).
    ``saves`` lists what the VJP rules read, "ans" and argument positions ("args": all of them);
    reverse mode keeps only that on its tape, and of the rest only the shape. None: everything.
    ``linear`` says where the primitive is linear, so that linear_transpose may use its VJP rules
    as the transpose: argument positions, jointly ("args": all of them), or "each" (linear in each
    argument while the others are held fixed, like a product); None: nowhere.
    """

    def __init__(self, name, impl, jvp=(), vjp=(), saves=None, linear=None):
        self.name, self.impl, self.jvp, self.vjp = name, impl, jvp, vjp
        self.saves, self.linear = saves, linear

    def __call__(self, *args, **params):
        top = None
        for a in args:
            if isinstance(a, Tracer) and (top is None or a.trace.level > top.trace.level):
                top = a
        if top is None:  # no transform watches these arguments: plain numpy
            return self.impl(*args, **params)
        return top.trace.process(self, args, params)

    def __repr__(self):
        return f"<primitive {self.name}>"


class EveryArgument:
    """The rule table of a primitive that takes any number of arguments: rule(i, ...) for each i."""

    def __init__(self, rule):
        self.rule = rule

    def __getitem__(self, i):
        return lambda *args, **params: self.rule(i, *args, **params)


def concrete(x):
    """The plain array under any number of tracers."""
    while isinstance(x, Tracer):
        x = x.primal
    return x


class Tracer:
    """A value watched by a transform: its trace, and its value (``primal``) one level down."""

    __slots__ = ("trace", "primal")
    __array_priority__ = 1000

    shape = property(lambda self: np.shape(concrete(self)))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape)))
    dtype = property(lambda self: np.asarray(concrete(self)).dtype)

    def __repr__(self):
        return f"{type(self).__name__}(level={self.trace.level}, value={concrete(self)!r})"


def shape_of(x):
    """np.shape, faster for the arrays, numpy scalars and tracers the engine meets."""
    shape = getattr(x, "shape", None)
    return np.shape(x) if shape is None else shape


def check_input(x, who, position):
    """A transform's input as a float array (or a tracer of an enclosing transform)."""
    if isinstance(x, Tracer):
        return x
    if type(x) is float:
        return np.float64(x)
    if isinstance(x, (np.ndarray, np.floating)) and x.dtype.kind == "f":
        return x[()] if x.ndim == 0 else x  # a 0-d array becomes a numpy scalar: much faster
    try:
        array = np.asarray(x)
    except Exception as err:
        raise TypeError(f"{who}: argument {position} is not numeric ({type(x).__name__}); "
                        f"pass a float or a float array") from err
    if array.dtype.kind != "f":
        kind = {"i": "integer", "u": "integer", "b": "boolean"}.get(array.dtype.kind, "non-numeric")
        example = " (write 2.0, not 2)" if kind == "integer" else ""
        raise TypeError(f"{who}: argument {position} has {kind} dtype {array.dtype}; "
                        f"derivatives are taken at float values: pass floats{example} "
                        f"or convert with np.asarray(x, dtype=float)")
    return array[()] if array.ndim == 0 else array
