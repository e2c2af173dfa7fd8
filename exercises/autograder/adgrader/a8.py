"""Hidden checks of assignment 8: expression swell, implicit differentiation of a regularised
least-squares solution, and a hand-written pullback that does not overflow.

References: ``adcourse.grad`` of the same scalar programs (the student may not use
``adcourse`` here), the length of the tape counted by an independent recorder, the implicit
function theorem in closed form and numpy's ``logaddexp``; the test suite checks them against
JAX.
"""

import numbers

import numpy as np

import adcourse

from .guard import (ALL_TRANSFORMS, ENGINE_MODULES, Forbidden, as_float_array, assert_close, call_student, fail,
                    get, quiet, seed)

FORBIDDEN = Forbidden(functions=ALL_TRANSFORMS, modules=ENGINE_MODULES)


# -- programs written once for expressions, floats, tracers and JAX -----------------------

def logistic(x, steps):
    l = x
    for _ in range(steps):
        l = 4 * l * (1 - l)
    return l


def squares(x):
    y = x
    for _ in range(5):
        y = y * y - 2.0 * y + x
    return y


def products(x):
    a = x * x
    b = a * x - 3.0
    return (a + b) * (a - b) * b + 2.0 * a - (1.0 - x) * b


def horner(x):
    y = 0.0 * x + 0.5
    for c in (-1.0, 2.0, 0.0, 3.0, -0.25, 1.0):
        y = y * x + c
    return y


PROGRAMS = {"f_1": lambda x: logistic(x, 1), "f_6": lambda x: logistic(x, 6), "f_16": lambda x: logistic(x, 16),
            "squares": squares, "products": products, "horner": horner}
# Programs with unary minus, and operations between plain numbers that a tape does not record.
TAPE_PROGRAMS = {
    "f_1": lambda x: logistic(x, 1),
    "f_7": lambda x: logistic(x, 7),
    "f_25": lambda x: logistic(x, 25),
    "squares": squares,
    "products": products,
    "minus": lambda x: -(x * x) - 3 * (2 - x) + (1 - 1) * 0,
    "constants": lambda x: (2.0 * 3.0) * x - 4 * 5 + -x,
    "reuse": lambda x: (x * x) * (x * x) - (-x),
}


