"""Hutchinson and Hutch++ against their theory; the Hessian trace against jax.hessian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from adcourse.trace_estimation import (
    hessian_trace,
    hutch_plus_plus,
    hutchinson,
    hutchinson_variance,
)

jax.config.update("jax_enable_x64", True)


def with_spectrum(eigenvalues, rng):
    """Q diag(λ) Q^T with a random orthogonal Q, so the diagonal is not the spectrum."""
    Q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    return (Q * eigenvalues) @ Q.T


def decaying(n, rng):
    return with_spectrum(np.arange(1, n + 1) ** -2.0, rng)


def heavy_diagonal(n, rng):
    """A large diagonal plus a small symmetric part: Rademacher probes see only the latter."""
    B = rng.standard_normal((n, n))
    return np.diag(rng.uniform(1, 3, n)) + 0.05 * (B + B.T)


# ---- Hutchinson: unbiased, with the variance the formulas predict -------------------------

CASES = [
    ("identity", "gaussian", lambda n, rng: np.eye(n)),
    ("decaying", "gaussian", decaying),
    ("decaying", "rademacher", decaying),
    ("heavy diagonal", "gaussian", heavy_diagonal),
    ("heavy diagonal", "rademacher", heavy_diagonal),
]


@pytest.mark.parametrize("name, probes, make", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_hutchinson_error_matches_its_theoretical_standard_deviation(name, probes, make):
    rng = np.random.default_rng(0)
    n, m, trials = 200, 30, 400
    A = make(n, rng)
    errors = np.array([hutchinson(A, None, m, probes, rng).estimate for _ in range(trials)]) - np.trace(A)
    sd = np.sqrt(hutchinson_variance(A, m, probes))
    rms = np.sqrt(np.mean(errors**2))
    assert abs(rms / sd - 1) < 0.15, f"RMS error {rms:.3g}, theory {sd:.3g}"
    # unbiased: the mean error is within 4 standard errors of zero
    assert abs(errors.mean()) < 4 * sd / np.sqrt(trials)


def test_rademacher_variance_drops_the_diagonal():
    """On a diagonal matrix Rademacher probes are exact: v^T D v = Σ d_i v_i² = Σ d_i."""
    rng = np.random.default_rng(1)
    D = np.diag(rng.uniform(-1, 2, 50))
    assert hutchinson_variance(D, 7, "rademacher") == 0
    assert hutchinson(D, None, 7, "rademacher", rng).estimate == pytest.approx(np.trace(D), rel=1e-13)
    assert hutchinson_variance(D, 7, "gaussian") == pytest.approx(2 * np.sum(np.diag(D) ** 2) / 7)
    assert abs(hutchinson(D, None, 7, "gaussian", rng).estimate - np.trace(D)) > 1e-3


def test_hutchinson_issue_figure_flat_spectrum():
    """Issue 3: n = 500, A = I, Gaussian probes, m = 100: mean relative error ≈ 5e-3,
    i.e. √(2/π)·σ for a normal error with σ² = 2n/m."""
    rng = np.random.default_rng(2)
    n, m = 500, 100
    errors = [abs(hutchinson(lambda v: v, n, m, "gaussian", rng).estimate - n) / n for _ in range(300)]
    theory = np.sqrt(2 / np.pi) * np.sqrt(2 * n / m) / n
    assert theory == pytest.approx(5.05e-3, rel=1e-2)
    assert abs(np.mean(errors) / theory - 1) < 0.15


def test_running_estimate_and_matvec_count():
    rng = np.random.default_rng(3)
    A = heavy_diagonal(20, rng)
    calls = []

    def matvec(v):
        calls.append(1)
        return A @ v

    result = hutchinson(matvec, 20, 13, rng=rng)
    assert len(calls) == result.num_matvecs == 13
    assert result.running.shape == (13,) and result.running[-1] == result.estimate
    calls.clear()
    result = hutch_plus_plus(matvec, 20, 14, rng=rng)
    assert len(calls) == result.num_matvecs == 14
    assert result.running.shape == (14 - 2 * 4,) and result.running[-1] == result.estimate


# ---- Hutch++ ------------------------------------------------------------------------------

def test_hutch_plus_plus_beats_hutchinson_100x_on_decaying_spectrum():
    """Issue 3: λ_i = i⁻², n = 500, m = 100: Hutchinson ≈ 7e-2, Hutch++ ≈ 5e-4 (mean relative error)."""
    rng = np.random.default_rng(4)
    A = decaying(500, rng)
    trace = np.trace(A)
    plain = np.mean([abs(hutchinson(A, None, 100, rng=rng).estimate - trace) / trace for _ in range(100)])
    plus = np.mean([abs(hutch_plus_plus(A, None, 100, rng=rng).estimate - trace) / trace for _ in range(100)])
    assert 0.05 < plain < 0.1
    assert plain > 100 * plus, f"Hutchinson {plain:.2e}, Hutch++ {plus:.2e}"


def test_hutch_plus_plus_is_unbiased():
    rng = np.random.default_rng(5)
    A = with_spectrum(rng.uniform(-1, 1, 60), rng)  # flat and indefinite: the sketch helps little
    estimates = np.array([hutch_plus_plus(A, None, 12, rng=rng).estimate for _ in range(2000)])
    standard_error = estimates.std() / np.sqrt(estimates.size)
    assert abs(estimates.mean() - np.trace(A)) < 4 * standard_error


def test_hutch_plus_plus_is_exact_on_low_rank():
    rng = np.random.default_rng(6)
    n, rank = 200, 10
    U = rng.standard_normal((n, rank))
    A = U @ np.diag(rng.uniform(1, 5, rank)) @ U.T
    trace = np.trace(A)
    exact = hutch_plus_plus(lambda v: A @ v, n, 3 * rank, rng=rng).estimate  # sketch of `rank` columns
    assert exact == pytest.approx(trace, rel=1e-10)
    assert abs(hutchinson(A, None, 3 * rank, rng=rng).estimate / trace - 1) > 1e-3
    # one column short of the rank: no longer exact
    assert abs(hutch_plus_plus(A, None, 3 * rank - 3, rng=rng).estimate / trace - 1) > 1e-6


# ---- Hessian trace through hvp --------------------------------------------------------------

W = np.random.default_rng(7).standard_normal((4, 3))


def coupled(m):
    """f: R^{3×4} -> R with a dense, indefinite Hessian; m is adcourse.numpy or jax.numpy."""
    return lambda x: m.sum(m.tanh(m.matmul(x, W)) ** 2) + m.sum(m.sin(x) * m.exp(0.3 * x))


@pytest.fixture(scope="module")
def anp():
    import adcourse.numpy

    return adcourse.numpy


def test_hessian_trace_hutch_plus_plus_exact_when_sketch_spans_everything(anp):
    x = np.random.default_rng(8).standard_normal((3, 4))
    exact = np.trace(np.asarray(jax.hessian(coupled(jnp))(x)).reshape(12, 12))
    result = hessian_trace(coupled(anp), x, 36, method="hutch++", rng=0)  # sketch of 12 = n columns
    assert result.estimate == pytest.approx(exact, rel=1e-9)


def test_hessian_trace_hutchinson_within_theory(anp):
    x = np.random.default_rng(9).standard_normal((3, 4))
    H = np.asarray(jax.hessian(coupled(jnp))(x)).reshape(12, 12)
    result = hessian_trace(coupled(anp), x, 200, rng=1)
    assert abs(result.estimate - np.trace(H)) < 4 * np.sqrt(hutchinson_variance(H, 200))
    assert abs(result.estimate - np.trace(H)) > 1e-8  # a random estimate, not the exact value


def test_hessian_trace_exact_on_separable_function_with_rademacher(anp):
    """A separable f has a diagonal Hessian, on which Rademacher probes are exact."""
    x = np.linspace(-1, 1, 7)
    result = hessian_trace(lambda x: anp.sum(anp.sin(x) * x), x, 3, rng=2)
    exact = np.sum(2 * np.cos(x) - x * np.sin(x))
    assert result.estimate == pytest.approx(exact, rel=1e-12)


def test_hessian_trace_uses_hvp_and_nothing_else(anp):
    import adcourse

    calls = []

    def counting_hvp(f, x, v):
        calls.append(np.shape(v))
        return adcourse.hvp(f, x, v)

    x = np.ones((3, 4))
    result = hessian_trace(coupled(anp), x, 5, rng=3, hvp=counting_hvp)
    assert calls == [(3, 4)] * 5  # one product per probe: the Hessian is never formed
    assert result.estimate == hessian_trace(coupled(anp), x, 5, rng=3).estimate


# ---- bad arguments ------------------------------------------------------------------------

def test_clear_errors():
    A = np.eye(5)
    with pytest.raises(ValueError, match=r"returned shape \(6,\), expected \(5,\)"):
        hutchinson(lambda v: np.ones(6), 5, 3)
    with pytest.raises(ValueError, match=r"returned shape \(5, 1\), expected \(5,\)"):
        hutch_plus_plus(lambda v: v[:, None], 5, 6)
    with pytest.raises(ValueError, match="num_probes must be an integer >= 1, got 0"):
        hutchinson(A, None, 0)
    with pytest.raises(ValueError, match="num_probes"):
        hutchinson(A, None, 2.5)
    with pytest.raises(ValueError, match="num_matvecs must be an integer >= 3"):
        hutch_plus_plus(A, None, 2)
    with pytest.raises(ValueError, match=r"n=4 does not match the matrix of shape \(5, 5\)"):
        hutchinson(A, 4, 3)
    with pytest.raises(ValueError, match="square matrix"):
        hutchinson(np.ones((5, 4)), None, 3)
    with pytest.raises(ValueError, match="n is required"):
        hutchinson(lambda v: v, None, 3)
    with pytest.raises(ValueError, match="probes must be one of"):
        hutchinson(A, None, 3, probes="uniform")
    with pytest.raises(ValueError, match="method must be"):
        hessian_trace(lambda x: x, np.ones(2), 3, method="exact")
