"""Differentiable numpy: each primitive with its forward rule (JVP) and reverse rule (VJP) side by side.

    jvp rule:  (t, ans, *args) -> the output tangent caused by the tangent t of one argument
    vjp rule:  (g, ans, *args) -> the cotangent of one argument, given the output cotangent g

``ans`` is the primitive's output, ``args`` its inputs. The engine sums contributions over
arguments and undoes broadcasting, so rules need not. Rules are written with the functions of
this module, so they are differentiable themselves: that is all higher derivatives need.
Everything after the primitives is composed of them, so it is differentiable for free.

Use it as ``import adcourse.numpy as anp`` inside functions you want to differentiate;
``anp.linalg`` holds numpy.linalg's twins.
"""
import builtins as _builtins
import operator
import string as _string
from collections import namedtuple as _namedtuple
from types import SimpleNamespace as _Namespace

import numpy as _np
from numpy import (e, eye, float32, float64, full, inf, linspace, arange, nan,  # noqa: F401
                   newaxis, ones, pi, zeros)

from .core import EveryArgument, Primitive, Tracer, concrete

shape, ndim = _np.shape, _np.ndim  # both work on traced values too


def elementwise(impl, *partials, saves, name=None):
    """A primitive applied element by element, given its local partial derivatives ∂ans/∂x_i.

    Then JVP = t · ∂ans/∂x_i and VJP = g · ∂ans/∂x_i: the chain rule of the lecture, elementwise.
    ``saves`` says what the partials read ("ans", argument positions), all the tape keeps.
    """
    return Primitive(name or impl.__name__, impl,
                     jvp=tuple(lambda t, ans, *xs, d=d: t * d(ans, *xs) for d in partials),
                     vjp=tuple(lambda g, ans, *xs, d=d: g * d(ans, *xs) for d in partials), saves=saves)


# --- arithmetic (operator.mul and friends: numpy's own operators, without the ufunc call's cost
#     on scalars) -----------------------------------------------------------------------------
add = Primitive("add", operator.add,
                jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: t),
                vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: g), saves=(), linear="args")
subtract = Primitive("subtract", operator.sub,
                     jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: -t),
                     vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: -g), saves=(), linear="args")
negative = Primitive("negative", operator.neg,
                     jvp=(lambda t, ans, x: -t,), vjp=(lambda g, ans, x: -g,), saves=(), linear="args")
multiply = Primitive("multiply", operator.mul,
                     jvp=(lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t),
                     vjp=(lambda g, ans, x, y: g * y, lambda g, ans, x, y: x * g), saves=(0, 1), linear="each")
divide = Primitive("divide", operator.truediv,
                   jvp=(lambda t, ans, x, y: t / y, lambda t, ans, x, y: -t * ans / y),
                   vjp=(lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y), saves=("ans", 1),
                   linear=(0,))
power = elementwise(operator.pow,
                    lambda ans, x, y: y * x ** (y - 1),
                    lambda ans, x, y: ans * log(where(x == 0, 1.0, x)),  # JAX's convention at x = 0
                    saves=("ans", 0, 1))


def _floor_quotient(x, y):
    """⌊x/y⌋: piecewise constant, so a plain array."""
    return _np.floor_divide(concrete(x), concrete(y))


mod = elementwise(operator.mod, lambda ans, x, y: 1.0,                # x mod y = x − ⌊x/y⌋·y
                  lambda ans, x, y: -_floor_quotient(x, y), saves=(0, 1), name="mod")
remainder = mod


# --- elementwise functions: f and f' -----------------------------------------------------------
ANS, X = ("ans",), (0,)  # what a unary function's derivative reads: its value, or its argument
exp = elementwise(_np.exp, lambda ans, x: ans, saves=ANS)
exp2 = elementwise(_np.exp2, lambda ans, x: ans * _np.log(2.0), saves=ANS)
expm1 = elementwise(_np.expm1, lambda ans, x: ans + 1.0, saves=ANS)
log = elementwise(_np.log, lambda ans, x: 1.0 / x, saves=X)    # 1/0 = inf at 0, as in JAX
log2 = elementwise(_np.log2, lambda ans, x: 1.0 / (x * _np.log(2.0)), saves=X)
log10 = elementwise(_np.log10, lambda ans, x: 1.0 / (x * _np.log(10.0)), saves=X)
log1p = elementwise(_np.log1p, lambda ans, x: 1.0 / (1.0 + x), saves=X)
sqrt = elementwise(_np.sqrt, lambda ans, x: 0.5 / ans, saves=ANS)  # inf at 0, as in JAX
sin = elementwise(_np.sin, lambda ans, x: cos(x), saves=X)
cos = elementwise(_np.cos, lambda ans, x: -sin(x), saves=X)
tan = elementwise(_np.tan, lambda ans, x: 1.0 + ans * ans, saves=ANS)
arcsin = elementwise(_np.arcsin, lambda ans, x: 1.0 / sqrt(1.0 - x * x), saves=X)
arccos = elementwise(_np.arccos, lambda ans, x: -1.0 / sqrt(1.0 - x * x), saves=X)
arctan = elementwise(_np.arctan, lambda ans, x: 1.0 / (1.0 + x * x), saves=X)
arctan2 = elementwise(_np.arctan2, lambda ans, y, x: x / (x * x + y * y),  # the angle of (x, y)
                      lambda ans, y, x: -y / (x * x + y * y), saves=(0, 1))
