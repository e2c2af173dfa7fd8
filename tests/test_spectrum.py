"""Lanczos and stochastic Lanczos quadrature against dense eigenvalues, and the lecture's
claim that the large negative eigenvalues of a small network's Hessian vanish in training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcourse
import adcourse.numpy as anp
from adcourse.spectrum import eigenvalue_density, extreme_eigenvalues, hessian_matvec, lanczos

jax.config.update("jax_enable_x64", True)


def with_spectrum(eigenvalues, rng):
    Q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    return (Q * eigenvalues) @ Q.T


def bulk_and_outliers(rng, n=150):
    """A bulk in [0, 1] and four outliers, like a trained network's Hessian."""
    return np.concatenate([[-5.0, -3.0], rng.uniform(0, 1, n - 4), [4.0, 10.0]])


# ---- Lanczos against numpy.linalg.eigvalsh ------------------------------------------------

def test_lanczos_finds_extreme_eigenvalues_of_a_dense_matrix():
    rng = np.random.default_rng(0)
    A = with_spectrum(bulk_and_outliers(rng), rng)
    exact = np.linalg.eigvalsh(A)
    lowest, highest = extreme_eigenvalues(lambda v: A @ v, 150, k=2, num_steps=30, rng=1)
    np.testing.assert_allclose(lowest, exact[:2], rtol=1e-10)
    np.testing.assert_allclose(highest, exact[::-1][:2], rtol=1e-10)


def test_lanczos_tridiagonal_is_similar_to_the_matrix_after_n_steps():
    """With full reorthogonalisation, n steps give T with exactly A's eigenvalues
    (the plain three-term recurrence would produce spurious copies instead)."""
    rng = np.random.default_rng(2)
    A = with_spectrum(bulk_and_outliers(rng, 80), rng)
    T = lanczos(A, None, 80, rng=3)
    assert T.alpha.shape == (80,) and T.beta.shape == (79,)
    np.testing.assert_allclose(np.linalg.eigvalsh(T.dense()), np.linalg.eigvalsh(A), atol=1e-10)


def test_lanczos_stops_on_an_invariant_subspace():
    """A matrix with 4 distinct eigenvalues: the Krylov space has dimension 4, Lanczos stops
    there, and its Ritz values are the eigenvalues themselves."""
    rng = np.random.default_rng(4)
    A = with_spectrum(np.repeat([-2.0, 0.5, 1.0, 7.0], 10), rng)
    T = lanczos(A, None, 20, rng=5)
    assert T.alpha.shape == (4,)
    np.testing.assert_allclose(T.ritz()[0], [-2.0, 0.5, 1.0, 7.0], atol=1e-10)


def mlp_loss(m, n_hidden=6):
    """Mean squared error of a 3-n_hidden-1 tanh network on a fixed data set; m is the numpy flavour."""
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    h = n_hidden

    def loss(theta):
        W1, b1 = m.reshape(theta[: 3 * h], (3, h)), theta[3 * h : 4 * h]
        W2, b2 = theta[4 * h : 5 * h], theta[5 * h]
        return m.mean((m.matmul(m.tanh(m.matmul(X, W1) + b1), W2) + b2 - y) ** 2)

    return loss, 5 * h + 1


def test_lanczos_on_a_hessian_through_hvp_matches_dense_hessians():
    loss, n = mlp_loss(anp)
    theta = np.random.default_rng(7).standard_normal(n)
    exact = np.linalg.eigvalsh(np.asarray(jax.hessian(mlp_loss(jnp)[0])(theta)))
    np.testing.assert_allclose(np.linalg.eigvalsh(adcourse.hessian(loss)(theta)), exact, atol=1e-10)
    assert exact[0] < 0 < exact[-1]  # indefinite: both ends matter
    lowest, highest = extreme_eigenvalues(hessian_matvec(loss, theta), n, k=3, num_steps=n, rng=8)
    np.testing.assert_allclose(lowest, exact[:3], atol=1e-9)
    np.testing.assert_allclose(highest, exact[::-1][:3], atol=1e-9)


def test_hessian_matvec_on_a_matrix_shaped_argument():
    W = np.random.default_rng(9).standard_normal((4, 4))

    def f(m):
        return lambda x: m.sum(m.tanh(m.matmul(x, W)) ** 2)

    x = np.random.default_rng(10).standard_normal((2, 4))
    v = np.random.default_rng(11).standard_normal(8)
    dense = np.asarray(jax.hessian(f(jnp))(x)).reshape(8, 8)
    np.testing.assert_allclose(hessian_matvec(f(anp), x)(v), dense @ v, rtol=1e-10, atol=1e-12)


# ---- stochastic Lanczos quadrature ----------------------------------------------------------

def two_clusters(rng, n=200):
    """30% of the eigenvalues near -2, 70% near 3."""
    eigenvalues = np.concatenate([rng.uniform(-2.2, -1.8, 60), rng.uniform(2.8, 3.2, 140)])
    return with_spectrum(eigenvalues, rng), eigenvalues


