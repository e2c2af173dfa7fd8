"""Gradient checkpointing: store less during the forward sweep, recompute it in the backward sweep.

Reverse mode keeps every intermediate of the forward sweep for the backward one; for a chain
x_{k+1} = f_k(x_k), k = 0..n-1, followed by a loss L = ℓ(x_n), that is n activations. The backward
sweep x̄_k = x̄_{k+1}ᵀ ∂f_k(x_k) needs x_k (and what f_k computed from it) in the order n-1, ..., 0,
the reverse of the order in which they were made. Checkpointing keeps some x_k only and recomputes
the others from the nearest kept one: memory traded for forward steps.

Two tools:

``checkpoint(fun)`` marks one segment of a function differentiated by the engine: only its inputs
and output go on the tape, and its intermediates are recomputed when the backward sweep reaches it.

``chain_gradient`` differentiates a chain of layers under a *schedule*, a list of actions on the
layer index k that a chapter can animate:

    ("forward", k)   x_{k+1} = f_k(x_k), nothing kept but the new working state
    ("record", k)    the same step under ``vjp``: the layer's tape is kept until its backward step
    ("store", k)     keep the working state x_k in a checkpoint
    ("restore", k)   make checkpoint x_k the working state again
    ("free", k)      drop checkpoint x_k
    ("loss", n)      L = ℓ(x_n) and x̄_n = ∇ℓ(x_n)
    ("backward", k)  x̄_k = x̄_{k+1}ᵀ ∂f_k(x_k) from the kept tape, which is then dropped

Each layer is recorded exactly once, so every schedule makes n recorded steps; the plain
``forward`` steps are the price of the memory saved. Three schedules:
    store_all   record every layer in the first sweep: n tapes, nothing recomputed;
    every_k     store every k-th activation, recompute one segment of k layers at a time
                (k ≈ √n: about 2√n activations, about n steps recomputed);
    binomial    for s checkpoint slots, the fewest recomputed steps possible (Griewank 1992;
                Griewank & Walther 2000, "revolve"), with one tape at a time.
"""
from dataclasses import dataclass
from math import ceil, comb, sqrt

import numpy as np

from .checks import check_count
from .core import EveryArgument, Primitive, Tracer, concrete
from .forward import jvp
from .reverse import record, vjp
from .tree import tree_flatten


def checkpoint(fun):
    """fun, whose intermediates are recomputed in the backward sweep instead of stored.

    For y = fun(x) the forward sweep puts one node on the tape, holding x and y only; when the
    backward sweep reaches it, x̄ = ȳᵀ ∂fun(x) is computed by running ``vjp(fun, x)`` afresh.
    Like ``jax.checkpoint``: same values, same derivatives, less memory. The price is one more
    run of fun per differentiated argument and sweep, so pass constants (weights you do not
    differentiate) as plain arrays. fun returns one array and must take every traced value it
    uses as an argument: a traced value it reads from an enclosing scope raises an error.
    """
    name = getattr(fun, "__name__", "fun")

    def run(*args, **params):
        out = fun(*args, **params)
        if isinstance(out, (tuple, list, dict)):
            raise TypeError(f"checkpoint({name}) returned a {type(out).__name__}; a checkpointed "
                            f"segment returns one array")
        top = max((a.trace.level for a in args if isinstance(a, Tracer)), default=0)
        if isinstance(out, Tracer) and out.trace.level > top:
            raise ValueError(f"checkpoint({name}) uses a traced value that is not one of its "
                             f"arguments (a closure over a variable being differentiated); pass "
                             f"that value to it as an argument")
        return out

    def with_only(i, args, params):  # fun as a function of its i-th argument, the others fixed
        return lambda x: fun(*args[:i], x, *args[i + 1:], **params)

    def jvp_rule(i, t, ans, *args, **params):
        return jvp(with_only(i, args, params), (args[i],), (t,))[1]

    def vjp_rule(i, g, ans, *args, **params):  # the recomputation happens here, when the sweep arrives
        return vjp(with_only(i, args, params), args[i])[1](g)[0]

    return Primitive(f"checkpoint({name})", run, jvp=EveryArgument(jvp_rule), vjp=EveryArgument(vjp_rule),
                     saves=("args",))  # the arguments, to run fun again; not its output


# --- schedules: lists of actions, built without running anything -------------------------------

POLICIES = ("store_all", "every_k", "binomial")


def store_all_schedule(n):
    """Record all n layers, compute the loss, pull back through all n: plain reverse mode."""
    n = check_count("n", n, 1)
    return ([("record", k) for k in range(n)] + [("loss", n)]
            + [("backward", k) for k in reversed(range(n))])


