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
"""
import itertools

import numpy as np

_levels = itertools.count(1)  # nested transforms always get higher levels than enclosing ones


class Trace:
    """One running transform. Subclasses define ``process(prim, args, params)``."""

    def __init__(self):
        self.level = next(_levels)


class Primitive:
    """An operation with an implementation on arrays and per-argument derivative rules.

    ``jvps[i](t, ans, *args, **params)`` is the output tangent caused by tangent ``t`` of argument i;
    ``vjps[i](g, ans, *args, **params)`` is the cotangent of argument i given the output cotangent ``g``.
    A rule of ``None`` marks an argument that is not differentiable (a condition, an index).
    """

    def __init__(self, name, impl, jvp=(), vjp=()):
        self.name, self.impl, self.jvps, self.vjps = name, impl, jvp, vjp

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
    """A value watched by a transform. Arithmetic operators are attached in adcourse/numpy.py."""

    __slots__ = ("trace", "primal")
    __array_priority__ = 1000

    shape = property(lambda self: np.shape(concrete(self)))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape)))
    dtype = property(lambda self: np.asarray(concrete(self)).dtype)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d traced value")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):  # Python control flow on values is allowed: the branch taken is traced
        return bool(concrete(self))

    # Comparisons give plain boolean arrays: they are piecewise constant, so carry no derivative.
    def __lt__(self, other): return concrete(self) < concrete(other)
    def __le__(self, other): return concrete(self) <= concrete(other)
    def __gt__(self, other): return concrete(self) > concrete(other)
    def __ge__(self, other): return concrete(self) >= concrete(other)
    def __eq__(self, other): return concrete(self) == concrete(other)
    def __ne__(self, other): return concrete(self) != concrete(other)
    __hash__ = object.__hash__

    def __repr__(self):
        return f"{type(self).__name__}(level={self.trace.level}, value={concrete(self)!r})"

    # --- what cannot be differentiated, said clearly ---------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "a traced value was turned into a plain numpy array (np.asarray, np.array, or "
            "assignment into a numpy array), which would cut it out of the derivative. "
            "Build arrays with adcourse.numpy instead: anp.stack, anp.concatenate, anp.where.")

    def __setitem__(self, index, value):
        raise TypeError(
            "in-place assignment x[...] = ... on a traced value cannot be differentiated. "
            "Build a new array instead: anp.where(mask, new, x), anp.concatenate or anp.stack "
            "(import adcourse.numpy as anp).")

    def __float__(self):
        raise TypeError(
            "float() of a traced value would cut it out of the derivative; keep it an array, "
            "or call float() on the result outside the transform.")

    __int__ = __complex__ = __index__ = __float__

    def __array_function__(self, func, types, args, kwargs):
        if func in (np.shape, np.ndim, np.size) and len(args) == 1 and not kwargs:
            return func(concrete(self))  # asking for the shape is fine
        raise TypeError(numpy_misuse_message(f"numpy.{func.__name__}"))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # ``ndarray + tracer`` comes here through numpy: send operators to their adcourse twins.
        from . import numpy as anp
        twin = anp.UFUNC_TWINS.get(ufunc)
        if twin is None or method != "__call__" or kwargs:
            raise TypeError(numpy_misuse_message(f"numpy.{ufunc.__name__}"))
        return twin(*inputs)


def numpy_misuse_message(name):
    from . import numpy as anp
    short = name.split(".")[-1]
    fix = (f"use adcourse.numpy.{short}" if hasattr(anp, short)
           else f"adcourse.numpy has no {short}; write it from the functions adcourse.numpy has")
    return (f"{name} was applied to a traced value; plain numpy cannot be differentiated. "
            f"Use the functions of adcourse.numpy (import adcourse.numpy as anp): {fix}.")


def shape_of(x):
    """np.shape, faster for the arrays, numpy scalars and tracers the engine meets."""
    shape = getattr(x, "shape", None)
    return np.shape(x) if shape is None else shape


def check_input(x, transform, position):
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
        raise TypeError(f"{transform}: argument {position} is not numeric ({type(x).__name__}); "
                        f"pass a float or a float array") from err
    if array.dtype.kind != "f":
        kind = {"i": "integer", "u": "integer", "b": "boolean"}.get(array.dtype.kind, "non-numeric")
        example = " (write 2.0, not 2)" if kind == "integer" else ""
        raise TypeError(f"{transform}: argument {position} has {kind} dtype {array.dtype}; "
                        f"derivatives are taken at float values: pass floats{example} "
                        f"or convert with np.asarray(x, dtype=float)")
    return array[()] if array.ndim == 0 else array