hypot = elementwise(_np.hypot, lambda ans, x, y: x / ans, lambda ans, x, y: y / ans, saves=("ans", 0, 1))
sinh = elementwise(_np.sinh, lambda ans, x: cosh(x), saves=X)
cosh = elementwise(_np.cosh, lambda ans, x: sinh(x), saves=X)
tanh = elementwise(_np.tanh, lambda ans, x: 1.0 - ans * ans, saves=ANS)
sigmoid = elementwise(lambda x: 0.5 * (_np.tanh(0.5 * x) + 1.0), lambda ans, x: ans * (1.0 - ans),
                      saves=ANS, name="sigmoid")               # 1/(1+e^-x), without overflow
abs = elementwise(_np.abs, lambda ans, x: _np.where(concrete(x) >= 0, 1.0, -1.0), saves=X)  # 1 at 0, as JAX
absolute = fabs = abs
sign = elementwise(_np.sign, lambda ans, x: 0.0, saves=())     # piecewise constant
relu = elementwise(lambda x: _np.maximum(x, 0.0), lambda ans, x: concrete(ans) > 0, saves=ANS, name="relu")


def _share_of_max(x, y):
    """∂max(x, y)/∂x: 1 where x wins, 1/2 on a tie (JAX's convention), 0 where y wins."""
    x, y = concrete(x), concrete(y)
    return _np.where(x > y, 1.0, _np.where(x == y, 0.5, 0.0))


maximum = elementwise(_np.maximum, lambda ans, x, y: _share_of_max(x, y),
                      lambda ans, x, y: _share_of_max(y, x), saves=(0, 1))
where = Primitive("where", _np.where,
                  jvp=(None, lambda t, ans, c, x, y: where(c, t, 0.0),
                       lambda t, ans, c, x, y: where(c, 0.0, t)),
                  vjp=(None, lambda g, ans, c, x, y: where(c, g, 0.0),
                       lambda g, ans, c, x, y: where(c, 0.0, g)), saves=(0,), linear=(1, 2))


# --- linear algebra ----------------------------------------------------------------------------
# numpy's matmul treats a 1-d left operand as a row (n,) -> (1, n) and a 1-d right operand as a
# column (n,) -> (n, 1), then drops that axis from the result. The rules below put the dropped
# axis back into g, apply the matrix rules G Bᵀ and Aᵀ G, and take it out again; the engine then
# sums the batch axes that broadcasting added.
def _matmul_vjp_x(g, ans, x, y):
    if ndim(y) == 1:                                   # A v: ∂/∂A = g vᵀ
        return g * y if ndim(x) == 1 else expand_dims(g, -1) * y
    if ndim(x) == 1:                                   # xᵀ B, B possibly batched: gᵀ Bᵀ as a row
        return squeeze(expand_dims(g, -2) @ swapaxes(y, -1, -2), -2)
    return g @ swapaxes(y, -1, -2)                     # G Bᵀ


def _matmul_vjp_y(g, ans, x, y):
    if ndim(x) == 1:                                   # xᵀ B: ∂/∂B = x gᵀ
        return g * x if ndim(y) == 1 else expand_dims(x, -1) * expand_dims(g, -2)
    if ndim(y) == 1:                                   # A v, A possibly batched: Aᵀ g as a column
        return squeeze(swapaxes(x, -1, -2) @ expand_dims(g, -1), -1)
    return swapaxes(x, -1, -2) @ g                     # Aᵀ G


matmul = Primitive("matmul", operator.matmul,
                   jvp=(lambda t, ans, x, y: t @ y, lambda t, ans, x, y: x @ t),
                   vjp=(_matmul_vjp_x, _matmul_vjp_y), saves=(0, 1), linear="each")


# einsum is linear in each operand: its JVP puts the tangent in the operand's place, and its VJP is
# another einsum, of g with the other operands, back onto the operand's subscripts.
def _einsum_cotangent(i, g, ans, *operands, spec):
    """ḡ_i for out = einsum(spec, *operands). A letter repeated in operand i (a diagonal, as in
    'ii->') gets an identity matrix that puts g back on that diagonal; a letter only operand i has
    was summed away, so the cotangent is constant along it (broadcast)."""
    inputs, output = spec
    target = list(inputs[i])
    subscripts = [s for j, s in enumerate(inputs) if j != i] + [output]
    others = [o for j, o in enumerate(operands) if j != i] + [g]
    fresh = iter(sorted(set(_string.ascii_letters) - set("".join(inputs))))
    for k, letter in enumerate(target):
        if letter in target[:k]:                       # repeated: a diagonal
            target[k] = next(fresh)
            subscripts.append(letter + target[k])
            others.append(_np.eye(shape(operands[i])[k]))
    present = set("".join(subscripts))
    cotangent = _einsum(*others, spec=(tuple(subscripts), "".join(l for l in target if l in present)))
    sizes = iter(shape(cotangent))
    with_ones = tuple(next(sizes) if l in present else 1 for l in target)
    full_shape = tuple(n if l in present else shape(operands[i])[k]
                       for k, (l, n) in enumerate(zip(target, with_ones)))
    return broadcast_to(reshape(cotangent, with_ones), full_shape)


def _einsum_impl(*operands, spec):
    return _np.einsum(",".join(spec[0]) + "->" + spec[1], *operands, optimize=len(operands) > 1)


_einsum = Primitive("einsum", _einsum_impl,
                    jvp=EveryArgument(lambda i, t, ans, *ops, spec:
                                      _einsum(*ops[:i], t, *ops[i + 1:], spec=spec)),
                    vjp=EveryArgument(_einsum_cotangent), saves=("args",), linear="each")