def mass(grid, density, lo, hi):
    return np.trapezoid(np.where((grid >= lo) & (grid <= hi), density, 0.0), grid)


def test_density_integrates_to_one_and_sits_on_the_eigenvalues():
    rng = np.random.default_rng(12)
    A, eigenvalues = two_clusters(rng)
    grid, density = eigenvalue_density(A, None, num_steps=25, num_probes=20, grid=np.linspace(-4, 5, 2001),
                                       sigma=0.05, rng=13)
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-9)  # weights τ² sum to 1, no rescaling
    assert mass(grid, density, -2.5, -1.5) == pytest.approx(0.3, abs=0.05)
    assert mass(grid, density, 2.5, 3.5) == pytest.approx(0.7, abs=0.05)
    assert mass(grid, density, -1.2, 2.1) < 1e-6  # nothing in the gap
    # its mean is a Hutchinson estimate of Tr(A)/n
    assert np.trapezoid(grid * density, grid) == pytest.approx(eigenvalues.mean(), abs=0.15)


def test_density_default_grid_covers_the_spectrum():
    rng = np.random.default_rng(14)
    A, _ = two_clusters(rng, 100)
    grid, density = eigenvalue_density(A, num_steps=20, num_probes=5, rng=15)
    assert grid.shape == (400,) and grid[0] < -2.2 and grid[-1] > 3.2
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)


# ---- the lecture's claim: negative curvature vanishes during training -----------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_large_negative_hessian_eigenvalues_vanish_during_training(seed):
    """A 2-16-1 tanh network fitted to y = sin(x1) cos(x2) by 300 steps of gradient descent.
    At initialisation the most negative eigenvalue is a sizeable fraction of the largest
    (0.1-0.4 in our runs); after training it is below 1% of it, and the density's mass on
    clearly negative curvature is gone."""
    data = np.random.default_rng(seed)
    X = data.uniform(-2, 2, (64, 2))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1])
    h = 16

    def loss(theta):
        W1, b1 = anp.reshape(theta[: 2 * h], (2, h)), theta[2 * h : 3 * h]
        W2, b2 = theta[3 * h : 4 * h], theta[4 * h]
        return anp.mean((anp.matmul(anp.tanh(anp.matmul(X, W1) + b1), W2) + b2 - y) ** 2)

    init = np.random.default_rng(100 + seed)
    theta = np.concatenate([init.normal(0, 1 / np.sqrt(2), 2 * h), np.zeros(h),
                            init.normal(0, 1 / np.sqrt(h), h), [0.0]])
    n = theta.size

    def curvature(theta):
        matvec = hessian_matvec(loss, theta)
        lowest, highest = extreme_eigenvalues(matvec, n, k=1, num_steps=n, rng=seed)
        grid, density = eigenvalue_density(matvec, n, num_steps=30, num_probes=5, sigma=0.05,
                                           grid=np.linspace(-5, 20, 2501), rng=seed)
        return lowest[0], highest[0], mass(grid, density, -np.inf, -0.25)

    low_before, high_before, negative_mass_before = curvature(theta)
    gradient = adcourse.grad(loss)
    loss_before = loss(theta)
    for _ in range(300):
        theta = theta - 0.1 * gradient(theta)
    low_after, high_after, negative_mass_after = curvature(theta)

    assert loss(theta) < 0.05 * loss_before
    assert -low_before / high_before > 0.05
    assert -low_after / high_after < 0.01
    assert negative_mass_before > 0.05 and negative_mass_after < 1e-3
    # Lanczos with n steps is exact: the dense Hessian agrees
    dense = np.linalg.eigvalsh(adcourse.hessian(loss)(theta))
    assert low_after == pytest.approx(dense[0], abs=1e-9) and high_after == pytest.approx(dense[-1], rel=1e-9)


# ---- bad arguments ------------------------------------------------------------------------

def test_clear_errors():
    A = np.diag([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"returned shape \(2,\), expected \(3,\)"):
        lanczos(lambda v: v[:2], 3, 2)
    with pytest.raises(ValueError, match="num_steps=4 exceeds n=3"):
        lanczos(A, None, 4)
    with pytest.raises(ValueError, match="num_steps must be an integer >= 1"):
        lanczos(A, None, 0)
    with pytest.raises(ValueError, match=r"n=2 does not match"):
        extreme_eigenvalues(A, 2)
    with pytest.raises(ValueError, match="k=3 is more than the 2 Ritz values"):
        extreme_eigenvalues(A, None, k=3, num_steps=2)
    with pytest.raises(ValueError, match="nonzero vector of shape"):
        lanczos(A, None, 2, start=np.zeros(3))
    with pytest.raises(ValueError, match="num_probes must be an integer >= 1"):
        eigenvalue_density(A, None, 2, num_probes=0)
    with pytest.raises(ValueError, match="sigma must be positive"):
        eigenvalue_density(A, None, 2, sigma=-1.0)
    with pytest.raises(ValueError, match=r"takes a vector of shape \(4,\)"):
        hessian_matvec(lambda x: anp.sum(x**2), np.ones((2, 2)))(np.ones(3))
