"""The five assignments: sources that pass their own tests, releases that give nothing away,
and the rules for students' code (exercises/autograder/adgrader/policy.py).

Runs nbgrader's real commands on a temporary copy of the course.
"""
import re
import subprocess
import sys

import pytest

from grading_course import (ASSIGNMENTS, BIN, EXERCISES, copy_course, environment, grade_id, nbgrader, read,
                            solutions)

sys.path.insert(0, str(EXERCISES / "autograder"))
from adgrader import policy  # noqa: E402
from adgrader.plugins.sanitize import without_hidden_tests  # noqa: E402


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("course"))
    done = nbgrader(root, "generate_assignment", "*")  # every assignment, in one run
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (root / "release").iterdir()) == sorted(ASSIGNMENTS)
    return root


def test_every_source_notebook_passes_nbgrader_validate(course):
    notebooks = [str(course / "source" / a / f"{a}.ipynb") for a in ASSIGNMENTS]
    done = nbgrader(course, "validate", *notebooks)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Success! Your notebook passes all the tests.") == len(ASSIGNMENTS), done.stdout


def test_nbval_runs_the_source_notebooks(course):
    # The hidden tests import the course's checks: nbval's kernel finds them on PYTHONPATH.
    done = subprocess.run(
        [str(BIN / "python"), "-m", "pytest", "--nbval-lax", "--current-env", "-p", "no:cacheprovider",
         "-o", "addopts=", "-q", *[f"source/{a}/{a}.ipynb" for a in ASSIGNMENTS]],
        cwd=course, env=environment(PYTHONPATH=str(course / "autograder")),
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(r"\b\d+ passed", done.stdout), done.stdout[-2000:]


def _solution_lines(source_nb):
    """Lines that exist only in solutions or hidden tests (long enough to be specific)."""
    lines = set()
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            inside = False
            for line in cell.source.splitlines():
                if "BEGIN SOLUTION" in line:
                    inside = True
                elif "END SOLUTION" in line:
                    inside = False
                elif inside and len(line.strip()) >= 12:
                    lines.add(line.strip())
        elif meta.get("solution"):
            lines.update(line.strip() for line in cell.source.splitlines() if len(line.strip()) >= 12)
        elif meta.get("grade"):
            hidden = set(cell.source.splitlines()) - set(without_hidden_tests(cell.source).splitlines())
            lines.update(line.strip() for line in hidden if line.strip())
    return lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_release_has_stubs_and_no_solution_or_hidden_test(course, assignment):
    source = read(course / "source" / assignment / f"{assignment}.ipynb")
    release = read(course / "release" / assignment / f"{assignment}.ipynb")
    assert sorted(p.name for p in (course / "release" / assignment).iterdir()) == [f"{assignment}.ipynb"]
    text = "\n".join(cell.source for cell in release.cells)
    released_lines = {line.strip() for line in text.splitlines()}
    public = {line.strip() for cell in source.cells if not cell.metadata.get("nbgrader", {}).get("solution")
              for line in without_hidden_tests(cell.source).splitlines()}
    leaked = sorted((_solution_lines(source) - public) & released_lines)
    assert not leaked, leaked
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "adgrader", "hidden."):
        assert marker not in text, marker
    code_answers = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]
    written = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "markdown"]
    tests = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert code_answers and written and tests
    for cell in code_answers:
        assert "raise NotImplementedError()" in cell.source, grade_id(cell)
    for cell in written:
        assert cell.source == "YOUR ANSWER HERE / ВАШ ОТВЕТ ЗДЕСЬ", grade_id(cell)
    for cell in release.cells:
        assert not cell.get("outputs"), grade_id(cell)
    # Every task has a grade id of its own, and every autograded task has visible tests.
    ids = [grade_id(c) for c in release.cells]
    assert len(ids) == len(set(ids))
    for cell in tests:
        assert "assert" in cell.source, grade_id(cell)
    # Both languages in every instruction cell that names a task.
    for cell in release.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            assert "**EN.**" in cell.source and "**RU.**" in cell.source, cell.source[:80]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_source_solutions_follow_the_rules_for_answer_cells(assignment):
    nb = read(EXERCISES / "source" / assignment / f"{assignment}.ipynb")
    bound = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            bound.update(policy.import_bindings(cell.source))
    answers = [c for c in nb.cells if c.cell_type == "code" and c.metadata["nbgrader"].get("solution")]
    assert answers
    for cell in answers:
        assert policy.check_cell(cell.source, assignment, bound) == [], grade_id(cell)