# --- reductions --------------------------------------------------------------------------------
def _axes(axis, nd):
    axes = range(nd) if axis is None else (axis,) if _np.ndim(axis) == 0 else axis
    return tuple(sorted(a % nd for a in axes))


def _kept_shape(x_shape, axis):
    """The shape of a reduction over ``axis`` with keepdims=True."""
    axes = _axes(axis, len(x_shape))
    return tuple(1 if i in axes else n for i, n in enumerate(x_shape))


def _sum_vjp(g, ans, x, axis=None, keepdims=False):
    return broadcast_to(reshape(g, _kept_shape(shape(x), axis)), shape(x))


sum = Primitive("sum", _np.sum,
                jvp=(lambda t, ans, x, axis=None, keepdims=False: sum(t, axis=axis, keepdims=keepdims),),
                vjp=(_sum_vjp,), saves=(), linear="args")


def _share_of_extreme(ans, x, axis):
    """∂max(x)/∂x (or min): 1/k at each of the k entries equal to the extreme (JAX splits ties
    evenly), 0 elsewhere. Piecewise constant, so a plain array."""
    hit = concrete(x) == _np.reshape(concrete(ans), _kept_shape(shape(x), axis))
    return hit / _np.sum(hit, axis=_axes(axis, ndim(x)), keepdims=True)


def _extreme(name, impl):
    return Primitive(name, impl,
                     jvp=(lambda t, ans, x, axis=None, keepdims=False:
                          sum(t * _share_of_extreme(ans, x, axis), axis=axis, keepdims=keepdims),),
                     vjp=(lambda g, ans, x, axis=None, keepdims=False:
                          reshape(g, _kept_shape(shape(x), axis)) * _share_of_extreme(ans, x, axis),),
                     saves=("ans", 0))


max = amax = _extreme("max", _np.max)
min = amin = _extreme("min", _np.min)


def _logsumexp(x, axis=None, keepdims=False):
    top = _np.max(x, axis=axis, keepdims=True)
    top = _np.where(_np.isfinite(top), top, 0.0)
    out = _np.log(_np.sum(_np.exp(x - top), axis=axis, keepdims=True)) + top
    return out if keepdims else _np.reshape(out, _np.shape(_np.sum(x, axis=axis)))


def _softmax_from(ans, x, axis):  # ∂ logsumexp(x) / ∂x = softmax(x)
    return exp(x - reshape(ans, _kept_shape(shape(x), axis)))


logsumexp = Primitive(
    "logsumexp", _logsumexp,
    jvp=(lambda t, ans, x, axis=None, keepdims=False:
         sum(t * _softmax_from(ans, x, axis), axis=axis, keepdims=keepdims),),
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         reshape(g, _kept_shape(shape(x), axis)) * _softmax_from(ans, x, axis),), saves=("ans", 0))
_cumsum = Primitive("cumsum", lambda x, axis: _np.cumsum(x, axis=axis),     # a running sum is linear;
                    jvp=(lambda t, ans, x, axis: _cumsum(t, axis=axis),),    # its transpose runs
                    vjp=(lambda g, ans, x, axis:                             # from the other end
                         flip(_cumsum(flip(g, axis), axis=axis), axis),), saves=(), linear="args")


# --- shapes and indexing (linear: the rules move numbers around, nothing else) -----------------
reshape = Primitive("reshape", _np.reshape,
                    jvp=(lambda t, ans, x, shape: reshape(t, shape),),
                    vjp=(lambda g, ans, x, shape: reshape(g, _np.shape(x)),), saves=(), linear=(0,))
transpose = Primitive("transpose", _np.transpose,
                      jvp=(lambda t, ans, x, axes=None: transpose(t, axes),),
                      vjp=(lambda g, ans, x, axes=None:
                           transpose(g, None if axes is None else tuple(_np.argsort(axes))),), saves=(),
                      linear=(0,))
broadcast_to = Primitive("broadcast_to", _np.broadcast_to,
                         jvp=(lambda t, ans, x, shape: broadcast_to(t, shape),),
                         vjp=(lambda g, ans, x, shape: g,), saves=(), linear=(0,))  # the engine sums g back
tril = Primitive("tril", _np.tril, jvp=(lambda t, ans, x, k=0: tril(t, k),),
                 vjp=(lambda g, ans, x, k=0: tril(g, k),), saves=(), linear=(0,))
triu = Primitive("triu", _np.triu, jvp=(lambda t, ans, x, k=0: triu(t, k),),
                 vjp=(lambda g, ans, x, k=0: triu(g, k),), saves=(), linear=(0,))
_astype = Primitive("astype", lambda x, dtype: _np.asarray(x).astype(dtype),
                    jvp=(lambda t, ans, x, dtype: _astype(t, dtype=dtype),),
                    vjp=(lambda g, ans, x, dtype: _astype(g, dtype=x.dtype),), saves=(0,), linear=(0,))


def _is_basic(index):
    index = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, _np.integer, slice)) or i is None or i is Ellipsis for i in index)


def _scatter_add(g, index, shape):
    """Zeros of ``shape`` with g added at ``index``: the adjoint of reading x[index]."""
    out = _np.zeros(shape, dtype=_np.result_type(g, _np.float64))
    if _is_basic(index):
        out[index] = g           # a slice never repeats an element
    else:
        _np.add.at(out, index, g)
    return out


