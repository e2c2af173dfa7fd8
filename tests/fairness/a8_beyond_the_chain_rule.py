"""Correct submissions of a8_beyond_the_chain_rule that differ from the instructor's solution
in algorithm, types and style: each must get every autograded point."""

WRITTEN = {
    "written_swell": "Written out, f_n' doubles with every step; shared, it grows by a few nodes per step, "
                     "like the tape (3 per step). AD is the chain rule on the program's graph, not on a formula.",
    "written_implicit": "M dx = dA^T r - A^T dA x - dmu x + A^T db with M = A^T A + mu I; with M lam = g: "
                        "dA = r lam^T - A lam x^T, db = A lam, dmu = -lam^T x. No stored iterations needed.",
}

VARIANTS = [
    # Iterative sweeps over a topological order, the constructors called by name, a counter in a
    # closure, lstsq for the solves, logaddexp for softplus, a list returned.
    dict(WRITTEN, **{
        "symbolic_answer": '''
def _postorder(e):
    order, seen, stack = [], set(), [(e, False)]
    while stack:
        node, ready = stack.pop()
        if ready:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            for child in node.children:
                stack.append((child, False))
    return order


def derivative(e):
    d = {}
    for node in _postorder(e):
        if node.op == "x":
            d[id(node)] = wrap(1.0)
        elif node.op == "const":
            d[id(node)] = wrap(0.0)
        else:
            a, b = node.children
            if node.op == "+":
                d[id(node)] = add(d[id(a)], d[id(b)])
            elif node.op == "-":
                d[id(node)] = sub(d[id(a)], d[id(b)])
            else:
                d[id(node)] = add(mul(d[id(a)], b), mul(a, d[id(b)]))
    return d[id(e)]


def formula_size(e):
    size = {}
    for node in _postorder(e):
        size[id(node)] = 1 + sum(size[id(c)] for c in node.children)
    return size[id(e)]
''',
        "tape_answer": '''
def tape_length(f, x):
    count = [0]

    class Counted:
        def __init__(self, v):
            self.v = v

        def op(self, v):
            count[0] += 1
            return Counted(v)

        def __add__(self, o): return self.op(self.v + (o.v if isinstance(o, Counted) else o))
        __radd__ = __add__
        def __mul__(self, o): return self.op(self.v * (o.v if isinstance(o, Counted) else o))
        __rmul__ = __mul__
        def __sub__(self, o): return self.op(self.v - (o.v if isinstance(o, Counted) else o))
        def __rsub__(self, o): return self.op((o.v if isinstance(o, Counted) else o) - self.v)
        def __neg__(self): return self.op(-self.v)

    f(Counted(x))
    return count[0]
''',
        "ridge_answer": '''
def ridge_gradients(A, b, mu, g):
    A, b, g = np.asarray(A, float), np.asarray(b, float), np.asarray(g, float)
    q = A.shape[1]
    M = A.T @ A + mu * np.eye(q)
    x_star = np.linalg.lstsq(M, A.T @ b, rcond=None)[0]
    lam = np.linalg.lstsq(M, g, rcond=None)[0]
    residual = b - A @ x_star
    A_lam = A @ lam
    return [np.outer(residual, lam) - np.outer(A_lam, x_star), A_lam, -np.dot(lam, x_star)]
''',
        "softplus_answer": '''
def softplus_vjp(z):
    z = np.asarray(z, dtype=float)
    value = np.logaddexp(0.0, z)
    slope = np.exp(-np.logaddexp(0.0, -z))
    return [value, lambda g: g * slope]
''',
        "logistic_answer": '''
def logistic_loss_and_grad(w, X, y):
    margins = y * (X @ w)
    s, pullback = softplus_vjp(-margins)
    dz = pullback(np.ones(len(y)) / len(y))
    return np.mean(s), -(X.T @ (y * dz))
''',
    }),
    # Memoisation by functools.lru_cache (an Expr hashes by identity), a class-level counter reset
    # on every call, a Cholesky factor, np.where with the overflowing branch silenced, loops
    # over the samples.
    dict(WRITTEN, **{
        "symbolic_answer": '''
from functools import lru_cache


def derivative(e):
    @lru_cache(maxsize=None)
    def d(node):
        if node.op == "x":
            return wrap(1)
        if node.op == "const":
            return wrap(0)
        left, right = node.children
        if node.op == "*":
            return left * d(right) + d(left) * right
        return d(left) + d(right) if node.op == "+" else d(left) - d(right)
    return d(e)


def formula_size(e):
    @lru_cache(maxsize=None)
    def size(node):
        return 1 + sum(map(size, node.children))
    return size(e)
''',
        "tape_answer": '''
class Traced:
    __slots__ = ("value",)
    operations = 0

    def __init__(self, value):
        self.value = value

    @classmethod
    def lift(cls, value):
        Traced.operations += 1
        return cls(value)

    def __add__(self, other):
        return Traced.lift(self.value + plain_value(other))

    def __radd__(self, other):
        return Traced.lift(plain_value(other) + self.value)

    def __sub__(self, other):
        return Traced.lift(self.value - plain_value(other))

    def __rsub__(self, other):
        return Traced.lift(plain_value(other) - self.value)

    def __mul__(self, other):
        return Traced.lift(self.value * plain_value(other))

    def __rmul__(self, other):
        return Traced.lift(plain_value(other) * self.value)

    def __neg__(self):
        return Traced.lift(-self.value)


def plain_value(v):
    return v.value if isinstance(v, Traced) else v


def tape_length(f, x):
    Traced.operations = 0
    f(Traced(float(x)))
    return Traced.operations
''',
        "ridge_answer": '''
def ridge_gradients(A, b, mu, g):
    A = np.array(A, dtype=float)
    M = A.T @ A + mu * np.eye(A.shape[1])
    L = np.linalg.cholesky(M)

    def solve(rhs):
        return np.linalg.solve(L.T, np.linalg.solve(L, rhs))

    x = solve(A.T @ b)
    lam = solve(np.asarray(g, dtype=float))
    dA = np.einsum("i,j->ij", b - A @ x, lam) - np.einsum("i,j->ij", A @ lam, x)
    return dA, A @ lam, np.array([-(lam @ x)])
''',
        "softplus_answer": '''
def softplus_vjp(z):
    z = np.asarray(z, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        value = np.where(z > 0, z + np.log1p(np.exp(-z)), np.log1p(np.exp(z)))
        sig = np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))
    def pullback(g):
        return sig * g
    return value, pullback
''',
        "logistic_answer": '''
def logistic_loss_and_grad(w, X, y):
    N = len(y)
    z = np.array([-y[i] * float(np.dot(X[i], w)) for i in range(N)])
    s, back = softplus_vjp(z)
    bar_z = back(np.full(N, 1.0 / N))
    grad = np.zeros(len(w))
    for i in range(N):
        grad = grad - y[i] * bar_z[i] * np.asarray(X[i])
    return sum(s) / N, grad
''',
    }),
    # A table of rules, recursion with an explicit dict argument, a tape of node objects, the
    # explicit inverse, elementwise math in Python lists.
    dict(WRITTEN, **{
        "symbolic_answer": '''
RULES = {
    "+": lambda a, b, da, db: da + db,
    "-": lambda a, b, da, db: da - db,
    "*": lambda a, b, da, db: b * da + a * db,
}


def derivative(e, cache=None):
    if cache is None:
        cache = {}
    key = id(e)
    if key in cache:
        return cache[key]
    if e.op in RULES:
        a, b = e.children
        result = RULES[e.op](a, b, derivative(a, cache), derivative(b, cache))
    else:
        result = wrap(1.0 if e.op == "x" else 0.0)
    cache[key] = result
    return result


def formula_size(e, memo=None):
    memo = {} if memo is None else memo
    if id(e) in memo:
        return memo[id(e)]
    total = 1
    for child in e.children:
        total += formula_size(child, memo)
    memo[id(e)] = total
    return total
''',
        "tape_answer": '''
from dataclasses import dataclass, field


@dataclass
class Node:
    value: float
    tape: list = field(default_factory=list)

    def _push(self, value):
        node = Node(value, self.tape)
        self.tape.append(node)
        return node

    def _v(self, other):
        return other.value if isinstance(other, Node) else other

    def __add__(self, other): return self._push(self.value + self._v(other))
    def __radd__(self, other): return self._push(self._v(other) + self.value)
    def __sub__(self, other): return self._push(self.value - self._v(other))
    def __rsub__(self, other): return self._push(self._v(other) - self.value)
    def __mul__(self, other): return self._push(self.value * self._v(other))
    def __rmul__(self, other): return self._push(self._v(other) * self.value)
    def __neg__(self): return self._push(-self.value)


def tape_length(f, x):
    start = Node(x)
    f(start)
    return float(len(start.tape))
''',
        "ridge_answer": '''
def ridge_gradients(A, b, mu, g):
    A, b, g = np.asarray(A, dtype=float), np.asarray(b, dtype=float), np.asarray(g, dtype=float)
    M_inv = np.linalg.inv(A.T @ A + mu * np.identity(A.shape[1]))
    x = M_inv @ (A.T @ b)
    lam = M_inv @ g
    return (np.outer(b - A @ x, lam) - np.outer(A @ lam, x), A @ lam, np.array(-(lam @ x)))
''',
        "softplus_answer": '''
import math


def softplus_vjp(z):
    flat = [float(v) for v in np.ravel(z)]
    values = [max(v, 0.0) + math.log1p(math.exp(-abs(v))) for v in flat]
    slopes = [1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v)) for v in flat]
    shape = np.shape(z)

    def pullback(g):
        return (np.ravel(g) * np.array(slopes)).reshape(shape)

    return np.reshape(values, shape), pullback
''',
        "logistic_answer": '''
def logistic_loss_and_grad(w, X, y):
    X, y, w = np.asarray(X, dtype=float), np.asarray(y, dtype=float), np.asarray(w, dtype=float)
    n = y.size
    value, pullback = softplus_vjp(-y * X.dot(w))
    return (float(np.mean(value)), X.T.dot(-y * pullback(np.ones(n))) / n)
''',
    }),
]