HONEST = [
    "import numpy as np\nfrom math import sqrt\nxs = list(map(sqrt, [1.0, 4.0]))\nrng = np.random.default_rng(0)",
    "class Dual:\n    __slots__ = ('value', 'tangent')\n    def __add__(self, other):\n        return type(self)(self.value)\n",
    "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])",
    "print(f'{np.linalg.norm(np.ones(3)):.3f}')\nself_check = hasattr(x, 'shape')",
    "from functools import reduce\nimport operator\ntotal = reduce(operator.add, [1, 2, 3])",
]
CHEATS = {
    "read the source": "with open('../../../source/a2_forward_mode/a2_forward_mode.ipynb') as f:\n    text = f.read()",
    "shell": "!cat ../../../gradebook.db",
    "os": "import os\nos._exit(0)",
    "sys": "import sys\nsys.exit()",
    "jax": "import jax\ng = jax.grad(f)",
    "adcourse": "from adcourse import jvp",
    "adcourse transforms through a name": "adcourse.jacfwd(f)(x)",
    "patch allclose": "np.allclose = lambda *a, **k: True",
    "patch testing": "np.testing.assert_allclose = lambda *a, **k: None",
    "patch through numpy": "import numpy\nnumpy.allclose = lambda *a, **k: True",
    "IPython": "get_ipython().showtraceback = lambda *a, **k: None",
    "input transformer": "ip = get_ipython()\nip.input_transformers_post.append(lambda lines: [])",
    "module reached through another": "import dataclasses\ndataclasses.sys.setprofile(None)",
    "frames": "def g():\n    yield\nframe = g().gi_frame.f_back",
    "traceback frames": "try:\n    1 / 0\nexcept Exception as e:\n    caller = e.__traceback__.tb_frame",
    "subclasses": "().__class__.__base__.__subclasses__()",
    "format escape": "'{0.__globals__}'.format(f)",
    "history of inputs": "print(In[-1])",
    "numpy file reader": "data = np.loadtxt('../../../source/x.ipynb', dtype=str)",
    "private module attribute": "np._core.multiarray",
    "module alias": "m = np\nm.x = 1",
    "exec": "exec('import os')",
    "getattr": "getattr(np, 'all' + 'close')",
    "builtins": "__builtins__['open']",
    "pyplot's sys": "plt.matplotlib.cbook",
    "magic": "%timeit f(x)",
    "figure written to a file": "plt.gcf().canvas.print_png('../../../source/a1/a1.ipynb')",
}


@pytest.mark.parametrize("code", HONEST)
def test_honest_code_may_run(code):
    bound = {"np": "numpy", "plt": "matplotlib.pyplot"}
    assert policy.check_cell(code, "a2_forward_mode", bound) == []


@pytest.mark.parametrize("what", sorted(CHEATS))
def test_code_that_reaches_out_of_the_answer_is_not_run(what):
    bound = {"np": "numpy", "plt": "matplotlib.pyplot", "adcourse": "adcourse"}
    assert policy.check_cell(CHEATS[what], "a2_forward_mode", bound), what


def test_an_assignment_allows_only_the_transforms_it_names():
    bound = {"adcourse": "adcourse", "anp": "adcourse.numpy"}
    allowed = "g = adcourse.grad(lambda y: anp.vdot(adcourse.grad(f)(y), v))(x)"
    assert policy.check_cell(allowed, "a4_hvp_hutchinson", bound) == []
    for forbidden in ("adcourse.hvp(f, x, v)", "adcourse.hessian(f)(x) @ v", "from adcourse import jacfwd",
                      "from adcourse.trace_estimation import hutchinson"):
        assert policy.check_cell(forbidden, "a4_hvp_hutchinson", bound), forbidden
    assert policy.check_cell(allowed, "a2_forward_mode", bound)


