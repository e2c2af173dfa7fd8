"""Transforms inside transforms, the lecture's example, and the engine's structural promises."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcourse
import adcourse.numpy as anp
from adcourse.graph import forward_table, reverse_table, trace_graph
from conftest import assert_close


def f(np_like):
    return lambda x: np_like.sum(np_like.sin(x) * np_like.exp(0.3 * x) + x ** 3 / 6)


X = np.array([0.3, -1.2, 2.0])
V = np.array([1.0, 0.5, -2.0])


def test_grad_of_grad():
    g2 = adcourse.grad(adcourse.grad(lambda x: anp.sin(x) * x ** 3))(0.7)
    assert_close(g2, jax.grad(jax.grad(lambda x: jnp.sin(x) * x ** 3))(0.7))
    g3 = adcourse.grad(adcourse.grad(adcourse.grad(anp.tanh)))(0.4)
    assert_close(g3, jax.grad(jax.grad(jax.grad(jnp.tanh)))(0.4))


def test_every_pair_of_modes_gives_the_hessian():
    H = jax.hessian(f(jnp))(X)
    assert_close(adcourse.hessian(f(anp))(X), H)                                  # fwd over rev
    assert_close(adcourse.jacfwd(adcourse.jacrev(f(anp)))(X), H)
    assert_close(adcourse.jacrev(adcourse.jacrev(f(anp)))(X), H)                  # rev over rev
    assert_close(adcourse.jacfwd(adcourse.jacfwd(f(anp)))(X), H)                  # fwd over fwd
    assert_close(adcourse.jacrev(adcourse.jacfwd(f(anp)))(X), H)                  # rev over fwd
    assert_close(adcourse.jvp(adcourse.grad(f(anp)), (X,), (V,))[1], H @ V)       # jvp of grad
    assert_close(adcourse.hvp(f(anp), X, V), H @ V)


def test_no_perturbation_confusion():
    """d/dx [x · d/dy (x + y)] = 1 at any x: the inner derivative must not see x's perturbation."""
    for x in (0.0, 1.0, -3.5):
        inner = lambda x: x * adcourse.grad(lambda y: x + y)(1.0)  # noqa: E731
        assert adcourse.grad(inner)(x) == 1.0
        assert adcourse.jvp(inner, (x,), (1.0,))[1] == 1.0
    # the classic trap with both variables perturbed in forward mode
    g = lambda x: adcourse.jvp(lambda y: x * y, (2.0,), (1.0,))[1]  # noqa: E731  d/dy (x y) = x
    assert adcourse.jvp(g, (3.0,), (1.0,))[1] == 1.0


def test_hvp_never_forms_the_hessian():
    """hvp works where the Hessian would not fit: n = 200 000 (a dense Hessian is 320 GB)."""
    n = 200_000
    x = np.linspace(-1, 1, n)
    hv = adcourse.hvp(lambda x: anp.sum(anp.sin(x) * x), x, np.ones(n))
    assert_close(hv, 2 * np.cos(x) - x * np.sin(x))


def lecture_L(np_like):
    def L(w1, w2):
        v2 = w2 * np_like.log(w1)
        return v2 + np_like.sqrt(v2)
    return L


def test_lecture_example_partial_derivatives():
    dw1, dw2 = adcourse.grad(lecture_L(anp), (0, 1))(2.0, 3.0)
    j1, j2 = jax.grad(lecture_L(jnp), (0, 1))(2.0, 3.0)
    assert_close((dw1, dw2), (j1, j2))
    v2 = 3 * np.log(2)  # by hand: ∂L/∂w1 = (w2/w1)(1 + 1/(2√v2)), ∂L/∂w2 = log w1 (1 + 1/(2√v2))
    assert_close((dw1, dw2), (1.5 * (1 + 0.5 / np.sqrt(v2)), np.log(2) * (1 + 0.5 / np.sqrt(v2))))


