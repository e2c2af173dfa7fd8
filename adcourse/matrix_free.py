"""A matrix known only by its products v ↦ A v: the common ground of trace estimation and Lanczos.

A matrix is given either as a square array or as a callable ``matvec(v) -> A v`` on vectors of
shape (n,). For a Hessian the callable is a Hessian-vector product (``hessian_matvec``), and the
Hessian is never formed. Random probes v with E[v vᵀ] = I are what both methods feed it.
"""
import numpy as np

from .transforms import hvp

PROBES = ("rademacher", "gaussian")


def as_matvec(matvec, n=None):
    """Return ``(checked_matvec, n)`` for a callable or a square array.

    The checked callable raises ValueError when A v does not have shape (n,),
    so a wrongly shaped product fails loudly instead of broadcasting.
    """
    if callable(matvec):
        if n is None:
            raise ValueError("n is required when matvec is a function: pass the length of the vectors it takes")
        func = matvec
    else:
        A = np.asarray(matvec)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"expected a function v -> A v or a square matrix, got an array of shape {A.shape}")
        if n is not None and n != A.shape[0]:
            raise ValueError(f"n={n} does not match the matrix of shape {A.shape}; "
                             f"pass n={A.shape[0]} or leave n out")
        n = A.shape[0]
        func = A.__matmul__
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = int(n)

    def checked(v):
        out = np.asarray(func(v))
        if out.shape != (n,):
            raise ValueError(f"matvec returned shape {out.shape}, expected ({n},): "
                             f"it must map a vector of shape ({n},) to a vector of shape ({n},)")
        return out

    return checked, n


def random_probes(rng, n, count, kind="rademacher", dtype=np.float64):
    """``count`` random columns in R^n with E[v v^T] = I: entries ±1 (Rademacher) or N(0, 1)."""
    if kind == "rademacher":
        return (2 * rng.integers(0, 2, size=(n, count)) - 1).astype(dtype)
    if kind == "gaussian":
        return rng.standard_normal((n, count)).astype(dtype)
    raise ValueError(f"probes must be one of {PROBES}, got {kind!r}")


def hessian_matvec(f, x, hvp=hvp):
    """v ↦ ∇²f(x) v on vectors of length x.size, by ``hvp`` (adcourse's: forward over reverse);
    x may have any shape, and v is reshaped to it and back."""
    x = np.asarray(x, dtype=np.float64)

    def matvec(v):
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (x.size,):
            raise ValueError(f"hessian matvec takes a vector of shape ({x.size},) "
                             f"(x flattened, x.shape={x.shape}), got shape {v.shape}")
        return np.asarray(hvp(f, x, v.reshape(x.shape)), dtype=np.float64).reshape(-1)

    return matvec
