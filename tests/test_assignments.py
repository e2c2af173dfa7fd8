"""The assignments: sources that pass their own tests, releases that give nothing away,
and the rules for students' code (adcourse/answer_cells.py).

Runs nbgrader's real commands on a temporary copy of the course.
"""
import ast
import re
import subprocess
import sys

import pytest

from grading_course import (ASSIGNMENTS, BIN, EXERCISES, REPO, copy_course, environment, grade_id, nbgrader, read,
                            solutions)

sys.path.insert(0, str(EXERCISES / "autograder"))
from adcourse import answer_cells  # noqa: E402
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
    assert [c for c in nb.cells if c.cell_type == "code" and c.metadata["nbgrader"].get("solution")]
    assert answer_cells.check_notebook(nb) == []


# Ordinary Python: none of it reaches the grader, so none of it may be refused. The first
# rows are the refusals students met before (issue 14).
HONEST = {
    "operator alias in a class": "class D:\n    def __add__(self, other):\n        return self\n    __radd__ = __add__\n",
    "a variable named input": "input = [1.0, 2.0]\nprint(input)",
    "save and load methods": "class Store:\n    def save(self):\n        self.kept = 1\n    def load(self):\n"
                             "        return self.kept\ns = Store()\ns.save()\ns.load()",
    "numpy.testing as a self-check": "np.testing.assert_allclose(np.ones(2), [1.0, 1.0])\n"
                                     "from numpy.testing import assert_array_equal\nimport numpy.testing as npt",
    "a loop variable _i": "for _i in range(3):\n    print(_i)",
    "pyplot imported from matplotlib": "from matplotlib import pyplot as plt\nplt.plot([1, 2])",
    "matplotlib.pyplot by its full name": "import matplotlib.pyplot\nmatplotlib.pyplot.plot([1, 2])",
    "a main guard": "if __name__ == '__main__':\n    print('run')",
    "future annotations": "from __future__ import annotations\ndef f(x: Dual) -> Dual:\n    return x",
    "copy": "import copy\nys = copy.deepcopy([1, [2]])",
    "standard modules": "import typing, numbers, operator, warnings, random, cmath, fractions, statistics\n"
                        "warnings.warn('slow')\nfrom collections import defaultdict\nimport heapq, bisect, enum",
    "imports and comprehensions": "import numpy as np\nfrom math import sqrt\nxs = list(map(sqrt, [1.0, 4.0]))",
    "slots and type": "class Dual:\n    __slots__ = ('value', 'tangent')\n    def __add__(self, other):\n"
                      "        return type(self)(self.value)\n",
    "inline plots": "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
                    "plt.rcParams['figure.figsize'] = (4, 3)",
    "timing": "%time y = np.sin(1.0)\n%timeit -n 3 -r 2 np.cos(1.0)",
    "f-strings and hasattr": "print(f'{np.linalg.norm(np.ones(3)):.3f}')\nself_check = hasattr(x, 'shape')",
    "functools and operator": "from functools import reduce\nimport operator\ntotal = reduce(operator.add, [1, 2, 3])",
    "an array module alias": "xp = np\ny = xp.sin(1.0)",
    "attributes by a written-out name": "v = getattr(node, 'grad', 0.0)\nsetattr(node, 'grad', v)\nd = vars(node)",
    "own private attributes": "class T:\n    def __init__(self):\n        self._seen = []\n    def add(self, other):\n"
                              "        return other._seen + self._seen",
    "star import from math": "from math import *\nr = sqrt(2.0) * pi",
    "an exception's message": "try:\n    1 / 0\nexcept ZeroDivisionError as error:\n    print(error)",
    "reprs": "class V:\n    def __repr__(self):\n        return f'{type(self).__name__}({self.__dict__})'",
}
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
    "delete from a module": "del np.allclose",
    "numpy.testing runs strings": "np.testing.measure('import os')",
    "IPython": "get_ipython().showtraceback = lambda *a, **k: None",
    "input transformer": "ip = get_ipython()\nip.input_transformers_post.append(lambda lines: [])",
    "module reached through another": "import dataclasses\ndataclasses.sys.setprofile(None)",
    "builtins reached through enum": "import enum\nenum.bltns.open('x')",
    "frames": "def g():\n    yield\nframe = g().gi_frame.f_back",
    "traceback frames": "try:\n    1 / 0\nexcept Exception as e:\n    caller = e.__traceback__.tb_frame",
    "subclasses": "().__class__.__base__.__subclasses__()",
    "globals of a function": "f.__globals__['np']",
    "bypass a read-only class": "type.__setattr__(type(layer), 'forward', lambda self, x: x)",
    "swap an object's class": "layer.__class__ = Fake",
    "format escape": "'{0.__globals__}'.format(f)",
    "format on a built string": "('{0.' + '__globals__}').format(f)",
    "history of inputs": "print(In[-1])",
    "the namespace": "globals()['hidden']",
    "the namespace through vars": "v = vars()",
    "numpy file reader": "data = np.loadtxt('../../../source/x.ipynb', dtype=str)",
    "warnings reads a file": "import warnings\nwarnings.formatwarning('m', UserWarning, '../../../gradebook.db', 1)",
    "pyplot style reads a file": "plt.style.use('../../../source/a1/a1.ipynb')",
    "private module attribute": "np._core.multiarray",
    "module alias": "m = np\nm.x = 1",
    "module passed around": "modules = [np]",
    "exec": "exec('import os')",
    "getattr": "getattr(np, 'all' + 'close')",
    "getattr as a value": "g = getattr\ng(f, '__globals__')",
    "builtins": "__builtins__['open']",
    "rebound builtins": "__builtins__ = {'__import__': lambda *a: None}",
    "pyplot's own matplotlib": "plt.matplotlib.cbook",
    "matplotlib's file functions": "import matplotlib\nmatplotlib.use('module://os')",
    "magic": "%run ../../../source/a1/solutions.py",
    "code run by a timing magic": "%timeit open('../../../gradebook.db')",
    "help imports by name": "help('antigravity')",
    "figure written to a file": "plt.gcf().canvas.print_png('../../../source/a1/a1.ipynb')",
    "a private attribute of a library's object": "rng = np.random.default_rng()\nstate = rng.bit_generator._seed_seq",
}