def every_k_schedule(n, every):
    """Checkpoints x_0, x_k, x_2k, ... in the first sweep; in the backward sweep, each segment of
    k layers is recorded again from its checkpoint and pulled back through.

    The last segment is recorded during the first sweep: recomputing it would cost time and save
    nothing. With m = ⌈n/k⌉ segments: n − (length of the last segment) steps recomputed, and at most
    m − 1 checkpoints plus k tapes held at once (n/k + k − 1 when k divides n; 2√n − 1 at k = √n).
    """
    n = check_count("n", n, 1)
    k = check_count("every", every, 1)
    if k > n:
        raise ValueError(f"every={k} is longer than the chain of n={n} layers; take 1 <= every <= n")
    starts = list(range(0, n, k))
    schedule = []
    for start in starts[:-1]:
        schedule += [("store", start)] + [("forward", i) for i in range(start, start + k)]
    last = starts[-1]
    schedule += [("record", i) for i in range(last, n)] + [("loss", n)]
    schedule += [("backward", i) for i in reversed(range(last, n))]
    for start in reversed(starts[:-1]):
        segment = range(start, start + k)
        schedule += [("restore", start), ("free", start)] + [("record", i) for i in segment]
        schedule += [("backward", i) for i in reversed(segment)]
    return schedule


def optimal_recomputations(n, slots):
    """Griewank's minimum t(n, s) of forward steps for reversing n steps with s checkpoint slots.

    With r the unique integer such that C(s+r−1, r−1) < n ≤ C(s+r, r): t(n, s) = r·n − C(s+r, r−1).
    The model (Griewank & Walther 2000): a slot holds one state x_k, x_0 included; the working state
    is free; the reverse step of layer k records f_k from x_k and pulls back at once, and is not
    counted. So t counts the first sweep x_0 → x_{n−1} too (t = n − 1 when s ≥ n − 1); it is also
    the number of layer evaluations beyond the n recorded ones, which is ``recomputed`` in our reports.
    """
    n = check_count("n", n, 1)
    s = _slots(slots)
    r = 0
    while comb(s + r, r) < n:
        r += 1
    return r * n - (comb(s + r, r - 1) if r > 0 else 0)


def binomial_schedule(n, slots):
    """The optimal schedule for ``slots`` checkpoints: recomputes exactly t(n, s) steps.

    To reverse steps a..b−1 from checkpoint x_a with s slots (Griewank's recursion): advance j steps,
    store x_{a+j}, reverse a+j..b−1 with the s − 1 slots left, restore x_a and reverse a..a+j−1 with
    all s. Its cost j + t(b−a−j, s−1) + t(j, s) is smallest at the j we pick; with one slot, every
    step is reached again from x_a. One tape exists at a time: a layer is recorded just before its
    backward step.
    """
    n = check_count("n", n, 1)
    slots = _slots(slots)
    schedule = []

    def reverse_step(k):
        schedule.append(("record", k))
        if k == n - 1:
            schedule.append(("loss", n))
        schedule.append(("backward", k))

    def reverse(a, b, s):  # the working state is x_a, and a checkpoint holds it
        if b - a == 1:
            schedule.append(("free", a))
            reverse_step(a)
        elif s == 1:
            for k in reversed(range(a + 1, b)):
                schedule.extend(("forward", i) for i in range(a, k))
                reverse_step(k)
                schedule.append(("restore", a))
            schedule.append(("free", a))
            reverse_step(a)
        else:
            j = min(range(1, b - a), key=lambda j: j + optimal_recomputations(b - a - j, s - 1)
                    + optimal_recomputations(j, s))
            schedule.extend(("forward", i) for i in range(a, a + j))
            if b - (a + j) == 1:  # a single step is reversed at once: no checkpoint needed
                reverse_step(a + j)
            else:
                schedule.append(("store", a + j))
                reverse(a + j, b, s - 1)
            schedule.append(("restore", a))
            reverse(a, a + j, s)

    if n == 1:
        reverse_step(0)
    else:
        schedule.append(("store", 0))
        reverse(0, n, slots)
    return schedule


