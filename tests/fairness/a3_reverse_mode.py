"""Correct submissions of assignment 3 (reverse mode), written differently from the
instructor's: see tests/test_fairness.py for the format and what is checked."""

VARIANTS = [
    {   # 1: operator aliases; backward orders the graph itself (depth-first), a list returned
        "tape": '''\
TAPE = []


class Var:
    def __init__(self, value, parents=()):
        self.value = float(value)
        self.grad = 0.0
        self.parents = tuple(parents)
        TAPE.append(self)

    def __repr__(self):
        return f"Var({self.value}, grad={self.grad})"

    @staticmethod
    def lift(x):
        return x if isinstance(x, Var) else Var(x)

    def __add__(self, other):
        other = Var.lift(other)
        return Var(self.value + other.value, [(self, 1.0), (other, 1.0)])

    __radd__ = __add__

    def __mul__(self, other):
        other = Var.lift(other)
        return Var(self.value * other.value, [(self, other.value), (other, self.value)])

    __rmul__ = __mul__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-Var.lift(other))

    def __rsub__(self, other):
        return Var.lift(other) - self

    def __truediv__(self, other):
        return self * Var.lift(other) ** -1

    def __rtruediv__(self, other):
        return Var.lift(other) * self ** -1

    def __pow__(self, p):
        return Var(self.value ** p, [(self, p * self.value ** (p - 1))])


def log(x):
    return Var(math.log(x.value), [(x, 1 / x.value)])


def sqrt(x):
    r = math.sqrt(x.value)
    return Var(r, [(x, 1 / (2 * r))])


def exp(x):
    e = math.exp(x.value)
    return Var(e, [(x, e)])


def sin(x):
    return Var(math.sin(x.value), [(x, math.cos(x.value))])


def backward(output):
    order, seen = [], set()

    def visit(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent, _ in node.parents:
            visit(parent)
        order.append(node)

    visit(output)
    for node in TAPE:
        node.grad = 0.0
    output.grad = 1.0
    for node in reversed(order):
        for parent, local in node.parents:
            parent.grad += local * node.grad
''',
        "backprop": '''\
def two_layer_backprop(x, w1, w2, y):
    b = len(x)
    z1 = x @ w1
    v1 = sigmoid(z1)
    z2 = v1 @ w2
    v2 = sigmoid(z2)
    residual = v2 - y
    L = float(np.sum(residual ** 2) / (2 * b))
    delta2 = residual / b * v2 * (1 - v2)
    dL_dv1 = delta2 @ w2.T
    delta1 = dL_dv1 * v1 * (1 - v1)
    return [L, x.T @ delta1, v1.T @ delta2, dL_dv1]
''',
    },
    {   # 2: each node keeps a closure that passes its adjoint back (as in micrograd)
        "tape": '''\
TAPE = []


class Var:
    def __init__(self, value, back=None):
        self.value = float(value)
        self.grad = 0.0
        self._back = back or (lambda: None)
        TAPE.append(self)

    @staticmethod
    def lift(x):
        return x if isinstance(x, Var) else Var(x)

    def __add__(self, other):
        other = Var.lift(other)
        out = Var(self.value + other.value)
        def back():
            self.grad += out.grad
            other.grad += out.grad
        out._back = back
        return out

    def __radd__(self, other):
        return self + other

    def __mul__(self, other):
        other = Var.lift(other)
        out = Var(self.value * other.value)
        def back():
            self.grad += other.value * out.grad
            other.grad += self.value * out.grad
        out._back = back
        return out

    def __rmul__(self, other):
        return self * other

    def __neg__(self):
        return -1.0 * self

    def __sub__(self, other):
        return self + (-1.0) * Var.lift(other)

    def __rsub__(self, other):
        return Var.lift(other) + (-1.0) * self

    def __truediv__(self, other):
        other = Var.lift(other)
        out = Var(self.value / other.value)
        def back():
            self.grad += out.grad / other.value
            other.grad -= out.grad * self.value / other.value ** 2
        out._back = back
        return out

    def __rtruediv__(self, other):
        return Var.lift(other) / self

    def __pow__(self, p):
        out = Var(self.value ** p)
        def back():
            self.grad += p * self.value ** (p - 1) * out.grad
        out._back = back
        return out


def unary(f, df):
    def apply(x):
        out = Var(f(x.value))
        def back():
            x.grad += df(x.value) * out.grad
        out._back = back
        return out
    return apply


log = unary(math.log, lambda v: 1.0 / v)
sqrt = unary(math.sqrt, lambda v: 0.5 / math.sqrt(v))
exp = unary(math.exp, math.exp)
sin = unary(math.sin, math.cos)


def backward(output):
    for node in TAPE:
        node.grad = 0.0
    output.grad = 1.0
    for node in TAPE[::-1]:
        node._back()
''',
        "backprop": '''\
def two_layer_backprop(x, w1, w2, y):
    b = x.shape[0]
    v1 = 1 / (1 + np.exp(-(x @ w1)))
    v2 = 1 / (1 + np.exp(-(v1 @ w2)))
    L = np.sum(np.square(v2 - y)) / (2 * b)
    g2 = np.einsum("bj,bj,bj->bj", (v2 - y) / b, v2, 1 - v2)
    dv1 = np.einsum("bj,ij->bi", g2, w2)
    g1 = dv1 * v1 * (1 - v1)
    return L, np.einsum("bd,bi->di", x, g1), np.einsum("bi,bj->ij", v1, g2), dv1
''',
    },
    {   # 3: numpy scalars, a dict of local derivatives, parents reset by walking the tape
        "tape": '''\
TAPE = []


class Var:
    def __init__(self, value, parents=()):
        self.value = np.float64(value)
        self.grad = np.float64(0.0)
        self.local = dict()
        for parent, derivative in parents:
            self.local[parent] = self.local.get(parent, 0.0) + derivative
        TAPE.append(self)

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


def _v(x):
    return x if isinstance(x, Var) else Var(x)


def _add(a, b):
    a, b = _v(a), _v(b)
    return Var(a.value + b.value, [(a, 1.0), (b, 1.0)])


def _mul(a, b):
    a, b = _v(a), _v(b)
    return Var(a.value * b.value, [(a, b.value), (b, a.value)])


def _div(a, b):
    a, b = _v(a), _v(b)
    return Var(a.value / b.value, [(a, 1.0 / b.value), (b, -a.value / (b.value * b.value))])


Var.__add__ = _add
Var.__radd__ = lambda self, other: _add(other, self)
Var.__mul__ = _mul
Var.__rmul__ = lambda self, other: _mul(other, self)
Var.__truediv__ = _div
Var.__rtruediv__ = lambda self, other: _div(other, self)
Var.__neg__ = lambda self: Var(-self.value, [(self, -1.0)])
Var.__sub__ = lambda self, other: _add(self, -_v(other))
Var.__rsub__ = lambda self, other: _add(other, -self)
Var.__pow__ = lambda self, p: Var(self.value ** p, [(self, p * self.value ** (p - 1))])


def log(x):
    return Var(np.log(x.value), [(x, 1.0 / x.value)])


def sqrt(x):
    return Var(np.sqrt(x.value), [(x, 0.5 / np.sqrt(x.value))])


def exp(x):
    return Var(np.exp(x.value), [(x, np.exp(x.value))])


def sin(x):
    return Var(np.sin(x.value), [(x, np.cos(x.value))])


def backward(output):
    for node in TAPE:
        node.grad = np.float64(0.0)
    output.grad = np.float64(1.0)
    for node in reversed(TAPE):
        for parent, derivative in node.local.items():
            parent.grad = parent.grad + derivative * node.grad
''',
        "backprop": '''\
def two_layer_backprop(x, w1, w2, y):
    b, n1 = x.shape[0], w1.shape[1]
    dw1, dw2, dv1 = np.zeros_like(w1), np.zeros_like(w2), np.zeros((b, n1))
    total = 0.0
    for i in range(b):  # one example at a time, summed
        h = sigmoid(x[i] @ w1)
        out = sigmoid(h @ w2)
        total += np.sum((out - y[i]) ** 2)
        d_out = (out - y[i]) * out * (1 - out) / b
        dw2 += np.outer(h, d_out)
        dv1[i] = w2 @ d_out
        dw1 += np.outer(x[i], dv1[i] * h * (1 - h))
    return tuple([total / (2 * b), dw1, dw2, dv1])
''',
    },
    {   # 4: solved from the release as a student would, then graded: slots, one helper for binary nodes,
        #    a backward sweep that starts at the output and skips zero adjoints
        "tape": '''\
TAPE = []  # every Var in the order it was created


class Var:
    """A scalar on the tape: its value, its adjoint dL/dv (grad), and its parents with the
    local derivatives d(self)/d(parent)."""

    __slots__ = ("value", "grad", "parents")

    def __init__(self, value, parents=()):
        self.value = float(value)
        self.grad = 0.0
        self.parents = tuple(parents)  # pairs (parent Var, local derivative)
        TAPE.append(self)

    def __repr__(self):
        return f"Var({self.value}, grad={self.grad})"

    @staticmethod
    def lift(x):
        return x if isinstance(x, Var) else Var(x)

    # binary operators: value and the two local derivatives
    def _binary(self, other, value, d_self, d_other):
        return Var(value, [(self, d_self), (other, d_other)])

    def __add__(self, other):
        o = Var.lift(other)
        return self._binary(o, self.value + o.value, 1.0, 1.0)

    def __radd__(self, other):
        return Var.lift(other) + self

    def __neg__(self):
        return Var(-self.value, [(self, -1.0)])

    def __sub__(self, other):
        o = Var.lift(other)
        return self._binary(o, self.value - o.value, 1.0, -1.0)

    def __rsub__(self, other):
        return Var.lift(other) - self

    def __mul__(self, other):
        o = Var.lift(other)
        return self._binary(o, self.value * o.value, o.value, self.value)

    def __rmul__(self, other):
        return Var.lift(other) * self

    def __truediv__(self, other):
        o = Var.lift(other)
        q = self.value / o.value
        return self._binary(o, q, 1.0 / o.value, -q / o.value)

    def __rtruediv__(self, other):
        return Var.lift(other) / self

    def __pow__(self, exponent):
        return Var(self.value ** exponent, [(self, exponent * self.value ** (exponent - 1))])


def log(x):
    return Var(math.log(x.value), [(x, 1.0 / x.value)])


def sqrt(x):
    s = math.sqrt(x.value)
    return Var(s, [(x, 1.0 / (2.0 * s))])


def exp(x):
    e = math.exp(x.value)
    return Var(e, [(x, e)])


def sin(x):
    return Var(math.sin(x.value), [(x, math.cos(x.value))])


def backward(output):
    """Adjoints dL/dv of every node on the tape, for L = output, in one reverse sweep."""
    for node in TAPE:
        node.grad = 0.0
    output.grad = 1.0
    stop = next(i for i in range(len(TAPE) - 1, -1, -1) if TAPE[i] is output)
    for node in TAPE[stop::-1]:   # nodes created after the output cannot feed it
        if node.grad:
            for parent, local in node.parents:
                parent.grad += local * node.grad
''',
        "backprop": '''\
def two_layer_backprop(x, w1, w2, y):
    """L = sum((v2 - y)^2) / (2b) for v1 = sigmoid(x w1), v2 = sigmoid(v1 w2), and its
    gradients with respect to w1, w2 and v1, by one forward and one backward pass."""
    b = x.shape[0]
    v1 = sigmoid(x @ w1)
    v2 = sigmoid(v1 @ w2)
    err = v2 - y
    L = 0.5 * np.mean(np.sum(err * err, axis=1))
    s2 = err * v2 * (1.0 - v2) / b       # dL/dz2
    dL_dv1 = s2 @ w2.T
    s1 = dL_dv1 * v1 * (1.0 - v1)        # dL/dz1
    return L, x.T @ s1, v1.T @ s2, dL_dv1
''',
    },
]