@pytest.mark.parametrize("what", sorted(HONEST))
def test_ordinary_python_is_never_refused(what):
    bound = {"np": "numpy", "plt": "matplotlib.pyplot"}
    assert answer_cells.check_cell(HONEST[what], None, bound) == [], what


@pytest.mark.parametrize("what", sorted(CHEATS))
def test_code_that_could_reach_grading_is_not_run(what):
    bound = {"np": "numpy", "plt": "matplotlib.pyplot", "adcourse": "adcourse"}
    assert answer_cells.check_cell(CHEATS[what], None, bound), what


def _extra_imports(assignment):
    return answer_cells.notebook_imports(read(EXERCISES / "source" / assignment / f"{assignment}.ipynb"))


def test_an_assignment_allows_only_the_transforms_it_names():
    bound = {"adcourse": "adcourse", "anp": "adcourse.numpy"}
    a4 = _extra_imports("a4_hvp_hutchinson")
    allowed = "g = adcourse.grad(lambda y: anp.vdot(adcourse.grad(f)(y), v))(x)\nfrom adcourse import value_and_grad"
    assert answer_cells.check_cell(allowed, a4, bound) == []
    for forbidden in ("adcourse.hvp(f, x, v)", "adcourse.hessian(f)(x) @ v", "from adcourse import jacfwd",
                      "from adcourse.trace_estimation import hutchinson", "adcourse.trace_estimation.hutchinson"):
        assert answer_cells.check_cell(forbidden, a4, bound), forbidden
    assert answer_cells.check_cell(allowed, _extra_imports("a2_forward_mode"), bound)


def _latin_words(text):
    """English left in a Russian text: Latin words outside `code` and {placeholders}."""
    plain = re.sub(r"`[^`]*`|\{[^}]*\}", " ", text)
    return re.findall(r"[A-Za-z]{2,}", plain)