def _nodes(e):
    """Every distinct node of an expression, children before parents."""
    order, seen, stack = [], set(), [(e, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in getattr(node, "children", ()))
    return order


def evaluate(e, x):
    """The value of an expression at x, every distinct node once; None if it is not one."""
    values = {}
    for node in _nodes(e):
        op, children = getattr(node, "op", None), getattr(node, "children", ())
        if op == "x":
            values[id(node)] = x
        elif op == "const":
            values[id(node)] = float(node.value)
        elif op in ("+", "-", "*") and len(children) == 2:
            a, b = (values[id(c)] for c in children)
            values[id(node)] = a + b if op == "+" else a - b if op == "-" else a * b
        else:
            return None
    return values[id(e)]


def formula_size(e):
    """Nodes of e written out: each node counts once per path from the root."""
    sizes = {}
    for node in _nodes(e):
        sizes[id(node)] = 1 + sum(sizes[id(c)] for c in node.children)
    return sizes[id(e)]


def derivative(e, Expr):
    """de/dx with shared subexpressions, built with the notebook's Expr (a reference for sizes)."""
    done = {}
    for node in _nodes(e):
        if node.op == "x":
            d = Expr("const", value=1.0)
        elif node.op == "const":
            d = Expr("const", value=0.0)
        else:
            a, b = node.children
            da, db = done[id(a)], done[id(b)]
            d = da + db if node.op == "+" else da - db if node.op == "-" else da * b + a * db
        done[id(node)] = d
    return done[id(e)]


def _is_count(value, expected):
    """A whole number equal to expected: int, numpy integer or an int-valued float."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == expected


def symbolic(namespace):
    """derivative: the value of f' at random points against adcourse.grad, and sharing (its
    distinct nodes at most a fixed multiple of those of f); formula_size: exact counts of
    formulas built here, up to f_40 with about 10^12 nodes."""
    __tracebackhide__ = True
    task = "task 1"
    student_derivative = get(namespace, "derivative", task)
    student_size = get(namespace, "formula_size", task)
    Expr = get(namespace, "Expr", task)
    rng = np.random.default_rng(seed(task))
    expressions = {name: program(Expr("x")) for name, program in PROGRAMS.items()}
    derivatives = call_student(task, FORBIDDEN, lambda: {name: student_derivative(e) for name, e in expressions.items()})
    for name, program in PROGRAMS.items():
        d, e = derivatives[name], expressions[name]
        for x in rng.uniform(0.1, 0.9, 3):
            value = evaluate(d, x)
            if value is None:
                fail(f"{task}: derivative of `{name}` is not an expression of x, constants, +, - and *")
            with quiet():
                expected = adcourse.grad(program)(x)
            assert_close(value, expected, rtol=1e-9, atol=1e-12, what=f"{task}: the derivative of `{name}` at x = {x:.3f}")
        if len(_nodes(d)) > 5 * len(_nodes(e)) + 5:
            fail(f"{task}: the derivative of `{name}` has {len(_nodes(d))} distinct nodes, the function "
                 f"{len(_nodes(e))}: differentiate each distinct node once and reuse the result")
    formulas = list(expressions.items()) + [(f"{name}'", derivative(e, Expr)) for name, e in expressions.items()]
    formulas += [("f_40", logistic(Expr("x"), 40)), ("x", Expr("x")), ("a constant", Expr("const", value=2.0))]
    sizes = call_student(task, FORBIDDEN, lambda: [student_size(e) for _, e in formulas])
    for (name, e), size in zip(formulas, sizes):
        if not _is_count(size, formula_size(e)):
            fail(f"{task}: formula_size of `{name}` is {size!r}, expected {formula_size(e)}")


class _Recorded:
    """A value on a tape that only counts (the reference for tape_length)."""

    def __init__(self, value, tape):
        self.value, self.tape = value, tape

    def _new(self, value):
        self.tape.append(value)
        return _Recorded(value, self.tape)

    def _plain(self, other):
        return other.value if isinstance(other, _Recorded) else other

    def __add__(self, other): return self._new(self.value + self._plain(other))
    def __radd__(self, other): return self._new(self._plain(other) + self.value)
    def __sub__(self, other): return self._new(self.value - self._plain(other))
    def __rsub__(self, other): return self._new(self._plain(other) - self.value)
    def __mul__(self, other): return self._new(self.value * self._plain(other))
    def __rmul__(self, other): return self._new(self._plain(other) * self.value)
    def __neg__(self): return self._new(-self.value)


def operations(program, x):
    tape = []
    program(_Recorded(x, tape))
    return len(tape)


def tape(namespace):
    """tape_length against an independent count, for programs with reuse, unary minus and
    operations between constants, twice each (the count must start from zero every call)."""
    __tracebackhide__ = True
    task = "task 2"
    student = get(namespace, "tape_length", task)
    rng = np.random.default_rng(seed(task))
    cases = [(name, program, float(rng.uniform(0.1, 0.9))) for name, program in TAPE_PROGRAMS.items()]
    counts = call_student(task, FORBIDDEN, lambda: [(student(p, x), student(p, x)) for _, p, x in cases])
    for (name, program, x), (first, second) in zip(cases, counts):
        expected = operations(program, x)
        for count in (first, second):
            if not _is_count(count, expected):
                fail(f"{task}: tape_length of `{name}` is {count!r}, expected {expected}")


def ridge_reference(A, b, mu, g):
    """(∂ℓ/∂A, ∂ℓ/∂b, ∂ℓ/∂μ) = (rλᵀ − Aλx*ᵀ, Aλ, −λᵀx*) with (AᵀA + μI)λ = g, r = b − Ax*."""
    M = A.T @ A + mu * np.eye(A.shape[1])
    x = np.linalg.solve(M, A.T @ b)
    lam = np.linalg.solve(M, g)
    r = b - A @ x
    return np.outer(r, lam) - np.outer(A @ lam, x), A @ lam, -lam @ x


def _number(value, what):
    """A scalar answer as a 0-d float array (a one-element array is accepted as the number)."""
    __tracebackhide__ = True
    array = as_float_array(value, what)
    return array.reshape(()) if array.size == 1 else array


def _pair(answer, n, task, what):
    __tracebackhide__ = True
    try:
        items = list(answer)
    except TypeError:
        items = None
    if items is None or len(items) != n:
        fail(f"{task}: expected {n} results ({what}), got {answer!r:.200}")
    return items


def ridge(namespace):
    """The three gradients against the implicit-function formula, for tall and wide A, with
    and without regularisation."""
    __tracebackhide__ = True
    task = "task 3"
    student = get(namespace, "ridge_gradients", task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for p, q, mu in ((8, 3, 0.5), (5, 5, 0.0), (4, 7, 1.0), (20, 6, 0.0), (12, 4, 3.0)):
        cases.append((rng.standard_normal((p, q)), rng.standard_normal(p), mu, rng.standard_normal(q)))
    answers = call_student(task, FORBIDDEN, lambda: [student(A.copy(), b.copy(), mu, g.copy()) for A, b, mu, g in cases])
    for (A, b, mu, g), answer in zip(cases, answers):
        shape = f"A of shape {A.shape}, mu = {mu:g}"
        dA, db, dmu = _pair(answer, 3, task, "dl/dA, dl/db, dl/dmu")
        eA, eb, emu = ridge_reference(A, b, mu, g)
        assert_close(dA, eA, rtol=1e-8, atol=1e-10, what=f"{task}: dl/dA for {shape}")
        assert_close(db, eb, rtol=1e-8, atol=1e-10, what=f"{task}: dl/db for {shape}")
        assert_close(_number(dmu, f"{task}: dl/dmu"), emu, rtol=1e-8, atol=1e-10, what=f"{task}: dl/dmu for {shape}")


def softplus_reference(z):
    return np.logaddexp(0.0, z), np.exp(-np.logaddexp(0.0, -z))


def _close_elementwise(actual, expected, what, rtol=1e-10, atol=1e-12):
    """|a − e| ≤ atol + rtol |e| entry by entry (values from 1e-300 to 1e3 side by side)."""
    __tracebackhide__ = True
    a = as_float_array(actual, what)
    if a.shape != expected.shape:
        fail(f"{what}: the answer has shape {a.shape}, expected {expected.shape}")
    if not np.all(np.isfinite(a)):
        bad = np.flatnonzero(~np.isfinite(a.ravel()))[0]
        fail(f"{what}: inf or nan at entry {bad}")
    error = np.abs(a - expected) - rtol * np.abs(expected)
    if np.any(error > atol):
        worst = int(np.argmax(error.ravel()))
        fail(f"{what}: entry {worst} is {a.ravel()[worst]!r}, expected {expected.ravel()[worst]!r}")


def softplus(namespace):
    """Values and pullbacks against logaddexp for |z| up to 1000, the pullback applied to two
    different cotangents."""
    __tracebackhide__ = True
    task = "task 4"
    student = get(namespace, "softplus_vjp", task)
    rng = np.random.default_rng(seed(task))
    points = [np.array([-1000.0, -745.5, -709.0, -40.0, -1e-9, 0.0, 1e-9, 36.0, 709.0, 710.0, 1000.0]),
              rng.uniform(-1000, 1000, 20), rng.standard_normal(9) * 5]
    cotangents = [(rng.standard_normal(z.shape), rng.standard_normal(z.shape)) for z in points]

    def run():
        results = []
        for z, (g1, g2) in zip(points, cotangents):
            value, pullback = _pair(student(z.copy()), 2, task, "value, pullback")
            results.append((value, pullback(g1.copy()), pullback(g2.copy())))
        return results

    for z, (g1, g2), (value, first, second) in zip(points, cotangents, call_student(task, FORBIDDEN, run)):
        expected, sigmoid = softplus_reference(z)
        where = f"for z in [{z.min():.4g}, {z.max():.4g}]"
        _close_elementwise(value, expected, f"{task}: the value {where}")
        _close_elementwise(first, g1 * sigmoid, f"{task}: pullback(g) {where}")
        _close_elementwise(second, g2 * sigmoid, f"{task}: pullback(g) for a second g {where}")


def logistic_reference(w, X, y):
    z = -y * (X @ w)
    value, sigmoid = softplus_reference(z)
    return np.mean(value), X.T @ (-y * sigmoid) / len(y)


def logistic_loss(namespace):
    """(L, ∇L) against the reference at weights from small to margins of thousands."""
    __tracebackhide__ = True
    task = "task 5"
    student = get(namespace, "logistic_loss_and_grad", task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for N, d, scale in ((5, 2, 0.1), (40, 3, 1.0), (30, 4, 100.0), (50, 2, 1000.0)):
        X = rng.standard_normal((N, d))
        cases.append((scale * rng.standard_normal(d), X, np.where(rng.uniform(size=N) < 0.5, -1.0, 1.0)))
    answers = call_student(task, FORBIDDEN, lambda: [student(w.copy(), X.copy(), y.copy()) for w, X, y in cases])
    for (w, X, y), answer in zip(cases, answers):
        L, grad = _pair(answer, 2, task, "L, dL_dw")
        eL, egrad = logistic_reference(w, X, y)
        where = f"for N = {X.shape[0]}, |w| = {np.linalg.norm(w):.3g}"
        assert_close(_number(L, f"{task}: L"), eL, rtol=1e-10, atol=1e-12, what=f"{task}: L {where}")
        assert_close(grad, egrad, rtol=1e-9, atol=1e-12, what=f"{task}: dL/dw {where}")