scatter_add = Primitive("scatter_add", _scatter_add,
                        jvp=(lambda t, ans, g, index, shape: scatter_add(t, index=index, shape=shape),),
                        vjp=(lambda g, ans, t, index, shape: getitem(g, index=index),), saves=(), linear=(0,))
getitem = Primitive("getitem", lambda x, index: x[index],
                    jvp=(lambda t, ans, x, index: getitem(t, index=index),),
                    vjp=(lambda g, ans, x, index: scatter_add(g, index=index, shape=shape(x)),), saves=(),
                    linear=(0,))


def _concatenate_jvp(i, t, ans, *xs, axis=0):
    return _concatenate(*[t if j == i else zeros(shape(x)) for j, x in enumerate(xs)], axis=axis)


def _concatenate_vjp(i, g, ans, *xs, axis=0):
    start = _np.sum([shape(x)[axis] for x in xs[:i]], dtype=int)
    return getitem(g, index=_along(axis, ndim(g), slice(start, start + shape(xs[i])[axis])))


_concatenate = Primitive("concatenate", lambda *xs, axis=0: _np.concatenate(xs, axis=axis),
                         jvp=EveryArgument(_concatenate_jvp), vjp=EveryArgument(_concatenate_vjp), saves=(),
                         linear="args")


def _along(axis, nd, index):
    """The index tuple that applies ``index`` (a slice or an integer array) along one axis."""
    return (slice(None),) * (axis % nd) + (index,)


# --- composites: built from the primitives above, so differentiable for free -------------------
def concatenate(arrays, axis=0):
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    return _concatenate(*arrays, axis=axis)


def stack(arrays, axis=0):
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def array(obj, dtype=None):
    """numpy.array, also of (nested) lists of traced values, which are stacked as jnp.array does."""
    if isinstance(obj, Tracer):
        return obj if dtype is None else astype(obj, dtype)
    if isinstance(obj, (list, tuple)) and _holds_tracer(obj):
        out = stack([array(item) for item in obj])
        return out if dtype is None else astype(out, dtype)
    return _np.array(obj, dtype=dtype)


def asarray(obj, dtype=None):
    return array(obj, dtype) if isinstance(obj, (list, tuple, Tracer)) else _np.asarray(obj, dtype)


def _holds_tracer(obj):
    if isinstance(obj, (list, tuple)):
        return _builtins.any(_holds_tracer(item) for item in obj)
    return isinstance(obj, Tracer)


def astype(x, dtype):
    """x as ``dtype``: a float type carries the derivative over; any other type gives plain values
    (piecewise constant, derivative zero, as in JAX)."""
    if _np.dtype(dtype).kind != "f":
        return _np.asarray(concrete(x)).astype(dtype)
    return x if _np.result_type(concrete(x)) == dtype else _astype(x, dtype=_np.dtype(dtype))


def expand_dims(x, axis):
    axes = _axes(axis, ndim(x) + (1 if _np.ndim(axis) == 0 else len(axis)))
    s = iter(shape(x))
    return reshape(x, tuple(1 if i in axes else next(s) for i in range(ndim(x) + len(axes))))


def squeeze(x, axis=None):
    """x without its axes of length 1 (only ``axis``, if given)."""
    axes = [i for i, n in enumerate(shape(x)) if n == 1] if axis is None else _axes(axis, ndim(x))
    for i in axes:
        if shape(x)[i] != 1:
            raise ValueError(f"squeeze: axis {i} has length {shape(x)[i]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(shape(x)) if i not in axes))


def swapaxes(x, a, b):
    axes = list(range(ndim(x)))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, tuple(axes))


def moveaxis(x, source, destination):
    source, destination = ([a % ndim(x) for a in _np.atleast_1d(axes)] for axes in (source, destination))
    order = [i for i in range(ndim(x)) if i not in source]
    for d, s in sorted(zip(destination, source)):
        order.insert(d, s)
    return x if order == list(range(ndim(x))) else transpose(x, tuple(order))


def ravel(x):
    return reshape(x, (-1,))


flatten = ravel


def atleast_1d(x):
    return reshape(x, (1,)) if ndim(x) == 0 else x


def atleast_2d(x):
    return reshape(x, (1,) * (2 - ndim(x)) + shape(x)) if ndim(x) < 2 else x


def vstack(arrays):
    return concatenate([atleast_2d(a) for a in arrays], axis=0)


def hstack(arrays):
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, axis=0 if ndim(arrays[0]) == 1 else 1)


def append(x, values, axis=None):
    return concatenate([x, values], axis=axis)


def array_split(x, indices_or_sections, axis=0):
    """Pieces of x along ``axis``: k nearly equal ones (the first n mod k one longer), or cut at
    the given indices."""
    n = shape(x)[axis]
    if _np.ndim(indices_or_sections) == 0:
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError("number sections must be larger than 0.")
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
        cuts = _np.cumsum([0] + sizes)
    else:
        cuts = [0] + list(indices_or_sections) + [n]
    return [getitem(x, index=_along(axis, ndim(x), slice(start, stop)))
            for start, stop in zip(cuts[:-1], cuts[1:])]


def split(x, indices_or_sections, axis=0):
    if _np.ndim(indices_or_sections) == 0 and shape(x)[axis] % int(indices_or_sections):
        raise ValueError("array split does not result in an equal division")
    return array_split(x, indices_or_sections, axis)


def flip(x, axis=None):
    index = [slice(None)] * ndim(x)
    for a in _axes(axis, ndim(x)):
        index[a] = slice(None, None, -1)
    return getitem(x, index=tuple(index))