def test_every_refusal_has_a_russian_version_with_no_english_in_it():
    kinds = set()
    bound = {"np": "numpy", "plt": "matplotlib.pyplot", "adcourse": "adcourse"}
    for what, code in CHEATS.items():
        for violation in answer_cells.check_cell(code, None, bound):
            kinds.add(violation.kind)
            english, russian = answer_cells.refusal("dual", [violation])
            assert russian.startswith("Автопроверка не запускала ячейку `dual`: в строке"), russian
            assert not _latin_words(russian), (what, russian)
            assert english.startswith("The autograder did not run cell `dual`: line"), english
    for kind, (english, russian) in answer_cells._MESSAGES.items():
        assert english and russian and not _latin_words(russian), (kind, russian)
    # the refusals exercised here are all the kinds there are, but for the relative import
    assert set(answer_cells._MESSAGES) - kinds == {"relative"}, set(answer_cells._MESSAGES) - kinds
    assert not _latin_words(answer_cells.refusal(7, [answer_cells.Violation(3, "relative")])[1])


def test_the_rules_cell_and_the_check_cell_are_written_from_the_policy():
    done = subprocess.run([str(BIN / "python"), str(EXERCISES / "autograder" / "write_rules.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_rules_cell_lists_what_the_policy_allows(assignment):
    nb = read(EXERCISES / "source" / assignment / f"{assignment}.ipynb")
    rules = next(c.source for c in nb.cells if grade_id(c) == "rules")
    english, russian = rules.split("**Как оценивается")
    allowed = answer_cells.allowed_imports(answer_cells.notebook_imports(nb))
    for text in (english, russian):
        for module, members in allowed.items():
            if module not in ("numpy.testing", "warnings", "__future__"):
                assert f"`{module}`" in text, module
            for member in members if isinstance(members, tuple) else ():
                assert f"`{member}`" in text, (module, member)
        for word in ("`open`", "`eval`", "`getattr`", "`globals()`", "`get_ipython`", "`np.allclose = …`",
                     "`%timeit`", "`assert_…`"):
            assert word in text, word
    assert not _latin_words(re.sub(r"\*[^*]*\*|Restart & Run All|IPython|JAX|autograd|numpy|matplotlib",
                                   " ", russian)), _latin_words(russian)
    # where the introduction says what may be used, it names the same adcourse functions as the rules
    intro = next(c.source for c in nb.cells if grade_id(c) == "intro").split("**RU.**")[0]
    may_use = re.search(r"you may use (.*?)(?:,\s+but not|\.\s)", intro, re.S)
    named = set(re.findall(r"`adcourse\.(\w+)`", may_use.group(1))) if may_use else set()
    assert named == set(allowed.get("adcourse") or ()) or not may_use and "adcourse" not in allowed, named


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_students_page_states_the_rules_the_policy_applies(language):
    page = (REPO / "book" / language / "students.md").read_text(encoding="utf-8")
    flat = " ".join(page.split())
    index = 0 if language == "en" else 1
    for _, *texts in answer_cells.RULES:
        assert " ".join(texts[index].split()) in flat, texts[index][:60]
    for module, members in answer_cells.IMPORTS.items():
        assert f"`{module}`" in page or module in ("numpy.testing", "warnings", "__future__"), module
        for member in members if isinstance(members, tuple) else ():
            assert f"`{member}`" in page, member
    for assignment in ASSIGNMENTS:
        for module, members in _extra_imports(assignment).items():
            assert f"`{module}`" in page and all(f"`{m}`" in page for m in members or ()), (assignment, module)
    assert "python -m adcourse.answer_cells" in page


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_visible_assert_says_what_came(assignment):
    nb = read(EXERCISES / "source" / assignment / f"{assignment}.ipynb")
    for cell in nb.cells:
        if cell.metadata["nbgrader"].get("grade") and cell.cell_type == "code":
            for node in ast.walk(ast.parse(without_hidden_tests(cell.source))):
                if isinstance(node, ast.Assert):  # a message that shows the answer's value: an f-string
                    message = ast.unparse(node.msg) if node.msg else ""
                    shows = isinstance(node.msg, ast.JoinedStr) and \
                        any(isinstance(part, ast.FormattedValue) for part in node.msg.values)
                    assert shows, (grade_id(cell), node.lineno, message)


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


def test_the_references_of_assignment_6_agree_with_jax():
    """The MDS gradient in closed form against jax.grad and adcourse.grad; the Procrustes
    reference satisfies the optimality condition (QᵀM symmetric positive semidefinite);
    classical MDS reproduces Euclidean distances."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import adcourse
    from adgrader import a6
    from conftest import assert_close

    rng = np.random.default_rng(6)
    for N, k, noise in ((2, 1, 0.0), (7, 2, 0.5), (9, 3, 2.0)):
        _, D = a6.problem(rng, N, k, noise)
        W = rng.standard_normal((N, k))
        assert_close(a6.gradient_reference(W, D), jax.jit(jax.grad(lambda V: a6.loss(V, D, jnp)))(W))
        assert_close(a6.gradient_reference(W, D), adcourse.grad(lambda V: a6.loss(V, D))(W))
    for N, k in ((6, 1), (9, 2), (12, 3)):
        X, W = rng.standard_normal((N, k)), rng.standard_normal((N, k))
        aligned = a6.procrustes_reference(W, X)
        Wc, Xc = W - W.mean(axis=0), X - X.mean(axis=0)
        Q = np.linalg.lstsq(Wc, aligned - X.mean(axis=0), rcond=None)[0]
        assert_close(Q.T @ Q, np.eye(k), atol=1e-10)
        S = Q.T @ (Wc.T @ Xc)
        assert_close(S, S.T, atol=1e-10)
        assert np.all(np.linalg.eigvalsh((S + S.T) / 2) >= -1e-10)
        X, D = a6.problem(rng, N, k)
        gram = a6.gram_of_classical_mds(D, k)
        values, vectors = np.linalg.eigh(gram)
        Y = vectors[:, -k:] * np.sqrt(np.maximum(values[-k:], 0))
        assert_close(a6.squared_distances(Y), D, atol=1e-9)


def test_the_references_of_assignment_7_agree_with_jax():
    """The closed-form Jacobians against jax.jacfwd, and the sweep meter against adcourse's own
    jacfwd (n forward sweeps) and jacrev (one recording, m backward sweeps)."""
    import jax
    import numpy as np
    import jax.numpy as jnp

    import adcourse
    from adgrader import a7
    from conftest import assert_close

    for n, m in a7.SIZES:
        ours = a7.functions(np.random.default_rng(n * 10 + m), n, m)
        theirs = a7.functions(np.random.default_rng(n * 10 + m), n, m, xp=jnp)
        x = np.random.default_rng(m).standard_normal(n)
        for name, (f, jacobian) in ours.items():
            if (n, m) in ((3, 5), (6, 2)):  # the same formulas at every size: two are enough for JAX
                assert_close(jacobian(x), jax.jit(jax.jacfwd(theirs[name][0]))(x))
            wrapped, meter = a7.metered(f)
            assert_close(adcourse.jacfwd(wrapped)(x), jacobian(x))
            assert (meter.recordings, meter.forward, meter.backward) == (0, n, 0)
            wrapped, meter = a7.metered(f)
            assert_close(adcourse.jacrev(wrapped)(x), jacobian(x))
            assert (meter.recordings, meter.forward, meter.backward) == (1, 0, m)
    for n, k, m in ((12, 1, 9), (16, 3, 30)):
        h, g, jacobian = a7.waist_functions(np.random.default_rng(k), n, k, m)
        h_jax, g_jax, _ = a7.waist_functions(np.random.default_rng(k), n, k, m, xp=jnp)
        w = np.random.default_rng(n).standard_normal(n)
        assert_close(jacobian(w), jax.jit(jax.jacfwd(lambda v: g_jax(h_jax(v))))(w))


def test_the_references_of_assignment_8_agree_with_jax():
    """adcourse.grad of the scalar programs, the tape count, the implicit gradients of ridge
    regression, softplus and the logistic loss, all against JAX."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import adcourse
    from adcourse.graph import trace_graph
    from adgrader import a8
    from conftest import assert_close

    rng = np.random.default_rng(8)
    for name, program in a8.PROGRAMS.items():
        x = float(rng.uniform(0.1, 0.9))
        assert_close(adcourse.grad(program)(x), jax.jit(jax.grad(program))(x), rtol=1e-9)
    for name, program in a8.TAPE_PROGRAMS.items():
        assert a8.operations(program, 0.3) == len(trace_graph(program, 0.3).nodes) - 1, name
    for p, q, mu in ((8, 3, 0.5), (5, 5, 0.0), (4, 7, 1.0)):
        A, b, target = rng.standard_normal((p, q)), rng.standard_normal(p), rng.standard_normal(q)

        def loss(A, b, mu):
            x = jnp.linalg.solve(A.T @ A + mu * jnp.eye(q), A.T @ b)
            return 0.5 * jnp.sum((x - target) ** 2)

        x_star = np.linalg.solve(A.T @ A + mu * np.eye(q), A.T @ b)
        assert_close(list(a8.ridge_reference(A, b, mu, x_star - target)),
                     list(jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(A, b, mu)), rtol=1e-9, atol=1e-11)
    z = np.concatenate([np.linspace(-1000, 1000, 41), [0.0, 1e-9, -30.0, 36.0]])
    value, sigmoid = a8.softplus_reference(z)
    assert_close(value, jax.nn.softplus(z))
    assert_close(sigmoid, jax.jit(jax.vmap(jax.grad(jax.nn.softplus)))(z))
    X, y = rng.standard_normal((30, 3)), np.where(rng.uniform(size=30) < 0.5, -1.0, 1.0)
    logistic = jax.jit(jax.value_and_grad(lambda w: jnp.mean(jax.nn.softplus(-y * (X @ w)))))
    for scale in (0.1, 100.0, 1000.0):
        w = scale * rng.standard_normal(3)
        assert_close(list(a8.logistic_reference(w, X, y)), list(logistic(w)))


def test_the_references_of_assignment_9_agree_with_jax():
    """Tangents of every node against jax.jvp, and adjoints against jax.grad with respect to a
    perturbation added to each node."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from adgrader import a9
    from conftest import assert_close

    def perturbed(w1, w2, delta):
        """L with delta[name] added to each node as it is computed."""
        v = {"w1": w1 + delta["w1"], "w2": w2 + delta["w2"]}
        v["v1"] = v["w1"] * v["w2"] + delta["v1"]
        v["v2"] = jnp.exp(v["v1"]) + delta["v2"]
        v["v3"] = jnp.sin(v["w2"]) + delta["v3"]
        v["v4"] = v["v2"] * v["v3"] + delta["v4"]
        return v["v1"] + v["v4"] + delta["L"]

    rng = np.random.default_rng(9)
    for _ in range(3):
        w1, w2, dw1, dw2 = (float(v) for v in rng.uniform(-1.5, 1.5, 4))
        ours = a9.reference_tangents(w1, w2, dw1, dw2)
        _, theirs = jax.jvp(lambda a, b: a9.nodes(a, b, jnp), (w1, w2), (dw1, dw2))
        assert_close([ours[k] for k in a9.FORWARD_KEYS], [theirs[k] for k in a9.FORWARD_KEYS])
        zero = dict.fromkeys(a9.BACKWARD_KEYS, 0.0)
        adjoint = jax.grad(lambda d: perturbed(w1, w2, d))(zero)
        ours = a9.reference_adjoints(w1, w2)
        assert_close([ours[k] for k in a9.BACKWARD_KEYS], [adjoint[k] for k in a9.BACKWARD_KEYS])


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
    ("a5_checkpointing", "checkpointed", "        if s < last:\n",
     "        if s == last:\n            checkpoints[s] = segment[0]\n        if True:\n",
     "checkpointed"),  # recomputes the last segment too: right gradient, 2n - ceil(n/k) forward calls
    ("a5_checkpointing", "checkpointed", "                segment.append(layers[i].forward(segment[-1]))\n",
     "                segment.append(layers[i].forward(segment[-1]))\n            checkpoints[-s - 1] = list(segment)\n",
     "checkpointed"),  # right gradient and calls, but the recomputed activations are never dropped
    ("a5_checkpointing", "counting", "return peak, n + (segments - 1) * (k - 1)",
     "return peak + 1, n + (segments - 1) * (k - 1)", "counting"),
    ("a5_checkpointing", "counting", "return peak, n + (segments - 1) * (k - 1)",
     "return peak, 2 * n - segments", "counting"),  # the calls of a scheme that recomputes every segment
    ("a5_checkpointing", "counting", "return min(range(1, n + 1), key=lambda k: (checkpoint_cost(n, k)[0], k))",
     "return max(1, round(math.sqrt(n)))", "counting"),
    ("a6_mds_gradient", "mds_gradient_answer", "return 8 * (", "return 4 * (", "gradient"),  # one of two terms
    ("a6_mds_gradient", "mds_descent_answer", "range(n_steps)", "range(n_steps + 1)", "descent"),
    ("a6_mds_gradient", "procrustes_answer", "return (W - W_mean) @ U @ Vt + X_mean",
     "U[:, -1] *= np.sign(np.linalg.det(U @ Vt))\n    return (W - W_mean) @ U @ Vt + X_mean",
     "procrustes"),  # rotations only: a mirrored configuration stays mirrored
    ("a6_mds_gradient", "procrustes_answer", "@ U @ Vt + X_mean", "@ U @ Vt", "procrustes"),  # no shift back
    ("a6_mds_gradient", "classical_mds_answer", "np.argsort(values)[::-1][:k]", "np.argsort(values)[:k]",
     "classical"),
    ("a7_choosing_a_mode", "jacobian_forward_answer", "_, column = adcourse.jvp(f, (x,), (e,))",
     "adcourse.jvp(f, (x,), (e,))\n        _, column = adcourse.jvp(f, (x,), (e,))",
     "forward_sweeps"),  # right values, 2n sweeps
    ("a7_choosing_a_mode", "jacobian_reverse_answer", "rows = [pullback(e)[0] for e in np.eye(np.size(y))]",
     "rows = [adcourse.vjp(f, x)[1](e)[0] for e in np.eye(np.size(y))]",
     "reverse_sweeps"),  # f recorded once per row
    ("a7_choosing_a_mode", "cost_model_answer", "s_f = np.mean(", "s_f = np.median(", "cost_model"),
    ("a7_choosing_a_mode", "cost_model_answer", "return (n * s_f - r_0) / (n * s_b)", "return s_f / s_b",
     "cost_model"),
    ("a7_choosing_a_mode", "waist_answer", "J_h = jacobian_reverse(h, w)",
     "return jacobian_forward(lambda v: g(h(v)), w)", "waist"),  # right values, n sweeps
    ("a8_beyond_the_chain_rule", "symbolic_answer", "derivative(a, done), derivative(b, done)",
     "derivative(a), derivative(b)", "symbolic"),  # no sharing: the derivative swells
    ("a8_beyond_the_chain_rule", "symbolic_answer", "da * b + a * db", "da * db", "symbolic"),
    ("a8_beyond_the_chain_rule", "symbolic_answer", "sizes[id(e)] = 1 + sum(formula_size(c, sizes) for c in e.children)",
     "sizes[id(e)] = 1 + sum(formula_size(c, sizes) for c in set(e.children))", "symbolic"),
    ("a8_beyond_the_chain_rule", "tape_answer", "def __neg__(self): return self._record(-self.value)",
     "def __neg__(self): return Recorded(-self.value)", "tape"),
    ("a8_beyond_the_chain_rule", "ridge_answer", "-float(lam @ x)", "float(lam @ x)", "ridge"),
    ("a8_beyond_the_chain_rule", "ridge_answer", "lam = np.linalg.solve(M, g)", "lam = np.linalg.solve(A.T @ A, g)",
     "ridge"),
    ("a8_beyond_the_chain_rule", "softplus_answer", "value = np.maximum(z, 0.0) + np.log1p(e)",
     "value = np.log1p(np.exp(z))", "softplus"),
    ("a8_beyond_the_chain_rule", "softplus_answer", "return np.asarray(g, dtype=float) * sigmoid", "return sigmoid",
     "softplus"),
    ("a8_beyond_the_chain_rule", "logistic_answer", "X.T @ (-y * dL_dz)", "X.T @ (y * dL_dz)", "logistic_loss"),
    ("a9_mock_exam", "fd_answer", "f0, plus, minus = f(x), f(x + step), f(x - step)",
     "f0, plus, minus = f(x), f(x + step), f(x - step)\n    f(x)", "finite_differences"),
    ("a9_mock_exam", "fd_answer", "(plus - minus) / (2 * eps)", "(plus - minus) / eps", "finite_differences"),
    ("a9_mock_exam", "forward_answer", "d4 = v3 * d2 + v2 * d3", "d4 = v3 * d2", "forward_sweep"),
    ("a9_mock_exam", "backward_answer", 'bar["v1"] = bar["L"] + bar["v2"] * v2', 'bar["v1"] = bar["v2"] * v2',
     "backward_sweep"),  # one of v1's two children forgotten
    ("a9_mock_exam", "hutchinson_answer", "2.0 * (np.sum(X ** 2) - np.sum(np.diag(X) ** 2))", "2.0 * np.sum(X ** 2)",
     "hutchinson"),  # the variance of a Gaussian probe
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
