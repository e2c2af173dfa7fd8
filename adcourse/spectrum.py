"""The spectrum of a symmetric matrix known only through matrix-vector products.

Lanczos builds an orthonormal basis q_1, ..., q_k of the Krylov space
span{q_1, A q_1, ..., A^{k-1} q_1} in which A becomes a tridiagonal matrix T
(diagonal alpha, off-diagonal beta). The eigenvalues of T (Ritz values) approach
the extreme eigenvalues of A first, after few products. Stochastic Lanczos
quadrature turns the same T into an estimate of the whole eigenvalue density.
With ``hessian_matvec`` the matrix is the Hessian of a loss, never formed.
"""

from typing import NamedTuple

import numpy as np

from .checks import check_count
from .matrix_free import as_matvec, hessian_matvec, random_probes  # noqa: F401 (public here too)


class Tridiagonal(NamedTuple):
    """T = tridiag(beta, alpha, beta): alpha (k,) on the diagonal, beta (k-1,) beside it."""

    alpha: np.ndarray
    beta: np.ndarray

    def dense(self):
        return np.diag(self.alpha) + np.diag(self.beta, 1) + np.diag(self.beta, -1)

    def ritz(self):
        """Ritz values θ (ascending) and the squared first components τ² of T's eigenvectors."""
        theta, S = np.linalg.eigh(self.dense())
        return theta, S[0] ** 2


class ExtremeEigenvalues(NamedTuple):
    """The k lowest eigenvalues (ascending) and the k highest (descending)."""

    lowest: np.ndarray
    highest: np.ndarray


def lanczos(matvec, n=None, num_steps=30, rng=None, start=None):
    """Lanczos with full reorthogonalisation: Q^T A Q = T tridiagonal, Q = [q_1 ... q_k]
    orthonormal, q_1 = ``start`` (normalised) or a random unit vector.

    Stops early, with fewer than ``num_steps`` rows, when the Krylov space is
    invariant under A (beta ≈ 0): then the Ritz values are eigenvalues of A.
    """
    num_steps = check_count("num_steps", num_steps, 1)
    matvec, n = as_matvec(matvec, n)
    if num_steps > n:
        raise ValueError(f"num_steps={num_steps} exceeds n={n}: a Krylov space in R^{n} has at most {n} dimensions")
    if start is None:
        start = np.random.default_rng(rng).standard_normal(n)
    start = np.asarray(start, dtype=np.float64)
    if start.shape != (n,) or not np.any(start):
        raise ValueError(f"start must be a nonzero vector of shape ({n},), got shape {start.shape}")
    Q = np.zeros((n, num_steps))
    Q[:, 0] = start / np.linalg.norm(start)
    alpha, beta = [], []
    for j in range(num_steps):
        w = Aq = matvec(Q[:, j])
        alpha.append(Q[:, j] @ w)
        # Subtract every earlier direction, twice: in floating point the three-term
        # recurrence alone loses orthogonality and repeats converged eigenvalues.
        for _ in range(2):
            w = w - Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        if j == num_steps - 1:
            break
        b = np.linalg.norm(w)
        if b <= 1e-10 * np.linalg.norm(Aq):
            break
        beta.append(b)
        Q[:, j + 1] = w / b
    return Tridiagonal(np.array(alpha), np.array(beta))


def extreme_eigenvalues(matvec, n=None, k=1, num_steps=30, rng=None):
    """The k lowest and k highest eigenvalues of a symmetric A, as Ritz values after
    ``num_steps`` Lanczos steps (the extremes converge first)."""
    k = check_count("k", k, 1)
    theta, _ = lanczos(matvec, n, num_steps, rng=rng).ritz()
    if k > theta.size:
        raise ValueError(f"k={k} is more than the {theta.size} Ritz values that Lanczos produced; "
                         f"raise num_steps or lower k")
    return ExtremeEigenvalues(theta[:k], theta[::-1][:k])


def eigenvalue_density(matvec, n=None, num_steps=30, num_probes=10, grid=400, sigma=None, rng=None):
    """Stochastic Lanczos quadrature (Ghorbani, Krishnan, Xiao 2019):
    φ(t) ≈ (1/p) Σ_probes Σ_i τ_i² g_σ(t − θ_i), with θ_i the Ritz values and τ_i² the
    squared first components of T's eigenvectors for a random start; g_σ is N(0, σ²).

    The τ_i² of each probe sum to 1, so φ integrates to 1 over the real line (over
    ``grid`` when it covers the spectrum with a margin of a few σ). ``grid`` is an
    array of points or a number of points spanning the Ritz values ± 5σ; ``sigma``
    defaults to 1% of the spread of the Ritz values. Returns (grid, density).
    """
    num_probes = check_count("num_probes", num_probes, 1)
    matvec, n = as_matvec(matvec, n)
    rng = np.random.default_rng(rng)
    nodes, weights = [], []
    for v in random_probes(rng, n, num_probes, "rademacher").T:
        theta, tau_sq = lanczos(matvec, n, num_steps, start=v).ritz()
        nodes.append(theta)
        weights.append(tau_sq / num_probes)
    nodes, weights = np.concatenate(nodes), np.concatenate(weights)
    if sigma is None:
        spread = nodes.max() - nodes.min()
        sigma = 0.01 * spread if spread > 0 else 0.01 * max(abs(nodes.max()), 1.0)
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    if np.ndim(grid) == 0:
        grid = np.linspace(nodes.min() - 5 * sigma, nodes.max() + 5 * sigma, check_count("grid", grid, 2))
    grid = np.asarray(grid, dtype=np.float64)
    gauss = np.exp(-0.5 * ((grid[:, None] - nodes[None, :]) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    return grid, gauss @ weights