def roll(x, shift, axis=None):
    """x shifted cyclically by ``shift`` along ``axis``: the last entries come round to the front."""
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), shape(x))
    for s, a in zip(*_np.broadcast_arrays(_np.atleast_1d(shift), _np.atleast_1d(axis))):
        n = shape(x)[a]
        s = int(s) % n if n else 0
        if s:
            x = concatenate([getitem(x, index=_along(a, ndim(x), slice(n - s, None))),
                             getitem(x, index=_along(a, ndim(x), slice(0, n - s)))], axis=a)
    return x


def repeat(x, repeats, axis=None):
    """Each entry repeated: a gather, so its VJP adds the copies back up."""
    if axis is None:
        x, axis = ravel(x), 0
    picks = _np.repeat(_np.arange(shape(x)[axis]), repeats)
    return getitem(x, index=_along(axis, ndim(x), picks))


def tile(x, reps):
    """x repeated as blocks: as (1, n₀, 1, n₁, …) broadcast to (r₀, n₀, r₁, n₁, …) and merged."""
    reps = (reps,) if _np.ndim(reps) == 0 else tuple(reps)
    d = _builtins.max(len(reps), ndim(x))
    reps, x = (1,) * (d - len(reps)) + reps, reshape(x, (1,) * (d - ndim(x)) + shape(x))
    blocks = broadcast_to(reshape(x, tuple(v for n in shape(x) for v in (1, n))),
                          tuple(v for r, n in zip(reps, shape(x)) for v in (r, n)))
    return reshape(blocks, tuple(r * n for r, n in zip(reps, shape(x))))


def _diagonal_indices(m, n, offset):
    """Rows and columns of the ``offset``-th diagonal of an m × n matrix."""
    row, col = _builtins.max(-offset, 0), _builtins.max(offset, 0)
    count = _builtins.max(0, _builtins.min(m - row, n - col))
    return row + _np.arange(count), col + _np.arange(count)


def diagonal(x, offset=0, axis1=0, axis2=1):
    x = moveaxis(x, (axis1, axis2), (-2, -1))
    return getitem(x, index=(Ellipsis,) + _diagonal_indices(*shape(x)[-2:], offset))


def diag(v, k=0):
    """The k-th diagonal of a matrix, or a square matrix with v on its k-th diagonal."""
    if ndim(v) == 1:
        n = shape(v)[0] + _builtins.abs(k)
        return scatter_add(v, index=_diagonal_indices(n, n, k), shape=(n, n))
    if ndim(v) == 2:
        return diagonal(v, k)
    raise ValueError("Input must be 1- or 2-d.")


def trace(x, offset=0, axis1=0, axis2=1):
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


def cumsum(x, axis=None):
    return _cumsum(ravel(x), axis=0) if axis is None else _cumsum(x, axis=axis % ndim(x))


def prod(x, axis=None, keepdims=False):
    """Π x over ``axis``, as a tree of pairwise products (as JAX computes its derivative): the
    engine differentiates it through multiply, right with zeros anywhere, where Π x / x_i is not."""
    axes = _axes(axis, ndim(x))
    rest = tuple(i for i in range(ndim(x)) if i not in axes)
    out_shape = _kept_shape(shape(x), axis) if keepdims else tuple(shape(x)[i] for i in rest)
    n = int(_np.prod([shape(x)[a] for a in axes]))
    if n == 0:
        return ones(out_shape)
    x = reshape(transpose(x, axes + rest), (n,) + tuple(shape(x)[i] for i in rest))
    while n > 1:  # x[0] x[1], x[2] x[3], ... (and the odd one out), until one row is left
        pairs = getitem(x, index=slice(0, n - 1, 2)) * getitem(x, index=slice(1, None, 2))
        x = concatenate([pairs, getitem(x, index=slice(n - 1, None))]) if n % 2 else pairs
        n = shape(x)[0]
    return reshape(x, out_shape)


def mean(x, axis=None, keepdims=False):
    count = _np.prod([shape(x)[a] for a in _axes(axis, ndim(x))])
    return sum(x, axis=axis, keepdims=keepdims) / count


def var(x, axis=None, ddof=0, keepdims=False):
    """Σ (x − mean)² / (N − ddof) over ``axis``."""
    count = _np.prod([shape(x)[a] for a in _axes(axis, ndim(x))])
    centred = x - mean(x, axis=axis, keepdims=True)
    return sum(centred * centred, axis=axis, keepdims=keepdims) / (count - ddof)


def std(x, axis=None, ddof=0, keepdims=False):
    return sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims))


def square(x):
    return x * x


def minimum(x, y):
    return -maximum(-x, -y)


def clip(x, a_min=None, a_max=None):
    """x limited to [a_min, a_max], as JAX's maximum then minimum: a tie with a bound splits ½–½."""
    if a_min is not None:
        x = maximum(a_min, x)
    return x if a_max is None else minimum(a_max, x)


def einsum(subscripts, *operands):
    """numpy.einsum on a subscripts string (explicit '->' or implicit output, '...' allowed)."""
    if not isinstance(subscripts, str):
        raise TypeError("einsum: pass the subscripts as a string, e.g. anp.einsum('ij,jk->ik', a, b)")
    inputs, _, output = subscripts.replace(" ", "").partition("->")
    inputs = inputs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum: {len(inputs)} subscripts for {len(operands)} operands")
    if "->" not in subscripts:  # implicit: the letters used once, in alphabetical order
        letters = "".join(inputs).replace(".", "")
        output = ("..." if "..." in subscripts else "") + "".join(
            sorted(l for l in set(letters) if letters.count(l) == 1))
    spare = iter(sorted(set(_string.ascii_letters) - set(subscripts)))
    ellipsis = "".join(next(spare) for _ in range(_builtins.max(
        [ndim(o) - len(s.replace("...", "")) for s, o in zip(inputs, operands) if "..." in s], default=0)))
    inputs = tuple(s.replace("...", ellipsis[len(ellipsis) - (ndim(o) - len(s) + 3):] if "..." in s else "")
                   for s, o in zip(inputs, operands))
    return _einsum(*operands, spec=(inputs, output.replace("...", ellipsis)))