def test_the_references_of_the_hidden_checks_agree_with_jax():
    """The hidden checks judge with adcourse and with closed-form derivatives; here both are
    checked against JAX (float64) on the checks' own kinds of inputs."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import adcourse
    import adcourse.numpy as anp
    from adgrader import a1, a3, a4, a5, expressions
    from conftest import assert_close

    rng = np.random.default_rng(5)
    for d in (3, 7, 12):  # assignment 1: exact gradients
        f, grad = a1.smooth_function(np.random.default_rng(d), d)
        f_jax, _ = a1.smooth_function(np.random.default_rng(d), d, xp=jnp)
        w = rng.standard_normal(d)
        assert_close(f(w), f_jax(w))
        assert_close(grad(w), jax.grad(f_jax)(w))
    for name, (program, n) in expressions.SCALAR_PROGRAMS.items():  # assignments 2 and 3
        x, t = expressions.point(rng, name), rng.standard_normal(n)
        ours = adcourse.jvp(lambda z: program([z[i] for i in range(n)], anp), (x,), (t,))
        theirs = jax.jvp(lambda z: program([z[i] for i in range(n)], jnp), (x,), (t,))
        assert_close(ours, theirs)
        assert_close(adcourse.grad(lambda z: program([z[i] for i in range(n)], anp))(x),
                     jax.grad(lambda z: program([z[i] for i in range(n)], jnp))(x))
    for program, n, m in expressions.vector_programs():
        x = rng.uniform(0.3, 1.5, n)
        assert_close(adcourse.jacfwd(lambda z: anp.stack(program([z[i] for i in range(n)], anp)))(x),
                     jax.jacfwd(lambda z: jnp.stack(program([z[i] for i in range(n)], jnp)))(x))
    x, y = rng.standard_normal((6, 4)), rng.uniform(size=(6, 3))  # assignment 3: the network
    w1, w2 = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    ours, ours_v1 = a3.losses(x, y)
    theirs, theirs_v1 = a3.losses(x, y, xp=jnp)
    assert_close(adcourse.grad(ours, argnums=(0, 1))(w1, w2), jax.grad(theirs, argnums=(0, 1))(w1, w2))
    v1 = rng.uniform(size=(6, 5))
    assert_close(adcourse.grad(ours_v1(w2))(v1), jax.grad(theirs_v1(w2))(v1))
    for n in (3, 12):  # assignment 4: Hessians in closed form
        seed = int(rng.integers(1000))
        ours = a4.functions(np.random.default_rng(seed), n)
        theirs = a4.functions(np.random.default_rng(seed), n, xp=jnp)
        for name, (f, hessian) in ours.items():
            x = rng.standard_normal(n) * 0.5
            assert_close(hessian(x), jax.hessian(theirs[name][0])(x))
            assert_close(hessian(x), adcourse.hessian(f)(x))
    f, trace = a4.separable(np.random.default_rng(1), 6, xp=jnp)
    x = rng.standard_normal(6)
    assert_close(trace(x), jnp.trace(jax.hessian(f)(x)))
    for n in (1, 9):  # assignment 5: the chain
        ours, _ = a5.chain(np.random.default_rng(n), n, 4)
        theirs, _ = a5.chain(np.random.default_rng(n), n, 4, xp=jnp)
        x0 = rng.standard_normal((3, 4))
        assert_close(adcourse.grad(ours)(x0), jax.grad(theirs)(x0))


# Wrong answers that a careless or cunning student could hand in, most of them passing the
# visible tests: (assignment, answer cell, piece of the solution, replacement, hidden check).
WRONG = [
    ("a1_finite_differences", "forward_difference", "(f(shifted) - f_w) / eps", "(f(shifted) - f(w)) / eps",
     "forward_difference"),  # right values, 2d evaluations instead of d + 1
    ("a1_finite_differences", "central_difference", "(f(plus) - f(minus)) / (2 * eps)",
     "(f(plus) - f(w)) / eps", "central_difference"),
    ("a1_finite_differences", "step_errors_answer", "[np.linalg.norm(forward - exact), np.linalg.norm(central - exact)]",
     "[np.linalg.norm(forward - exact), np.linalg.norm(forward - exact) ** 2]", "step_errors"),
    ("a1_finite_differences", "two_point", "v = rng.standard_normal(w.shape)",
     "v = rng.choice([-1.0, 1.0], size=w.shape)", "two_point"),  # not uniform on the sphere
    ("a1_finite_differences", "zeroth_order", "w = w - lr * two_point_estimate(f, w, eps, rng)",
     "w = w - lr * two_point_estimate(f, w + 0.0 * w, eps, np.random.default_rng(0))", "zeroth_order"),
    ("a2_forward_mode", "dual", "(self.tangent - quotient * other.tangent) / other.value",
     "(self.tangent - other.tangent) / other.value", "dual_numbers"),
    ("a2_forward_mode", "lecture", "return along_w1.value, along_w1.tangent, along_w2.tangent",
     "return along_w1.value, along_w1.tangent, along_w1.tangent", "lecture_gradient"),
    ("a2_forward_mode", "jacobian", "outputs = f([Dual(x[k], 1.0 if k == j else 0.0) for k in range(n)])",
     "outputs = f([Dual(x[k], 1.0 if k == j else 0.0) for k in range(n)]); f([Dual(v) for v in x])",
     "jacobian"),  # one evaluation too many
    ("a3_reverse_mode", "tape", "    for node in TAPE:\n        node.grad = 0.0\n", "", "tape"),
    ("a3_reverse_mode", "tape", "[(self, other.value), (other, self.value)]", "[(self, other.value)]", "tape"),
    ("a3_reverse_mode", "backprop", "dL_dz1 = dL_dv1 * v1 * (1 - v1)", "dL_dz1 = dL_dv1", "backprop"),
    ("a4_hvp_hutchinson", "hvp_answer", "return adcourse.grad(lambda y: anp.vdot(adcourse.grad(f)(y), v))(x)",
     "return np.array([adcourse.jvp(adcourse.grad(f), (x,), (e,))[1] for e in np.eye(len(x))]) @ v",
     "hvp"),  # the Hessian, column by column
    ("a4_hvp_hutchinson", "hvp_answer", "return adcourse.grad(lambda y: anp.vdot(adcourse.grad(f)(y), v))(x)",
     "return adcourse.hvp(f, x, v)", "hvp"),
    ("a4_hvp_hutchinson", "hutchinson", "u = rng.choice([-1.0, 1.0], size=n)", "u = rng.standard_normal(n)",
     "hutchinson"),
    ("a4_hvp_hutchinson", "hessian_trace_answer",
     "return hutchinson_trace(lambda u: hvp(f, x, u), x.size, num_samples, rng)",
     "return float(np.trace(adcourse.hessian(f)(x)))", "hessian_trace"),
    ("a5_checkpointing", "store_all", "x = layer.forward(x)", "x = layer.forward(x)\n        layer.forward(x)",
     "store_all"),
    ("a5_checkpointing", "checkpointed", "    n = len(layers)\n", "    return grad_store_all(layers, x0)\n",
     "checkpointed"),  # right gradient, but stores everything
    ("a5_checkpointing", "counting", "return peak, 2 * n - segments", "return peak + 1, 2 * n - segments",
     "counting"),
    ("a5_checkpointing", "counting", "return min(range(1, n + 1), key=lambda k: (checkpoint_cost(n, k)[0], k))",
     "return max(1, round(math.sqrt(n)))", "counting"),
]


def _namespace(assignment, answers=None):
    """The notebook's set-up and answer cells run in a plain dict, as the kernel would."""
    nb = read(EXERCISES / "source" / assignment / f"{assignment}.ipynb")
    namespace = {}
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        if cell.cell_type == "code" and (meta["solution"] or meta["grade_id"] in ("setup", "sigmoid")):
            exec(compile((answers or {}).get(meta["grade_id"], cell.source), meta["grade_id"], "exec"), namespace)
    return namespace


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_hidden_checks_pass_the_solutions(assignment):
    import importlib
    checks = importlib.import_module(f"adgrader.{assignment[:2]}")
    namespace = _namespace(assignment)
    names = [name for name in dir(checks) if callable(getattr(checks, name)) and
             getattr(getattr(checks, name), "__module__", "") == checks.__name__ and not name.startswith("_")
             and getattr(checks, name).__code__.co_varnames[:1] == ("namespace",)]
    assert len(names) >= 2, names
    for name in names:
        getattr(checks, name)(namespace)


@pytest.mark.parametrize("case", WRONG, ids=lambda case: f"{case[0][:2]}-{case[4]}-{case[3][:20]}")
def test_the_hidden_checks_catch_wrong_answers(case):
    import importlib
    from adgrader.guard import HiddenCheckFailed
    assignment, cell, old, new, check = case
    source = read(EXERCISES / "source" / assignment / f"{assignment}.ipynb")
    answer = next(c.source for c in source.cells if grade_id(c) == cell)
    assert old in answer
    namespace = _namespace(assignment, {cell: answer.replace(old, new)})
    with pytest.raises(HiddenCheckFailed):
        getattr(importlib.import_module(f"adgrader.{assignment[:2]}"), check)(namespace)
