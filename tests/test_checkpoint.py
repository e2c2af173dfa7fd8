"""Gradient checkpointing: the same gradient under every schedule, the costs the theory predicts
(counted by the executor), Griewank's optimum against an exhaustive search, and checkpoint(fun)
recomputing a segment only when the backward sweep reaches it."""
from collections import deque
from functools import lru_cache
from math import isqrt

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcourse
import adcourse.numpy as anp
from adcourse.checkpoint import (binomial_schedule, chain_gradient, chain_schedule, checkpoint,
                                 every_k_schedule, optimal_recomputations, store_all_schedule)
from adcourse.reverse import record

jax.config.update("jax_enable_x64", True)


# --- a chain with parameters, in adcourse and in JAX -------------------------------------------

def dense_tanh(np_like):
    return lambda x, p: np_like.tanh(x @ p[0] + p[1])


def residual_sin(np_like):
    return lambda x, p: x + np_like.sin(x @ p[0]) * p[1]


def make_chain(n, width=5, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    params = [(rng.normal(size=(width, width)) / np.sqrt(width), rng.normal(size=width))
              for _ in range(n)]
    x = rng.normal(size=(batch, width))
    return params, x


def kinds(np_like, n):
    return [(dense_tanh if k % 2 == 0 else residual_sin)(np_like) for k in range(n)]


def loss_of(np_like):
    return lambda h: np_like.sum(h * h) / 2 + np_like.sum(np_like.cos(h))


def jax_chain_grad(params, x):
    layers, loss = kinds(jnp, len(params)), loss_of(jnp)

    def total(x, params):
        for layer, p in zip(layers, params):
            x = layer(x, p)
        return loss(x)
    return jax.grad(total, argnums=(0, 1))(x, params)


POLICIES = [("store_all", {}), ("every_k", {}), ("every_k", {"every": 1}), ("every_k", {"every": 3}),
            ("every_k", {"every": 7}), ("binomial", {"slots": 1}), ("binomial", {"slots": 2}),
            ("binomial", {"slots": 4}), ("binomial", {"slots": 10})]


def test_every_policy_gives_the_gradient_of_store_all_bitwise_and_of_jax():
    n = 7
    params, x = make_chain(n)
    run = lambda policy, options: chain_gradient(kinds(anp, n), x, loss_of(anp), policy,  # noqa: E731
                                                 params=params, wrt_params=True, **options)
    reference = run("store_all", {})
    jax_x, jax_params = jax_chain_grad(params, x)
    np.testing.assert_allclose(reference.grad_input, jax_x, rtol=1e-12, atol=1e-12)
    for (W, b), (jW, jb) in zip(reference.grad_params, jax_params):
        np.testing.assert_allclose(W, jW, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(b, jb, rtol=1e-12, atol=1e-12)
    for policy, options in POLICIES:
        result = run(policy, options)
        assert result.value == reference.value
        assert np.array_equal(result.grad_input, reference.grad_input), (policy, options)
        for mine, theirs in zip(result.grad_params, reference.grad_params):
            assert all(np.array_equal(a, b) for a, b in zip(mine, theirs)), (policy, options)


def test_gradient_with_respect_to_the_input_only_keeps_the_dtype():
    params, x = make_chain(4)
    params32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
    result = chain_gradient(kinds(anp, 4), x.astype(np.float32), loss_of(anp), "binomial", slots=2,
                            params=params32)
    assert result.grad_params is None
    assert result.grad_input.dtype == np.float32
    jax_x, _ = jax_chain_grad(params32, x.astype(np.float32))
    np.testing.assert_allclose(result.grad_input, jax_x, rtol=1e-4, atol=1e-5)


# --- what each schedule costs, counted --------------------------------------------------------

def sin_chain(n, size=8):
    """Layers x ↦ sin x: the tape of one holds its input only (sin's VJP reads x, for cos x, and
    not its output), b bytes. The loss Σ x², so that x̄_n = 2x_n is a full array too."""
    x = np.linspace(0.1, 1.0, size)
    return [anp.sin] * n, x, lambda h: anp.sum(h * h), x.nbytes


def test_store_all_records_every_layer_and_holds_every_activation():
    n = 12
    layers, x, loss, b = sin_chain(n)
    report = chain_gradient(layers, x, loss).report
    assert (report.forward_steps, report.recomputed) == (n, 0)
    assert (report.peak_stored, report.peak_checkpoints) == (n, 0)
    # x_1..x_{n-1} on the tapes (x_0 is the caller's), and x_n with x̄_n at the loss, or x̄_n with
    # x̄_{n-1} at the first backward step
    assert report.peak_bytes == (n + 1) * b


@pytest.mark.parametrize("n, k", [(64, 8), (36, 6), (12, 4), (12, 3), (9, 9), (5, 1)])
def test_every_k_divides_memory_by_about_sqrt_n_for_one_more_forward_sweep(n, k):
    layers, x, loss, b = sin_chain(n)
    report = chain_gradient(layers, x, loss, "every_k", every=k).report
    m = n // k  # segments; the last one is recorded in the first sweep, the others recomputed
    assert report.forward_steps == 2 * n - k and report.recomputed == n - k
    assert report.peak_checkpoints == m - 1
    assert report.peak_stored == m - 1 + k  # checkpoints x_0, ..., x_{n-2k} and one segment's tapes
    # in bytes: those checkpoints but x_0 (the caller's), the last segment's inputs x_{n-k}..x_{n-1},
    # and two of x_n, x̄_n, x̄_{n-1}
    assert report.peak_bytes == ((m - 2) + k + 2) * b if m >= 2 else (n + 1) * b


def test_every_k_at_sqrt_n_stores_2_sqrt_n_minus_1_and_a_ragged_last_segment_is_counted():
    n = 64
    assert chain_gradient(*sin_chain(n)[:3], "every_k").report.peak_stored == 2 * isqrt(n) - 1
    layers, x, loss, _ = sin_chain(10)  # segments of 4, 4, 2: the last (2 layers) is not recomputed
    report = chain_gradient(layers, x, loss, "every_k", every=4).report
    assert report.recomputed == 10 - 2
    assert report.peak_stored == max(2 + 2, 1 + 4)  # last segment with 2 checkpoints; middle with 1


@lru_cache(maxsize=None)
def dp_forward_steps(n, s):
    """Fewest forward steps to reverse n steps with s slots: advance j, checkpoint, reverse the
    right part with s − 1 slots, then the left part with s; minimised over every j."""
    if n == 1:
        return 0
    if s == 1:
        return n * (n - 1) // 2
    return min(j + dp_forward_steps(n - j, s - 1) + dp_forward_steps(j, s) for j in range(1, n))


def exhaustive_forward_steps(n, s):
    """The same minimum over every sequence of actions, by a shortest-path search (0-1 BFS).

    A state: e steps still to reverse, the working state's index w (or None), the checkpoints C.
    Moves: forward (cost 1), store (|C| < s), restore, free, and the reverse step of e − 1 from
    x_{e−1} (cost 0: it records its own step, which is not counted)."""
    start = (n, 0, frozenset())
    best, queue = {start: 0}, deque([(0, start)])
    while queue:
        d, (e, w, C) = queue.popleft()
        if d > best[(e, w, C)]:
            continue
        if e == 0:
            return d
        moves = [(0, (e, c, C)) for c in C] + [(0, (e, w, C - {c})) for c in C]
        if w is not None and w + 1 <= e - 1:
            moves.append((1, (e, w + 1, C)))
        if w is not None and w not in C and len(C) < s:
            moves.append((0, (e, w, C | {w})))
        if w == e - 1:
            moves.append((0, (e - 1, None, frozenset(c for c in C if c < e - 1))))
        for cost, state in moves:
            if d + cost < best.get(state, float("inf")):
                best[state] = d + cost
                (queue.append if cost else queue.appendleft)((d + cost, state))


def test_the_recursion_is_the_optimum_over_all_schedules():
    for n in range(1, 10):
        for s in range(1, 5):
            assert exhaustive_forward_steps(n, s) == dp_forward_steps(n, s), (n, s)


def test_binomial_schedule_recomputes_the_optimal_number_of_steps():
    layers, x, loss, _ = sin_chain(40, size=2)
    reference = {}
    for n in range(1, 41):
        reference[n] = chain_gradient(layers[:n], x, loss).grad_input
        for s in range(1, 7):
            result = chain_gradient(layers[:n], x, loss, "binomial", slots=s)
            report = result.report
            assert report.recomputed == dp_forward_steps(n, s) == optimal_recomputations(n, s), (n, s)
            assert report.forward_steps == n + report.recomputed
            assert report.peak_checkpoints <= s and report.peak_stored <= s + 1
            assert np.array_equal(result.grad_input, reference[n])


def test_the_closed_form_counts_the_first_forward_sweep():
    for n in range(2, 30):
        # enough slots for every state: only the first sweep x_0 -> x_{n-1}, which is also every_k, k = 1
        assert optimal_recomputations(n, n - 1) == optimal_recomputations(n, 100) == n - 1
        assert chain_gradient(*sin_chain(n)[:3], "every_k", every=1).report.recomputed == n - 1
        assert optimal_recomputations(n, 1) == n * (n - 1) // 2  # one slot: from x_0 each time


@pytest.mark.parametrize("n, s", [(30, 1), (30, 2), (30, 3), (30, 4)])
def test_binomial_holds_s_checkpoints_one_tape_and_two_cotangents(n, s):
    layers, x, loss, b = sin_chain(n)
    report = chain_gradient(layers, x, loss, "binomial", slots=s).report
    # s checkpoints (x_0 is the caller's); at the backward step of a layer k recorded again, its
    # tape (x_k), the state x_{k+1} it made, x̄_{k+1} and x̄_k
    assert report.peak_bytes == (s - 1 + 4) * b


def test_a_schedule_is_a_list_a_chapter_can_replay():
    n, s = 9, 3
    schedule = binomial_schedule(n, s)
    assert [k for kind, k in schedule if kind == "backward"] == list(reversed(range(n)))
    assert sorted(k for kind, k in schedule if kind == "record") == list(range(n))
    assert sum(kind == "forward" for kind, _ in schedule) == optimal_recomputations(n, s)
    assert schedule.index(("loss", n)) == schedule.index(("record", n - 1)) + 1
    held, peak = set(), 0
    for kind, k in schedule:  # replaying it: never more than s checkpoints
        held = held | {k} if kind == "store" else held - {k} if kind == "free" else held
        peak = max(peak, len(held))
    assert peak == s
    assert chain_schedule(n, "binomial", slots=s) == schedule
    assert chain_schedule(n, "every_k") == every_k_schedule(n, 3)
    assert chain_schedule(n) == store_all_schedule(n)
    layers, x, loss, _ = sin_chain(n)
    mine = chain_gradient(layers, x, loss, policy=schedule)  # a schedule passed as the policy
    assert mine.report.schedule == tuple(schedule)
    assert np.array_equal(mine.grad_input, chain_gradient(layers, x, loss).grad_input)


# --- checkpoint(fun) inside the engine ---------------------------------------------------------

class Counted:
    def __init__(self, f):
        self.f, self.calls, self.__name__ = f, 0, "segment"

    def __call__(self, x):
        self.calls += 1
        return self.f(x)


def segment_and_loss(rng):
    W = rng.normal(size=(4, 4)) / 2
    segment = Counted(lambda h: anp.tanh(anp.sin(h @ W) @ W))
    return segment, W


def test_checkpoint_keeps_the_gradient_and_the_hvp(rng):
    segment, W = segment_and_loss(rng)
    x, v = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    wrapped = checkpoint(segment)
    plain_f = lambda x: anp.sum(segment(segment(x)) ** 2)  # noqa: E731
    ckpt_f = lambda x: anp.sum(wrapped(wrapped(x)) ** 2)  # noqa: E731
    jax_f = lambda x: jnp.sum(jnp.tanh(jnp.sin(jnp.tanh(jnp.sin(x @ W) @ W) @ W) @ W) ** 2)  # noqa: E731
    np.testing.assert_allclose(adcourse.grad(ckpt_f)(x), adcourse.grad(plain_f)(x), rtol=1e-14)
    np.testing.assert_allclose(adcourse.grad(ckpt_f)(x), jax.grad(jax_f)(x), rtol=1e-12)
    hvp = adcourse.hvp(ckpt_f, x, v)
    np.testing.assert_allclose(hvp, adcourse.hvp(plain_f, x, v), rtol=1e-12)
    np.testing.assert_allclose(hvp, jax.jvp(jax.grad(jax_f), (x,), (v,))[1], rtol=1e-10)


def tape_of(fun, x):
    """(pullback, the nodes of the outer tape)."""
    _, pullback, tape = record(fun, (x,))
    return pullback, tape.nodes


def test_the_outer_tape_holds_the_segment_as_one_node_and_recomputes_it_on_the_way_back(rng):
    segment, _ = segment_and_loss(rng)
    x = rng.normal(size=(3, 4))
    loss = lambda h: anp.sum(h ** 2)  # noqa: E731
    expected = adcourse.grad(lambda x: loss(segment(x)))(x)
    _, plain_tape = tape_of(lambda x: loss(segment(x)), x)
    plain = [e.prim.name if e.prim else "input" for e in plain_tape]
    assert plain[1:5] == ["matmul", "sin", "matmul", "tanh"]  # the segment's four operations
    segment.calls = 0

    pullback, tape = tape_of(lambda x: loss(checkpoint(segment)(x)), x)
    names = [e.prim.name if e.prim else "input" for e in tape]
    assert names == ["input", "checkpoint(segment)"] + plain[5:]  # one node instead of four
    assert segment.calls == 1  # the forward sweep: fun once, on plain arrays
    g = pullback(1.0)[0]
    assert segment.calls == 2  # the backward sweep reached it: recomputed once
    assert len(tape) == len(names)  # ... on a tape of its own
    np.testing.assert_array_equal(g, expected)
    pullback(1.0)
    assert segment.calls == 3  # each backward sweep recomputes it


# --- bad arguments -----------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda L, x, f: chain_gradient([], x, f), "non-empty list of callables"),
    (lambda L, x, f: chain_gradient([1, 2], x, f), "non-empty list of callables"),
    (lambda L, x, f: chain_gradient(L, x, 3.0), "loss must be a callable"),
    (lambda L, x, f: chain_gradient(L, x, f, params=[1.0]), "params has 1 entries for 4 layers"),
    (lambda L, x, f: chain_gradient(L, x, f, wrt_params=True), "wrt_params=True needs params"),
    (lambda L, x, f: chain_gradient(L, x, f, "revolve"), "unknown policy 'revolve'"),
    (lambda L, x, f: chain_gradient(L, x, f, "every_k", every=0), "every must be an integer >= 1"),
    (lambda L, x, f: chain_gradient(L, x, f, "every_k", every=5), "every=5 is longer than the chain"),
    (lambda L, x, f: chain_gradient(L, x, f, "binomial"), "needs a memory budget: pass slots"),
    (lambda L, x, f: chain_gradient(L, x, f, "binomial", slots=0), "slots=0 is too small a memory budget"),
    (lambda L, x, f: chain_gradient(L, x, f, "binomial", slots=2.5), "slots must be an integer"),
    (lambda L, x, f: chain_gradient(L, x, anp.sin), "loss must return a scalar"),
    (lambda L, x, f: optimal_recomputations(0, 2), "n must be an integer >= 1"),
    (lambda L, x, f: optimal_recomputations(5, 0), "slots=0 is too small"),
])
def test_bad_arguments_are_named(call, message):
    layers, x, loss, _ = sin_chain(4)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call(layers, x, loss)