def tensordot(a, b, axes=2):
    """Σ over ``axes`` of a's and b's entries: a's last k axes against b's first k (axes = k),
    or the listed axes of each; computed as the einsum it is."""
    if _np.ndim(axes) == 0:
        axes = (list(range(ndim(a) - axes, ndim(a))), list(range(axes)))
    a_axes, b_axes = ([x % n for x in _np.atleast_1d(ax)] for ax, n in zip(axes, (ndim(a), ndim(b))))
    letters = iter(_string.ascii_letters)
    a_sub = [next(letters) for _ in range(ndim(a))]
    b_sub = [next(letters) for _ in range(ndim(b))]
    for i, j in zip(a_axes, b_axes):
        b_sub[j] = a_sub[i]
    out = [l for k, l in enumerate(a_sub) if k not in a_axes] + [l for k, l in enumerate(b_sub) if k not in b_axes]
    return _einsum(a, b, spec=(("".join(a_sub), "".join(b_sub)), "".join(out)))


def dot(a, b):
    """numpy.dot: dot(a, b)[i…, k…, m] = Σ_j a[i…, j] b[k…, j, m] (b's last axis if b is 1-d).

    Up to 2-d, and whenever b is 1-d or 2-d, that is matmul; above, b's contracted axis is moved
    to the front and the rest of b flattened, so that one matmul does it.
    """
    if ndim(a) == 0 or ndim(b) == 0:
        return a * b
    if ndim(b) <= 2:
        return matmul(a, b)
    nb = ndim(b)
    b_rows = reshape(transpose(b, (nb - 2,) + tuple(range(nb - 2)) + (nb - 1,)), (shape(b)[-2], -1))
    return reshape(matmul(a, b_rows), shape(a)[:-1] + shape(b)[:-2] + shape(b)[-1:])


def vdot(a, b):
    return sum(ravel(a) * ravel(b))


