"""Differentiable numpy: each primitive with its forward rule (JVP) and reverse rule (VJP) side by side.

    jvp rule:  (t, ans, *args) -> the output tangent caused by the tangent t of one argument
    vjp rule:  (g, ans, *args) -> the cotangent of one argument, given the output cotangent g

``ans`` is the primitive's output, ``args`` its inputs. The engine sums contributions over
arguments and undoes broadcasting, so rules need not. Rules are written with the functions of
this module, so they are differentiable themselves: that is all higher derivatives need.

Use it as ``import adcourse.numpy as anp`` inside functions you want to differentiate.
"""
import operator

import numpy as _np
from numpy import (e, eye, float32, float64, full, inf, linspace, arange, nan,  # noqa: F401
                   newaxis, ones, pi, zeros)

from .core import EveryArgument, Primitive, concrete

shape, ndim = _np.shape, _np.ndim  # both work on traced values too


def elementwise(impl, *partials, name=None):
    """A primitive applied element by element, given its local partial derivatives ∂ans/∂x_i.

    Then JVP = t · ∂ans/∂x_i and VJP = g · ∂ans/∂x_i: the chain rule of the lecture, elementwise.
    """
    return Primitive(name or impl.__name__, impl,
                     jvp=tuple(lambda t, ans, *xs, d=d: t * d(ans, *xs) for d in partials),
                     vjp=tuple(lambda g, ans, *xs, d=d: g * d(ans, *xs) for d in partials))


# --- arithmetic (operator.mul and friends: numpy's own operators, without the ufunc call's cost
#     on scalars) -----------------------------------------------------------------------------
add = Primitive("add", operator.add,
                jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: t),
                vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: g))
subtract = Primitive("subtract", operator.sub,
                     jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: -t),
                     vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: -g))
negative = Primitive("negative", operator.neg,
                     jvp=(lambda t, ans, x: -t,), vjp=(lambda g, ans, x: -g,))
multiply = Primitive("multiply", operator.mul,
                     jvp=(lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t),
                     vjp=(lambda g, ans, x, y: g * y, lambda g, ans, x, y: x * g))
divide = Primitive("divide", operator.truediv,
                   jvp=(lambda t, ans, x, y: t / y, lambda t, ans, x, y: -t * ans / y),
                   vjp=(lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y))
power = elementwise(operator.pow,
                    lambda ans, x, y: y * x ** (y - 1),
                    lambda ans, x, y: ans * log(where(x == 0, 1.0, x)))  # JAX's convention at x = 0


# --- elementwise functions: f and f' -----------------------------------------------------------
exp = elementwise(_np.exp, lambda ans, x: ans)
log = elementwise(_np.log, lambda ans, x: 1.0 / x)            # 1/0 = inf at 0, as in JAX
sqrt = elementwise(_np.sqrt, lambda ans, x: 0.5 / ans)        # inf at 0, as in JAX
sin = elementwise(_np.sin, lambda ans, x: cos(x))
cos = elementwise(_np.cos, lambda ans, x: -sin(x))
tanh = elementwise(_np.tanh, lambda ans, x: 1.0 - ans * ans)
sigmoid = elementwise(lambda x: 0.5 * (_np.tanh(0.5 * x) + 1.0), lambda ans, x: ans * (1.0 - ans),
                      name="sigmoid")                          # 1/(1+e^-x), without overflow
abs = elementwise(_np.abs, lambda ans, x: _np.where(concrete(x) >= 0, 1.0, -1.0))  # 1 at 0, as JAX
relu = elementwise(lambda x: _np.maximum(x, 0.0), lambda ans, x: concrete(x) > 0, name="relu")


def _share_of_max(x, y):
    """∂max(x, y)/∂x: 1 where x wins, 1/2 on a tie (JAX's convention), 0 where y wins."""
    x, y = concrete(x), concrete(y)
    return _np.where(x > y, 1.0, _np.where(x == y, 0.5, 0.0))


maximum = elementwise(_np.maximum, lambda ans, x, y: _share_of_max(x, y),
                      lambda ans, x, y: _share_of_max(y, x))
where = Primitive("where", _np.where,
                  jvp=(None, lambda t, ans, c, x, y: where(c, t, 0.0),
                       lambda t, ans, c, x, y: where(c, 0.0, t)),
                  vjp=(None, lambda g, ans, c, x, y: where(c, g, 0.0),
                       lambda g, ans, c, x, y: where(c, 0.0, g)))


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
                   vjp=(_matmul_vjp_x, _matmul_vjp_y))


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
                vjp=(_sum_vjp,))


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
         reshape(g, _kept_shape(shape(x), axis)) * _softmax_from(ans, x, axis),))