@pytest.mark.parametrize("schedule, message", [
    ([("forward", 1)], r"action 0 \('forward', 1\) cannot run: the working state is x_0, not x_1"),
    ([("record", 0), ("backward", 0)], r"needs x̄_1 and the backward sweep is not started"),
    ([("record", 0), ("loss", 1)], r"the loss takes x_2, and the working state is x_1"),
    ([("record", 0), ("record", 1), ("loss", 2), ("backward", 1), ("record", 0)],
     r"no working state \(a backward step used it up\)"),
    ([("restore", 0)], r"no checkpoint holds x_0"),
    ([("record", 0), ("record", 1), ("loss", 2), ("backward", 0)],
     r"needs x̄_1 and the backward sweep is at x̄_2"),
    ([("store", 0), ("forward", 0), ("record", 1), ("loss", 2), ("backward", 1), ("backward", 0)],
     r"layer 0 has no tape: \('record', 0\) must come first"),
    ([("jump", 0)], r"is not one of"),
    ([("record", 0), ("record", 1), ("loss", 2), ("backward", 1)], r"ended before .* reached x_0"),
])
def test_an_impossible_schedule_says_which_action_and_why(schedule, message):
    layers, x, loss, _ = sin_chain(2)
    with pytest.raises(ValueError, match=message):
        chain_gradient(layers, x, loss, policy=schedule)