def test_lecture_graph_and_tables():
    graph = trace_graph(lecture_L(anp), 2.0, 3.0)
    assert [(n.name, n.formula) for n in graph.nodes] == [
        ("w1", "w1"), ("w2", "w2"), ("v1", "log w1"), ("v2", "w2 · v1"), ("v3", "√v2"), ("L", "v2 + v3")]
    jL = lecture_L(jnp)
    values = {"w1": 2.0, "w2": 3.0, "v1": np.log(2), "v2": 3 * np.log(2),
              "v3": np.sqrt(3 * np.log(2)), "L": jL(2.0, 3.0)}
    # the forward tables: each row's tangent is the jvp of the sub-computation up to that node
    subs = {"v1": lambda w1, w2: jnp.log(w1), "v2": lambda w1, w2: w2 * jnp.log(w1),
            "v3": lambda w1, w2: jnp.sqrt(w2 * jnp.log(w1)), "L": jL,
            "w1": lambda w1, w2: w1, "w2": lambda w1, w2: w2}
    for direction in ((1.0, 0.0), (0.0, 1.0)):
        table = forward_table(graph, direction)
        for name, formula, value, tangent in table.rows:
            assert_close(value, values[name])
            assert_close(tangent, jax.jvp(subs[name], (2.0, 3.0), direction)[1])
    # the reverse table: the adjoint of v_i is ∂L/∂v_i with v_i treated as an independent input
    v1, v2, v3 = values["v1"], values["v2"], values["v3"]
    adjoint = {"L": 1.0, "v3": 1.0,
               "v2": jax.grad(lambda v2: v2 + jnp.sqrt(v2))(v2),
               "v1": jax.grad(lambda v1: 3.0 * v1 + jnp.sqrt(3.0 * v1))(v1),
               "w2": jax.grad(jL, 1)(2.0, 3.0), "w1": jax.grad(jL, 0)(2.0, 3.0)}
    table = reverse_table(graph)
    assert [row[0] for row in table.rows] == ["L", "v3", "v2", "v1", "w2", "w1"]
    for name, formula, value, adj in table.rows:
        assert_close(adj, adjoint[name])
    assert "<table>" in table._repr_html_() and "adjoint" in str(table)
    assert len(table[:3]) == 3


def test_graph_drawing_runs_headless(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from adcourse.graph import draw_graph
    ax = draw_graph(trace_graph(lecture_L(anp), 2.0, 3.0), highlight=("v2",), annotations={"v1": "0.5"})
    ax.figure.savefig(tmp_path / "graph.png")
    assert (tmp_path / "graph.png").stat().st_size > 1000
    assert len(ax.patches) + len(ax.texts) > 6


def test_step_figures_and_tables_in_both_languages():
    import matplotlib
    matplotlib.use("Agg")
    from adcourse.graph import draw_steps, set_language
    graph = trace_graph(lecture_L(anp), 2.0, 3.0)
    table = reverse_table(graph)
    fig = draw_steps(graph, table, "adjoint", [(1, "L"), (3, "v2"), (6, "w1")])
    assert len(fig.axes) == 6
    shaded = [t for t in fig.axes[5].texts if t.get_bbox_patch() is not None]
    assert len(shaded) == 3  # the last step adds three rows: v1, w2, w1
    try:
        set_language("ru")
        assert "сопряжённая" in str(table) and "узел" in table._repr_html_()
        assert table.column("adjoint")[0] == 1.0  # keys stay English
    finally:
        set_language("en")
    assert "adjoint" in str(table)
    with pytest.raises(ValueError, match="'de'"):
        set_language("de")


def test_a_chain_of_ten_thousand_operations():
    def chain(x):
        for _ in range(10_000):
            x = anp.sin(x)
        return x
    expected, x = 1.0, 0.8
    for _ in range(10_000):
        expected *= np.cos(x)
        x = np.sin(x)
    assert_close(adcourse.grad(chain)(0.8), expected)
    assert_close(adcourse.jvp(chain, (0.8,), (1.0,))[1], expected)


def test_reused_values_and_diamonds():
    assert adcourse.grad(lambda a: a + a)(3.0) == 2.0
    assert adcourse.grad(lambda a: a * a)(3.0) == 6.0

    def diamond(x):
        a = anp.sin(x)
        b, c = a * 2.0, a * a
        return b * c + a

    jdiamond = lambda x: (lambda a: 2 * a * a * a + a)(jnp.sin(x))  # noqa: E731
    assert_close(adcourse.grad(diamond)(0.4), jax.grad(jdiamond)(0.4))


def test_the_same_gradient_twice_is_the_same():
    L = f(anp)
    g = adcourse.grad(L)
    assert np.array_equal(g(X), g(X))
    out, pullback = adcourse.vjp(L, X)
    first, second = pullback(1.0), pullback(1.0)
    assert np.array_equal(first[0], second[0])


def test_pytrees_of_parameters():
    params = {"W": np.eye(2) * 0.5, "b": (np.ones(2), np.array(0.5))}
    x = np.array([1.0, -2.0])

    def loss(np_like):
        return lambda p: np_like.sum(np_like.tanh(p["W"] @ x + p["b"][0]) * p["b"][1])

    ours, theirs = adcourse.grad(loss(anp))(params), jax.grad(loss(jnp))(params)
    assert_close(ours["W"], theirs["W"])
    assert_close(ours["b"], theirs["b"])


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0), -1])
def test_argnums(argnums):
    g = lambda np_like: (lambda a, b: np_like.sin(a) * b ** 2)  # noqa: E731
    assert_close(adcourse.grad(g(anp), argnums)(0.5, 1.5), jax.grad(g(jnp), argnums)(0.5, 1.5))
    assert_close(adcourse.jacrev(g(anp), argnums)(0.5, 1.5), jax.jacrev(g(jnp), argnums)(0.5, 1.5))
    assert_close(adcourse.hessian(g(anp), argnums)(0.5, 1.5), jax.hessian(g(jnp), argnums)(0.5, 1.5))