# --- shapes and indexing (linear: the rules move numbers around, nothing else) -----------------
reshape = Primitive("reshape", _np.reshape,
                    jvp=(lambda t, ans, x, shape: reshape(t, shape),),
                    vjp=(lambda g, ans, x, shape: reshape(g, _np.shape(x)),))
transpose = Primitive("transpose", _np.transpose,
                      jvp=(lambda t, ans, x, axes=None: transpose(t, axes),),
                      vjp=(lambda g, ans, x, axes=None:
                           transpose(g, None if axes is None else tuple(_np.argsort(axes))),))
broadcast_to = Primitive("broadcast_to", _np.broadcast_to,
                         jvp=(lambda t, ans, x, shape: broadcast_to(t, shape),),
                         vjp=(lambda g, ans, x, shape: g,))  # the engine sums g back to x's shape


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
                        vjp=(lambda g, ans, t, index, shape: getitem(g, index=index),))
getitem = Primitive("getitem", lambda x, index: x[index],
                    jvp=(lambda t, ans, x, index: getitem(t, index=index),),
                    vjp=(lambda g, ans, x, index: scatter_add(g, index=index, shape=shape(x)),))


def _concatenate_jvp(i, t, ans, *xs, axis=0):
    return _concatenate(*[t if j == i else zeros(shape(x)) for j, x in enumerate(xs)], axis=axis)


def _concatenate_vjp(i, g, ans, *xs, axis=0):
    start = _np.sum([shape(x)[axis] for x in xs[:i]], dtype=int)
    index = [slice(None)] * ndim(g)
    index[axis] = slice(start, start + shape(xs[i])[axis])
    return getitem(g, index=tuple(index))


_concatenate = Primitive("concatenate", lambda *xs, axis=0: _np.concatenate(xs, axis=axis),
                         jvp=EveryArgument(_concatenate_jvp), vjp=EveryArgument(_concatenate_vjp))


# --- composites: built from the primitives above, so differentiable for free -------------------
def concatenate(arrays, axis=0):
    return _concatenate(*arrays, axis=axis)


def stack(arrays, axis=0):
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def expand_dims(x, axis):
    s = list(shape(x))
    s.insert(axis % (len(s) + 1), 1)
    return reshape(x, tuple(s))


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


def ravel(x):
    return reshape(x, (-1,))


def mean(x, axis=None, keepdims=False):
    count = _np.prod([shape(x)[a] for a in _axes(axis, ndim(x))])
    return sum(x, axis=axis, keepdims=keepdims) / count


def square(x):
    return x * x


def minimum(x, y):
    return -maximum(-x, -y)


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


def norm(x):
    """The Euclidean (Frobenius) norm √(Σ x²)."""
    return sqrt(sum(x * x))


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


# --- operators on traced values ----------------------------------------------------------------
def _attach_operators(cls):
    # (wrapped in functions: a Primitive object is not a method, so Python would not pass self)
    for name, f in [("add", add), ("sub", subtract), ("mul", multiply), ("truediv", divide),
                    ("pow", power), ("matmul", matmul)]:
        setattr(cls, f"__{name}__", lambda self, other, f=f: f(self, other))
        setattr(cls, f"__r{name}__", lambda self, other, f=f: f(other, self))
    cls.__neg__ = lambda self: negative(self)
    cls.__abs__ = lambda self: abs(self)
    cls.__pos__ = lambda self: self
    cls.__getitem__ = lambda self, index: getitem(self, index=index)
    cls.T = property(lambda self: transpose(self))
    cls.sum = lambda self, axis=None, keepdims=False: sum(self, axis=axis, keepdims=keepdims)
    cls.mean = lambda self, axis=None, keepdims=False: mean(self, axis=axis, keepdims=keepdims)
    cls.reshape = lambda self, *shape: reshape(self, shape[0] if len(shape) == 1 else shape)
    cls.ravel = lambda self: ravel(self)


from .core import Tracer  # noqa: E402
_attach_operators(Tracer)

# numpy's ufuncs that ``ndarray <op> tracer`` hands to the tracer, and their differentiable twins
UFUNC_TWINS = {_np.add: add, _np.subtract: subtract, _np.multiply: multiply,
               _np.true_divide: divide, _np.power: power, _np.matmul: matmul,
               _np.negative: negative, _np.absolute: abs}
for _compare in (_np.greater, _np.greater_equal, _np.less, _np.less_equal, _np.equal, _np.not_equal):
    # comparisons are piecewise constant: a plain boolean array, no derivative
    UFUNC_TWINS[_compare] = lambda a, b, f=_compare: f(concrete(a), concrete(b))