def chain_schedule(n, policy="store_all", every=None, slots=None):
    """The schedule of a policy: "store_all", "every_k" (``every`` = k, default ⌈√n⌉) or
    "binomial" (``slots`` = s, required)."""
    if policy == "store_all":
        return store_all_schedule(n)
    if policy == "every_k":
        return every_k_schedule(n, ceil(sqrt(check_count("n", n, 1))) if every is None else every)
    if policy == "binomial":
        if slots is None:
            raise ValueError("the binomial policy needs a memory budget: pass slots=s (s >= 1 checkpoints)")
        return binomial_schedule(n, slots)
    raise ValueError(f"unknown policy {policy!r}: use one of {POLICIES}, or pass a list of actions")


# --- running a schedule -------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainReport:
    """What a schedule cost, counted by the executor while it ran.

    forward_steps: layer evaluations, plain or recorded (n for store_all);
    recomputed: forward_steps − n; peak_stored: most checkpoints plus tapes held at once;
    peak_checkpoints: most checkpoints held at once (the slots used); peak_bytes: most bytes of the
    arrays held at once (checkpoints, recorded values, working state, cotangent; the caller's input
    and parameters excluded); schedule: the actions run.
    """

    n: int
    forward_steps: int
    recomputed: int
    peak_stored: int
    peak_checkpoints: int
    peak_bytes: int
    schedule: tuple


@dataclass(frozen=True)
class ChainGradient:
    """L = ℓ(x_n), ∂L/∂x_0, the ∂L/∂p_k (None unless asked for) and the report of the run."""

    value: object
    grad_input: object
    grad_params: list
    report: ChainReport


def chain_gradient(layers, x, loss, policy="store_all", *, every=None, slots=None,
                   params=None, wrt_params=False):
    """∂L/∂x_0 (and ∂L/∂p_k) for L = ℓ(x_n), x_{k+1} = f_k(x_k) or f_k(x_k, p_k), under a policy.

    ``layers`` are callables written with adcourse.numpy; ``policy`` is "store_all", "every_k"
    (``every`` = k), "binomial" (``slots`` = s) or a list of actions of your own. Every policy pulls
    back through each layer from the same x_k, so the gradients are bitwise those of store_all.
    """
    layers = list(layers)
    if not layers or not all(callable(f) for f in layers):
        raise ValueError("layers must be a non-empty list of callables x_k -> x_{k+1}")
    n = len(layers)
    if not callable(loss):
        raise ValueError(f"loss must be a callable x_n -> scalar, got {type(loss).__name__}")
    if params is not None and len(params) != n:
        raise ValueError(f"params has {len(params)} entries for {n} layers: pass one per layer")
    if wrt_params and params is None:
        raise ValueError("wrt_params=True needs params: pass params=[p_0, ..., p_{n-1}]")
    if isinstance(policy, str):
        schedule = chain_schedule(n, policy, every, slots)
    else:
        schedule = [tuple(action) for action in policy]
    return _Executor(layers, x, loss, params, wrt_params).run(schedule)


