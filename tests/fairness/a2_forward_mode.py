"""Correct submissions of assignment 2 (forward mode), written differently from the
instructor's: see tests/test_fairness.py for the format and what is checked."""

VARIANTS = [
    {   # 1: a dataclass with operator aliases, numpy for the elementary functions, a list returned
        "dual": '''\
from dataclasses import dataclass


@dataclass
class Dual:
    value: float
    tangent: float = 0.0

    @staticmethod
    def of(x):
        return x if isinstance(x, Dual) else Dual(float(x), 0.0)

    def __add__(self, other):
        other = Dual.of(other)
        return Dual(self.value + other.value, self.tangent + other.tangent)

    __radd__ = __add__

    def __neg__(self):
        return Dual(-self.value, -self.tangent)

    def __sub__(self, other):
        return self + (-Dual.of(other))

    def __rsub__(self, other):
        return Dual.of(other) - self

    def __mul__(self, other):
        other = Dual.of(other)
        return Dual(self.value * other.value, self.value * other.tangent + self.tangent * other.value)

    __rmul__ = __mul__

    def __truediv__(self, other):
        other = Dual.of(other)
        return Dual(self.value / other.value,
                    (self.tangent * other.value - self.value * other.tangent) / other.value ** 2)

    def __rtruediv__(self, other):
        return Dual.of(other) / self

    def __pow__(self, p):
        return Dual(self.value ** p, p * self.value ** (p - 1) * self.tangent)


def log(x):
    return Dual(np.log(x.value), x.tangent / x.value)


def sqrt(x):
    return Dual(np.sqrt(x.value), 0.5 * x.tangent / np.sqrt(x.value))


def exp(x):
    return Dual(np.exp(x.value), np.exp(x.value) * x.tangent)


def sin(x):
    return Dual(np.sin(x.value), np.cos(x.value) * x.tangent)
''',
        "lecture": '''\
def lecture_gradient(w1, w2):
    results = []
    for seed in ((1.0, 0.0), (0.0, 1.0)):
        a, b = Dual(w1, seed[0]), Dual(w2, seed[1])
        v2 = b * log(a)
        results.append(v2 + sqrt(v2))
    return [results[0].value, results[0].tangent, results[1].tangent]
''',
        "jacobian": '''\
def jacobian_forward(f, x):
    n = len(x)
    J = None
    for j in range(n):
        out = f([Dual(x[i], float(i == j)) for i in range(n)])
        if J is None:
            J = np.empty((len(out), n))
        J[:, j] = [o.tangent for o in out]
    return J
''',
    },
    {   # 2: slots, one generic helper for the chain rule, division as a product with a reciprocal
        "dual": '''\
class Dual:
    __slots__ = ("value", "tangent")

    def __init__(self, value, tangent=0.0):
        self.value = float(value)
        self.tangent = float(tangent)

    def __repr__(self):
        return f"Dual({self.value}, {self.tangent})"


def lift(x):
    return x if isinstance(x, Dual) else Dual(x)


def chain(f, df):
    """A function of one dual number from f and its derivative."""
    return lambda x: Dual(f(x.value), df(x.value) * x.tangent)


def _add(a, b):
    a, b = lift(a), lift(b)
    return Dual(a.value + b.value, a.tangent + b.tangent)


def _mul(a, b):
    a, b = lift(a), lift(b)
    return Dual(a.value * b.value, a.tangent * b.value + a.value * b.tangent)


reciprocal = chain(lambda v: 1.0 / v, lambda v: -1.0 / (v * v))
Dual.__add__ = _add
Dual.__radd__ = lambda self, other: _add(other, self)
Dual.__mul__ = _mul
Dual.__rmul__ = lambda self, other: _mul(other, self)
Dual.__neg__ = lambda self: _mul(self, -1.0)
Dual.__sub__ = lambda self, other: _add(self, _mul(other, -1.0))
Dual.__rsub__ = lambda self, other: _add(other, _mul(self, -1.0))
Dual.__truediv__ = lambda self, other: _mul(self, reciprocal(lift(other)))
Dual.__rtruediv__ = lambda self, other: _mul(other, reciprocal(self))
Dual.__pow__ = lambda self, p: chain(lambda v: v ** p, lambda v: p * v ** (p - 1))(self)

log = chain(math.log, lambda v: 1.0 / v)
sqrt = chain(math.sqrt, lambda v: 0.5 / math.sqrt(v))
exp = chain(math.exp, math.exp)
sin = chain(math.sin, math.cos)
''',
        "lecture": '''\
def lecture_gradient(w1, w2):
    def L(a, b):
        t = b * log(a)
        return t + sqrt(t)
    first, second = L(Dual(w1, 1), Dual(w2, 0)), L(Dual(w1, 0), Dual(w2, 1))
    return np.array([first.value, first.tangent, second.tangent])
''',
        "jacobian": '''\
def jacobian_forward(f, x):
    x = [float(v) for v in x]
    columns = []
    for j, _ in enumerate(x):
        seeds = [Dual(v, 1.0 if i == j else 0.0) for i, v in enumerate(x)]
        columns.append(np.array([y.tangent for y in f(seeds)]))
    return np.stack(columns, axis=1)
''',
    },
    {   # 3: a namedtuple subclass, the quotient rule, a generator; the Jacobian as lists
        "dual": '''\
from collections import namedtuple


class Dual(namedtuple("DualPair", ["value", "tangent"])):
    def __new__(cls, value, tangent=0.0):
        return super().__new__(cls, float(value), float(tangent))

    def _pair(self, other):
        return other if isinstance(other, Dual) else Dual(other)

    def __add__(self, other):
        o = self._pair(other)
        return Dual(self.value + o.value, self.tangent + o.tangent)

    def __radd__(self, other):
        return self.__add__(other)

    def __sub__(self, other):
        o = self._pair(other)
        return Dual(self.value - o.value, self.tangent - o.tangent)

    def __rsub__(self, other):
        return self._pair(other).__sub__(self)

    def __neg__(self):
        return Dual(0.0).__sub__(self)

    def __mul__(self, other):
        o = self._pair(other)
        return Dual(self.value * o.value, self.tangent * o.value + o.tangent * self.value)

    def __rmul__(self, other):
        return self.__mul__(other)

    def __truediv__(self, other):
        o = self._pair(other)
        return Dual(self.value / o.value, (self.tangent * o.value - self.value * o.tangent) / (o.value * o.value))

    def __rtruediv__(self, other):
        return self._pair(other).__truediv__(self)

    def __pow__(self, exponent):
        return Dual(self.value ** exponent, exponent * self.value ** (exponent - 1) * self.tangent)


def log(x):
    return Dual(math.log(x.value), x.tangent / x.value)


def sqrt(x):
    return x ** 0.5


def exp(x):
    e = math.exp(x.value)
    return Dual(e, x.tangent * e)


def sin(x):
    return Dual(math.sin(x.value), x.tangent * math.cos(x.value))
''',
        "lecture": '''\
def lecture_gradient(w1, w2):
    v1 = log(Dual(w1, 1.0))
    v2 = Dual(w2, 0.0) * v1
    along_w1 = v2 + sqrt(v2)
    v1 = log(Dual(w1))
    v2 = Dual(w2, 1.0) * v1
    along_w2 = v2 + sqrt(v2)
    return (np.float64(along_w1.value), np.float64(along_w1.tangent), np.float64(along_w2.tangent))
''',
        "jacobian": '''\
def jacobian_forward(f, x):
    n = len(x)
    def column(j):
        return [out.tangent for out in f([Dual(x[i], 1.0 if i == j else 0.0) for i in range(n)])]
    cols = [column(j) for j in range(n)]
    return [[cols[j][i] for j in range(n)] for i in range(len(cols[0]))]
''',
    },
]