def outer(a, b):
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def softmax(x, axis=-1):
    return exp(x - logsumexp(x, axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    return x - logsumexp(x, axis=axis, keepdims=True)


def zeros_like(x):
    return _np.zeros(shape(x))


def ones_like(x):
    return _np.ones(shape(x))


def unbroadcast(g, target_shape):
    """Sum g over the axes that broadcasting added or stretched, to give it ``target_shape``."""
    g_shape = shape(g)
    if g_shape == target_shape:
        return g
    lead = len(g_shape) - len(target_shape)
    stretched = tuple(lead + i for i, n in enumerate(target_shape) if n == 1 and g_shape[lead + i] != 1)
    return reshape(sum(g, axis=tuple(range(lead)) + stretched), target_shape)


# --- numpy.linalg: matrices in the last two axes, batches in front ------------------------------
def _mT(a):
    return swapaxes(a, -1, -2)


def _between_inverses(L, X):
    """L⁻¹ X L⁻ᵀ, by two solves."""
    return _mT(_solve(L, _mT(_solve(L, X))))


def _lower_half(X):
    """Φ(X): the lower triangle of X with its diagonal halved."""
    return tril(X) * (1.0 - 0.5 * _np.eye(shape(X)[-1]))


def _inverse_transpose(a):
    """a⁻ᵀ = ∂ log|det a| / ∂a."""
    return _mT(inv(a))


def _eigenvalue_gaps(w):
    """F_ij = 1 / (w_j − w_i) off the diagonal, 0 on it (the eigenvalues must be distinct)."""
    one = _np.eye(shape(w)[-1])
    return 1.0 / (expand_dims(w, -2) - expand_dims(w, -1) + one) - one


_solve = Primitive("solve", _np.linalg.solve,                         # x = a⁻¹ b, b of shape (…, M, K)
                   jvp=(lambda t, ans, a, b: -_solve(a, t @ ans), lambda t, ans, a, b: _solve(a, t)),
                   vjp=(lambda g, ans, a, b: -_solve(_mT(a), g) @ _mT(ans),
                        lambda g, ans, a, b: _solve(_mT(a), g)), saves=("ans", 0), linear=(1,))
inv = Primitive("inv", _np.linalg.inv,                                 # d(a⁻¹) = −a⁻¹ da a⁻¹
                jvp=(lambda t, ans, a: -(ans @ t @ ans),), vjp=(lambda g, ans, a: -(_mT(ans) @ g @ _mT(ans)),),
                saves=("ans",))
det = Primitive("det", _np.linalg.det,                                 # d det a = det a · tr(a⁻¹ da)
                jvp=(lambda t, ans, a: ans * sum(_inverse_transpose(a) * t, axis=(-2, -1)),),
                vjp=(lambda g, ans, a: expand_dims(g * ans, (-2, -1)) * _inverse_transpose(a),), saves=("ans", 0))
_logabsdet = Primitive("logabsdet", lambda a: _np.linalg.slogdet(a)[1],
                       jvp=(lambda t, ans, a: sum(_inverse_transpose(a) * t, axis=(-2, -1)),),
                       vjp=(lambda g, ans, a: expand_dims(g, (-2, -1)) * _inverse_transpose(a),), saves=(0,))
_cholesky = Primitive("cholesky", _np.linalg.cholesky,                 # a = L Lᵀ (Murray 2016)
                      jvp=(lambda t, ans, a: ans @ _lower_half(_between_inverses(ans, t)),),
                      vjp=(lambda g, ans, a: _between_inverses(_mT(ans), _lower_half(_mT(ans) @ g)),),
                      saves=("ans",))
_eigenvalues = Primitive("eigvalsh", lambda a: _np.linalg.eigh(a)[0],  # dw_i = v_iᵀ da v_i
                         jvp=(lambda t, ans, a: sum(_eigenvectors(a) * (t @ _eigenvectors(a)), axis=-2),),
                         vjp=(lambda g, ans, a: (_eigenvectors(a) * expand_dims(g, -2)) @ _mT(_eigenvectors(a)),),
                         saves=(0,))
_eigenvectors = Primitive("eigh_vectors", lambda a: _np.linalg.eigh(a)[1],  # dV = V (F ∘ Vᵀ da V)
                          jvp=(lambda t, ans, a: ans @ (_eigenvalue_gaps(_eigenvalues(a)) * (_mT(ans) @ t @ ans)),),
                          vjp=(lambda g, ans, a:
                               ans @ (_eigenvalue_gaps(_eigenvalues(a)) * (_mT(ans) @ g)) @ _mT(ans),),
                          saves=("ans", 0))
SlogdetResult = _namedtuple("SlogdetResult", "sign logabsdet")
EighResult = _namedtuple("EighResult", "eigenvalues eigenvectors")


def solve(a, b):
    """x with a x = b; b of shape (M,) is one right-hand side, (…, M, K) a batch of K (numpy 2)."""
    return _solve(a, b[:, None])[..., 0] if ndim(b) == 1 else _solve(a, b)


def slogdet(a):
    """(sign, log|det a|); the sign is piecewise constant."""
    return SlogdetResult(_np.linalg.slogdet(concrete(a))[0], _logabsdet(a))


def _symmetric_part(a):
    return (a + _mT(a)) / 2


def cholesky(a):
    """L lower triangular with a = L Lᵀ, of a's symmetric part (as JAX: a derivative in any
    direction, symmetric or not)."""
    return _cholesky(_symmetric_part(a))


def eigh(a):
    """The eigenvalues (ascending) and eigenvectors of a's symmetric part, as JAX; the derivatives
    need distinct eigenvalues."""
    a = _symmetric_part(a)
    return EighResult(_eigenvalues(a), _eigenvectors(a))


def eigvalsh(a):
    return _eigenvalues(_symmetric_part(a))


def _singular_values(a):
    """σ(a) ascending, as √ of the eigenvalues of the smaller of a aᵀ and aᵀ a."""
    gram = a @ _mT(a) if shape(a)[-2] <= shape(a)[-1] else _mT(a) @ a
    return sqrt(_eigenvalues(gram))


def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm: a vector norm over one axis, a matrix norm over two; by default the
    Euclidean (Frobenius) norm of all of x."""
    if axis is None:
        if ord is None:
            out = sqrt(sum(x * x))
            return reshape(out, (1,) * ndim(x)) if keepdims else out
        if ndim(x) not in (1, 2):
            raise ValueError("Improper number of dimensions to norm.")
        axis = 0 if ndim(x) == 1 else (0, 1)
    axes = tuple(a % ndim(x) for a in _np.atleast_1d(axis))
    if len(axes) == 1:
        out = _vector_norm(x, ord, axes[0])
    elif len(axes) == 2:
        out = _matrix_norm(x, ord, axes)
    else:
        raise ValueError("Improper number of dimensions to norm.")
    return reshape(out, _kept_shape(shape(x), axes)) if keepdims else out


def _vector_norm(x, ord, axis):
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord is None or ord == 2:
        return sqrt(sum(x * x, axis=axis))
    if ord == inf:  # JAX starts the maximum at 0, so at x = 0 that tie halves the derivative
        return maximum(max(abs(x), axis=axis), 0.0)
    if ord == -inf:
        return min(abs(x), axis=axis)
    if ord == 0:
        return sum(_np.asarray(concrete(x) != 0, dtype=float), axis=axis)
    if ord == 1:
        return sum(abs(x), axis=axis)
    return sum(abs(x) ** ord, axis=axis) ** (1.0 / ord)


def _matrix_norm(x, ord, axes):
    row, col = axes
    if ord is None or ord == "fro":
        return sqrt(sum(x * x, axis=axes))
    if ord in (1, -1, inf, -inf):  # the largest (smallest) absolute column sum (1) or row sum (inf)
        summed, other = (row, col) if ord in (1, -1) else (col, row)
        sums = sum(abs(x), axis=summed)
        return (max if ord > 0 else min)(sums, axis=other - (other > summed))
    sigma = _singular_values(moveaxis(x, axes, (-2, -1)))
    if ord == "nuc":
        return sum(sigma, axis=-1)
    if ord in (2, -2):
        return getitem(sigma, index=(Ellipsis, -1 if ord == 2 else 0))
    raise ValueError("Invalid norm order for matrices.")


linalg = _Namespace(solve=solve, inv=inv, det=det, slogdet=slogdet, cholesky=cholesky, eigh=eigh,
                    eigvalsh=eigvalsh, norm=norm)


# --- a traced value behaves like an array -------------------------------------------------------
def _behave_like_an_array(cls):
    """Operators, methods and numpy's protocols for tracers, sent to the primitives above."""
    # (wrapped in functions: a Primitive object is not a method, so Python would not pass self)
    for name, f in [("add", add), ("sub", subtract), ("mul", multiply), ("truediv", divide),
                    ("pow", power), ("matmul", matmul), ("mod", mod)]:
        setattr(cls, f"__{name}__", lambda self, other, f=f: f(self, other))
        setattr(cls, f"__r{name}__", lambda self, other, f=f: f(other, self))
    cls.__neg__ = lambda self: negative(self)
    cls.__abs__ = lambda self: abs(self)
    cls.__pos__ = lambda self: self
    cls.__getitem__ = lambda self, index: getitem(self, index=index)
    cls.T = property(lambda self: transpose(self))
    cls.mT = property(lambda self: _mT(self))
    for name, f in [("sum", sum), ("mean", mean), ("prod", prod), ("max", max), ("min", min),
                    ("std", std), ("var", var), ("cumsum", cumsum), ("squeeze", squeeze),
                    ("ravel", ravel), ("flatten", ravel), ("astype", astype), ("clip", clip),
                    ("dot", dot), ("diagonal", diagonal), ("swapaxes", swapaxes), ("repeat", repeat)]:
        setattr(cls, name, lambda self, *args, f=f, **kwargs: f(self, *args, **kwargs))
    cls.reshape = lambda self, *shape: reshape(self, shape[0] if len(shape) == 1 else shape)
    cls.transpose = lambda self, *axes: transpose(self, (axes[0] if len(axes) == 1 else axes) or None)
    # Comparisons give plain boolean arrays: they are piecewise constant, so carry no derivative;
    # Python control flow on values is allowed, and the branch taken is the one differentiated.
    for name in ("lt", "le", "gt", "ge", "eq", "ne"):
        compare = getattr(operator, name)
        setattr(cls, f"__{name}__", lambda self, other, compare=compare: compare(concrete(self), concrete(other)))
    cls.__hash__ = object.__hash__
    cls.__bool__ = lambda self: bool(concrete(self))
    cls.__len__ = _length
    cls.__iter__ = lambda self: (self[i] for i in range(len(self)))
    cls.__array__ = _refuse_conversion
    cls.__setitem__ = _refuse_assignment
    cls.__float__ = cls.__int__ = cls.__complex__ = cls.__index__ = _refuse_float
    cls.__array_function__ = _array_function
    cls.__array_ufunc__ = _array_ufunc


def _length(x):
    if not shape(x):
        raise TypeError("len() of a 0-d traced value")
    return shape(x)[0]


# --- what cannot be differentiated, said clearly ---------------------------------------------
def _refuse_conversion(x, dtype=None, copy=None):
    raise TypeError(
        "a traced value was turned into a plain numpy array (np.asarray, np.array, or "
        "assignment into a numpy array), which would cut it out of the derivative. "
        "Build arrays with adcourse.numpy instead: anp.array, anp.stack, anp.concatenate, anp.where.")


def _refuse_assignment(x, index, value):
    raise TypeError(
        "in-place assignment x[...] = ... on a traced value cannot be differentiated. "
        "Build a new array instead: anp.where(mask, new, x), anp.concatenate or anp.stack "
        "(import adcourse.numpy as anp).")


def _refuse_float(x):
    raise TypeError(
        "float() of a traced value would cut it out of the derivative; keep it an array, "
        "or call float() on the result outside the transform.")


def _array_function(x, func, types, args, kwargs):
    if func in (_np.shape, _np.ndim, _np.size) and len(args) == 1 and not kwargs:
        return func(concrete(x))  # asking for the shape is fine
    raise TypeError(numpy_misuse_message(func))


def _array_ufunc(x, ufunc, method, *inputs, **kwargs):
    # ``ndarray + tracer`` comes here through numpy: send operators to their adcourse twins.
    twin = UFUNC_TWINS.get(ufunc)
    if twin is None or method != "__call__" or kwargs:
        raise TypeError(numpy_misuse_message(ufunc))
    return twin(*inputs)


def numpy_misuse_message(func):
    """What to say when plain numpy's ``func`` meets a traced value: its twin here, if any."""
    where = "linalg." if "linalg" in (getattr(func, "__module__", None) or "") else ""
    name = where + func.__name__
    has_twin = func.__name__ in (vars(linalg) if where else globals()) and not name.startswith("_")
    fix = (f"use adcourse.numpy.{name}" if has_twin else
           f"adcourse.numpy has no {name}; write it from the functions adcourse.numpy has")
    return (f"numpy.{name} was applied to a traced value; plain numpy cannot be differentiated. "
            f"Use the functions of adcourse.numpy (import adcourse.numpy as anp): {fix}.")


_behave_like_an_array(Tracer)

# numpy's ufuncs that ``ndarray <op> tracer`` hands to the tracer, and their differentiable twins
UFUNC_TWINS = {_np.add: add, _np.subtract: subtract, _np.multiply: multiply,
               _np.true_divide: divide, _np.power: power, _np.matmul: matmul,
               _np.negative: negative, _np.absolute: abs, _np.remainder: mod}
for _compare in (_np.greater, _np.greater_equal, _np.less, _np.less_equal, _np.equal, _np.not_equal):
    # comparisons are piecewise constant: a plain boolean array, no derivative
    UFUNC_TWINS[_compare] = lambda a, b, f=_compare: f(concrete(a), concrete(b))