class _Executor:
    """Runs a schedule action by action, checking each is possible and counting what it holds."""

    def __init__(self, layers, x, loss, params, wrt_params):
        self.layers, self.loss, self.params, self.wrt_params = layers, loss, params, wrt_params
        self.n = len(layers)
        self.position, self.state = 0, x            # the working state x_position
        self.checkpoints, self.tapes = {}, {}       # k -> x_k;  k -> (pullback, recorded values)
        self.g_position, self.g = None, None        # the cotangent x̄_{g_position}
        self.value, self.grad_params = None, [None] * self.n
        self.forward_steps = self.peak_stored = self.peak_checkpoints = self.peak_bytes = 0
        caller = [x] + ([] if params is None else tree_flatten(params)[0])
        self.callers = {id(_owner(a)) for a in caller}  # the caller holds these anyway

    def run(self, schedule):
        for number, action in enumerate(schedule):
            if len(action) != 2 or action[0] not in self.ACTIONS:
                raise ValueError(f"schedule action {number} {action!r} is not one of "
                                 f"{sorted(self.ACTIONS)} followed by a layer index")
            kind, k = action
            problem = self.ACTIONS[kind](self, k)
            if problem:
                raise ValueError(f"schedule action {number} {action!r} cannot run: {problem}")
        if self.g_position != 0:
            raise ValueError(f"the schedule ended before the backward sweep reached x_0 "
                             f"(it stopped at x̄_{self.g_position}): end it with ('backward', 0)")
        report = ChainReport(self.n, self.forward_steps, self.forward_steps - self.n,
                             self.peak_stored, self.peak_checkpoints, self.peak_bytes,
                             tuple(schedule))
        return ChainGradient(self.value, self.g, self.grad_params if self.wrt_params else None, report)

    def _params_of(self, k):
        return () if self.params is None else (self.params[k],)

    def _need_state(self, k):
        if not isinstance(k, (int, np.integer)) or not 0 <= k < self.n:
            return f"{k!r} is not a layer index in 0..{self.n - 1}"
        if self.position is None:
            return "there is no working state (a backward step used it up): restore a checkpoint first"
        if self.position != k:
            return (f"the working state is x_{self.position}, not x_{k}: "
                    f"restore a checkpoint or step forward first")

    def forward(self, k):
        if problem := self._need_state(k):
            return problem
        out = self.layers[k](self.state, *self._params_of(k))
        self._step_done(out)

    def record(self, k):
        if problem := self._need_state(k):
            return problem
        if self.wrt_params:
            out, pullback, tape = record(self.layers[k], (self.state, *self._params_of(k)))
        else:
            out, pullback, tape = record(lambda x: self.layers[k](x, *self._params_of(k)), (self.state,))
        self.tapes[k] = (pullback, [concrete(v) for node in tape.nodes for v in (node.ans, *node.args)])
        self._step_done(out)

    def _step_done(self, out):
        self.forward_steps += 1
        self._measure(out)  # the old state is still held here: both exist at this moment
        self.position, self.state = self.position + 1, out

    def store(self, k):
        if problem := self._need_state(k):
            return problem
        self.checkpoints[k] = self.state
        self._measure()

    def restore(self, k):
        if k not in self.checkpoints:
            return f"no checkpoint holds x_{k} (held: {sorted(self.checkpoints)})"
        self.position, self.state = k, self.checkpoints[k]

    def free(self, k):
        if k not in self.checkpoints:
            return f"no checkpoint holds x_{k} (held: {sorted(self.checkpoints)})"
        del self.checkpoints[k]

    def compute_loss(self, k):
        if self.g_position is not None:
            return "the loss was computed already"
        if k != self.n or self.position != self.n:
            return f"the loss takes x_{self.n}, and the working state is x_{self.position}"
        value, pullback = vjp(self.loss, self.state)
        if np.shape(value) != ():
            raise ValueError(f"loss must return a scalar, got shape {np.shape(value)}")
        self.value, self.g_position = value, self.n
        self.g = pullback(np.ones_like(value))[0]  # x̄_n = ∂L/∂x_n from ∂L/∂L = 1, in L's dtype
        self._measure()
        self.position = self.state = None  # x_n is needed no more

    def backward(self, k):
        if k not in self.tapes:
            return f"layer {k} has no tape: ('record', {k}) must come first"
        if self.g_position != k + 1:
            where = "not started: ('loss', n) comes first" if self.g_position is None \
                else f"at x̄_{self.g_position}"
            return f"it needs x̄_{k + 1} and the backward sweep is {where}"
        pullback, _ = self.tapes[k]
        grads = pullback(self.g)
        self._measure(grads[0])  # the tape and both cotangents exist at this moment
        del self.tapes[k]
        self.g, self.g_position = grads[0], k
        self.position = self.state = None  # x_{k+1} leads only to steps already reversed
        if self.wrt_params:
            self.grad_params[k] = grads[1]

    ACTIONS = {"forward": forward, "record": record, "store": store, "restore": restore,
               "free": free, "loss": compute_loss, "backward": backward}

    def _measure(self, *extra):
        self.peak_stored = max(self.peak_stored, len(self.checkpoints) + len(self.tapes))
        self.peak_checkpoints = max(self.peak_checkpoints, len(self.checkpoints))
        arrays = [*self.checkpoints.values(), self.state, self.g, *extra]
        for _, values in self.tapes.values():
            arrays += values
        owners = {}
        for a in arrays:
            a = _owner(concrete(a))
            if isinstance(a, (np.ndarray, np.generic)) and id(a) not in self.callers:
                owners[id(a)] = a.nbytes  # a view is counted as the array it views, once
        self.peak_bytes = max(self.peak_bytes, sum(owners.values()))


def _owner(a):
    """The array whose memory ``a`` uses: a itself, or the base of a view."""
    while isinstance(getattr(a, "base", None), np.ndarray):
        a = a.base
    return a


def _slots(slots):
    if isinstance(slots, (int, np.integer)) and not isinstance(slots, bool) and slots < 1:
        raise ValueError(f"slots={slots} is too small a memory budget: reversing a chain needs at least "
                         f"1 checkpoint slot, the one that holds the input x_0 (1 slot recomputes "
                         f"n(n-1)/2 steps; more slots, fewer)")
    return check_count("slots", slots, 1)
