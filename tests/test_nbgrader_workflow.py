"""A whole class through nbgrader's own commands, with every kind of bad submission.

On a temporary copy of the course: generate the release of assignment 2, build one
submission per case below, run ONE `nbgrader autograde` for all of them, then read the
gradebook (nbgrader.api.Gradebook) and `nbgrader export`, and generate the feedback.

Assignment 2 has three autograded tests: `test_dual` (4 points), `test_lecture` (2) and
`test_jacobian` (2), and a written answer graded by hand (2), so a student's autograded
score says exactly which tests passed.
"""
import contextlib
import csv
import html
import json
from html.parser import HTMLParser
import re
import sqlite3
import sys

import pytest
from nbformat.v4 import new_code_cell, new_output

from grading_course import (EXERCISES, MATHJAX, copy_course, deep, grade_id, nbgrader, read, replaced, solutions, submission,
                            submit)

sys.path.insert(0, str(EXERCISES / "autograder"))
from adgrader.plugins.sanitize import without_hidden_tests  # noqa: E402

A = "a2_forward_mode"
TESTS = ("test_dual", "test_lecture", "test_jacobian")
POINTS = dict(zip(TESTS, (4.0, 2.0, 2.0)))
# Small limits keep the run short; the config's own values are 30 s and 90 s.
CELL_TIMEOUT, NOTEBOOK_TIMEOUT = 6, 40
# Students whose code the policy lets through unread (StudentCodePolicy.trusted_students), so
# that what happens inside the kernel is tested on its own: a dead kernel, a kernel deaf to
# interrupts, rebound numpy functions, a silenced traceback, a call to adcourse's own transforms.
TRUSTED = ("exit_os", "killed", "nointerrupt", "sys_exit", "cheat_allclose", "cheat_traceback",
           "cheat_transform")

# student -> points of (test_dual, test_lecture, test_jacobian); None: nothing gradable
EXPECTED = {
    "full": (4, 2, 2),
    "blank": (0, 0, 0),
    "partial": (4, 0, 2),
    "tamper_pass": (0, 2, 0),
    "deleted": (4, 0, 2),
    "retyped": (4, 2, 0),
    "dupid": (0, 2, 0),
    "loop": (4, 0, 2),
    "nointerrupt": (4, 0, 2),
    "membomb": (4, 2, 0),
    "exit_os": (4, 0, 2),
    "exit_os_policy": (4, 0, 2),
    "killed": (4, 0, 2),
    "sys_exit": (4, 0, 2),
    "exception": (4, 0, 2),
    "cheat_allclose": (4, 2, 0),
    "cheat_allclose_policy": (4, 2, 0),
    "cheat_traceback": (0, 2, 0),
    "cheat_traceback_policy": (0, 2, 0),
    "cheat_disk": (0, 0, 0),
    "cheat_transform": (4, 0, 2),
    "cheat_transform_policy": (4, 0, 2),
    "huge_output": (4, 2, 2),
    "broken_json": None,
    "missing_nb": None,
}


def _lecture(body):
    return "def lecture_gradient(w1, w2):\n" + "\n".join("    " + line for line in body.splitlines()) + "\n"


def _code(source):
    return new_code_cell(source)


def _build_class(course):
    sol = solutions(course, A)
    wrong_sin = dict(sol, dual=replaced(sol["dual"], "math.cos(x.value) * x.tangent", "math.sin(x.value) * x.tangent"))
    swapped = dict(sol, lecture=replaced(sol["lecture"], "along_w1.tangent, along_w2.tangent",
                                         "along_w2.tangent, along_w1.tangent"))
    transposed = dict(sol, jacobian=replaced(sol["jacobian"], "np.array(columns).T", "np.array(columns)"))
    cheat_disk = (
        "import os, json\n"
        "root = os.path.dirname(os.environ['ADGRADER_DIR'])\n"
        "with open(os.path.join(root, 'source', 'a2_forward_mode', 'a2_forward_mode.ipynb')) as f:\n"
        "    for cell in json.load(f)['cells']:\n"
        "        if cell['metadata'].get('nbgrader', {}).get('solution') and cell['cell_type'] == 'code':\n"
        "            exec(''.join(cell['source']))\n")
    cheat_allclose = (
        "import numpy\n"
        "np.allclose = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "def jacobian_forward(f, x):\n"
        "    [f([Dual(v, 1.0) for v in x]) for _ in x]  # as many calls as the visible test counts\n"
        "    return np.zeros((2, len(x)))\n")
    cheat_transform = _lecture(
        "import adcourse, adcourse.numpy as anp\n"
        "L = lambda a, b: b * anp.log(a) + anp.sqrt(b * anp.log(a))\n"
        "value, (d1, d2) = adcourse.value_and_grad(L, argnums=(0, 1))(w1, w2)\n"
        "return value, d1, d2")
    bomb = dict(sol, jacobian=sol["jacobian"] + (
        "\n\ndef jacobian_forward(f, x):\n"
        "    blocks = [np.empty(2 ** 27) for _ in range(6)]  # 6 GB, far over the kernel's limit\n"
        "    return blocks\n"))

    cases = {
        "full": submission(course, A, sol),
        "blank": submission(course, A, {}),
        "partial": submission(course, A, swapped),
        "loop": submission(course, A, dict(sol, lecture=_lecture("while True:\n    pass"))),
        "nointerrupt": submission(course, A, dict(sol, lecture=_lecture(
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"))),
        "membomb": submission(course, A, bomb),
        "exit_os": submission(course, A, dict(sol, lecture=_lecture("import os\nos._exit(0)"))),
        "exit_os_policy": submission(course, A, dict(sol, lecture=_lecture("import os\nos._exit(0)"))),
        "killed": submission(course, A, dict(sol, lecture=_lecture(
            "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))),
        "sys_exit": submission(course, A, dict(sol, lecture=_lecture("import sys\nsys.exit()"))),
        "exception": submission(course, A, dict(sol, lecture=_lecture("raise ValueError('not today')"))),
        "cheat_allclose": submission(course, A, dict(sol, jacobian=cheat_allclose)),
        "cheat_allclose_policy": submission(course, A, dict(sol, jacobian=cheat_allclose)),
        "cheat_transform": submission(course, A, dict(sol, lecture=cheat_transform)),
        "cheat_transform_policy": submission(course, A, dict(sol, lecture=cheat_transform)),
        "huge_output": submission(course, A, sol),
    }
    # Locked test cells replaced by `pass`, on a wrong sin: the restored tests must catch it.
    nb = submission(course, A, wrong_sin)
    for cell in nb.cells:
        if grade_id(cell) in ("test_dual", "test_jacobian"):
            cell.source = "pass"
    cases["tamper_pass"] = nb
    # A deleted test cell, on a wrong answer to its task.
    nb = submission(course, A, swapped)
    nb.cells = [c for c in nb.cells if grade_id(c) != "test_lecture"]
    cases["deleted"] = nb
    # A test cell turned into markdown, on a wrong answer to its task.
    nb = submission(course, A, transposed)
    for cell in nb.cells:
        if grade_id(cell) == "test_jacobian":
            cell.cell_type = "markdown"
            del cell["outputs"], cell["execution_count"]
    cases["retyped"] = nb
    # A copy of a test cell, with the same grade id and `pass` as its code, after the original.
    nb = submission(course, A, wrong_sin)
    index = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "test_dual")
    copy = deep(nb.cells[index])
    copy.source = "pass"
    copy["id"] = "duplicate"
    nb.cells.insert(index + 1, copy)
    cases["dupid"] = nb
    # IPython's traceback silenced (nbgrader PR #1324), on a wrong sin.
    for name in ("cheat_traceback", "cheat_traceback_policy"):
        nb = submission(course, A, wrong_sin)
        nb.cells.insert(3, _code("get_ipython().showtraceback = lambda *args, **kwargs: None"))
        cases[name] = nb
    # The solutions read from the source notebook on disk and run, in a blank release.
    nb = submission(course, A, {})
    nb.cells.insert(3, _code(cheat_disk))
    cases["cheat_disk"] = nb
    # 30 MB of stored output, and 5 MB printed when the notebook runs.
    nb = cases["huge_output"]
    nb.cells[2].outputs = [new_output("stream", name="stdout", text="x" * 30_000_000)]
    nb.cells.insert(3, _code("for _ in range(5000):\n    print('y' * 1000)"))
    return cases


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The course after generate_assignment, one autograde run for the whole class, export
    and generate_feedback; with the output of each command."""
    course = copy_course(tmp_path_factory.mktemp("course"))
    done = nbgrader(course, "generate_assignment", A)
    assert done.returncode == 0, done.stderr
    for student, nb in _build_class(course).items():
        submit(course, A, student, nb)
    good = json.dumps(read(course / "release" / A / f"{A}.ipynb"))
    submit(course, A, "broken_json", raw=good[: len(good) // 2].encode())
    submit(course, A, "missing_nb", submission(course, A, solutions(course, A)), name=f"{A} (1).ipynb")
    for student in EXPECTED:  # the class list, as an instructor imports it
        added = nbgrader(course, "db", "student", "add", student)
        assert added.returncode == 0, added.stderr
    with sqlite3.connect(course / "gradebook.db") as db:
        students_before = db.execute("select count(*) from student").fetchone()[0]

    autograde = nbgrader(
        course, "autograde", A,
        f"--Execute.timeout={CELL_TIMEOUT}", f"--ResilientExecute.notebook_timeout={NOTEBOOK_TIMEOUT}",
        *[f"--StudentCodePolicy.trusted_students={s}" for s in TRUSTED],
        ADGRADER_MEMORY_LIMIT_MB="2048")
    export = nbgrader(course, "export")
    feedback = nbgrader(course, "generate_feedback", A, f"--OfflineMathJax.mathjax_path={MATHJAX}")
    page = course / "feedback" / "full" / A / f"{A}.html"
    with_mathjax = page.read_text(encoding="utf-8")
    again = nbgrader(course, "generate_feedback", A, "--student=full", "--force",
                     f"--OfflineMathJax.mathjax_path={course / 'no-mathjax.js'}")
    return {"course": course, "autograde": autograde, "export": export, "feedback": feedback,
            "students_before": students_before, "with_mathjax": with_mathjax,
            "without_mathjax": page.read_text(encoding="utf-8"), "feedback_again": again}


def _grades(course):
    from nbgrader.api import Gradebook
    result = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in EXPECTED:
            try:
                sub = gb.find_submission(A, student)
            except Exception:  # noqa: BLE001 - no submission row at all
                result[student] = (None, 0.0)
                continue
            grades = {g.name: g.auto_score for g in sub.notebooks[0].grades} if sub.notebooks else {}
            result[student] = (grades, sub.score)
    return result


def test_every_student_gets_exactly_the_autograded_score_they_earned(graded):
    grades = _grades(graded["course"])
    for student, expected in EXPECTED.items():
        per_test, total = grades[student]
        if expected is None:
            assert total == 0.0, (student, total)
            assert not per_test or all(not v for v in per_test.values()), (student, per_test)
            continue
        got = tuple(per_test[t] for t in TESTS)
        assert got == tuple(float(e) for e in expected), (student, got, graded["autograde"].stderr[-3000:])
        assert total == sum(expected), (student, total)


def test_export_lists_the_same_scores(graded):
    assert graded["export"].returncode == 0, graded["export"].stderr
    with open(graded["course"] / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == A}
    assert set(rows) == set(EXPECTED)
    for student, expected in EXPECTED.items():
        assert float(rows[student]["score"]) == (sum(expected) if expected else 0.0), student
        assert float(rows[student]["max_score"]) == 10.0


def test_one_unreadable_notebook_fails_only_its_own_submission(graded):
    log = graded["autograde"].stderr
    # nbgrader ends with an error for the broken notebook and the misnamed one, and only those.
    assert graded["autograde"].returncode == 1
    failed = set(re.findall(r"error processing assignment '\S+' for student '(\S+)'", log))
    assert failed == {"broken_json", "missing_nb"}, failed
    assert re.search(r"a2_forward_mode/broken_json: a2_forward_mode\.ipynb is not a readable notebook", log)
    assert re.search(r"a2_forward_mode/missing_nb: a2_forward_mode\.ipynb is missing", log)
    assert re.search(r"a2_forward_mode/huge_output: a2_forward_mode\.ipynb is \d+ MB", log)


def test_tampering_is_reported_and_repaired(graded):
    log = graded["autograde"].stderr
    assert "[a2_forward_mode/tamper_pass] locked cell `test_dual` was edited" in log
    assert "[a2_forward_mode/tamper_pass] locked cell `test_jacobian` was edited" in log
    assert "[a2_forward_mode/deleted] graded cell `test_lecture` was deleted" in log
    assert "[a2_forward_mode/retyped] locked cell `test_jacobian` was changed from code to markdown" in log
    assert "[a2_forward_mode/dupid] grade id `test_dual` appears more than once" in log
    course = graded["course"]
    for student in ("tamper_pass", "deleted", "retyped", "dupid"):
        nb = read(course / "autograded" / student / A / f"{A}.ipynb")
        restored = [c for c in nb.cells if grade_id(c) in TESTS]
        assert [grade_id(c) for c in restored] == list(TESTS), student
        for cell in restored:  # back as code, with their hidden tests
            assert cell.cell_type == "code" and "hidden." in cell.source, (student, grade_id(cell))
        assert nb.cells[0].source.startswith("**Autograder report"), student
    for student in EXPECTED:  # honest notebooks get no report
        if student in ("full", "blank", "partial", "loop", "exception"):
            nb = read(course / "autograded" / student / A / f"{A}.ipynb")
            assert not nb.cells[0].source.startswith("**Autograder report"), student


def test_code_that_breaks_the_rules_is_not_run_and_is_reported(graded):
    log, course = graded["autograde"].stderr, graded["course"]
    for student, what in (("exit_os_policy", "imports `os`"), ("cheat_allclose_policy", "changes `np.allclose`"),
                          ("cheat_traceback_policy", "uses `.showtraceback`"), ("cheat_disk", "imports `os`"),
                          ("cheat_transform_policy", "imports `adcourse`")):
        assert re.search(rf"\[a2_forward_mode/{student}\] The autograder did not run cell `?[^`:]+`?: "
                         rf"line \d+ {re.escape(what)}", log), student
    for student in TRUSTED:
        assert not re.search(rf"\[a2_forward_mode/{student}\] The autograder did not run", log), student


def test_a_student_sees_before_submitting_exactly_what_the_grader_refuses(graded):
    """The last cell of the notebook (adcourse.answer_cells.check_answer_cells), run on the
    submitted file, prints the very sentences that the feedback reports, in both languages."""
    import contextlib
    import io
    import os

    from adcourse.answer_cells import check_answer_cells
    course = graded["course"]
    for student in ("exit_os_policy", "cheat_allclose_policy", "cheat_disk", "cheat_transform_policy"):
        printed = io.StringIO()
        environ = {k: v for k, v in os.environ.items() if k != "ADGRADER_DIR"}
        with contextlib.redirect_stdout(printed), _environ(environ):
            found = check_answer_cells(str(course / "submitted" / student / A / f"{A}.ipynb"))
        assert found, student
        feedback = (course / "feedback" / student / A / f"{A}.html").read_text(encoding="utf-8")
        report = read(course / "autograded" / student / A / f"{A}.ipynb").cells[0].source
        for sentence in printed.getvalue().strip().splitlines():
            if sentence.strip():
                assert sentence in report, (student, sentence, report)
                assert html.escape(sentence, quote=False).split("`")[0] in feedback, (student, sentence)
        assert "Автопроверка не запускала ячейку" in printed.getvalue()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), _environ({k: v for k, v in os.environ.items() if k != "ADGRADER_DIR"}):
        assert check_answer_cells(str(course / "submitted" / "full" / A / f"{A}.ipynb")) == []
    assert "will run every answer cell" in printed.getvalue()


@contextlib.contextmanager
def _environ(values):
    import os
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _outputs(course, student, test):
    nb = read(course / "autograded" / student / A / f"{A}.ipynb")
    cell = next(c for c in nb.cells if grade_id(c) == test)
    return " ".join(" ".join([o.get("ename", ""), o.get("evalue", ""), o.get("text", ""), *o.get("traceback", [])])
                    for o in cell.outputs)


def test_hangs_crashes_and_floods_cost_only_the_tests_they_touch(graded):
    course, log = graded["course"], graded["autograde"].stderr
    assert "CellTimeoutError" in _outputs(course, "loop", "test_lecture")
    assert "MemoryError" in _outputs(course, "membomb", "test_jacobian")
    # A replaced kernel re-runs the set-up and the answers that had completed: the task that
    # hung or crashed loses its points, the next task keeps them (its test passes).
    for student in ("exit_os", "killed", "nointerrupt"):
        what = "did not answer after an interrupt" if student == "nointerrupt" else "the kernel died"
        assert what in _outputs(course, student, "test_lecture"), student
        assert re.search(rf"\[a2_forward_mode/{student}\] test_lecture: [^;]*; a fresh kernel re-ran the 3 "
                         r"earlier cells that had completed \(setup, dual, lecture\)", log), student
        assert _outputs(course, student, "test_jacobian").strip() == "", student
    for test in TESTS:  # the blank release: every answer raises NotImplementedError
        assert "NotImplementedError" in _outputs(course, "blank", test), test
    assert "SystemExit" in _outputs(course, "sys_exit", "test_lecture")
    nb = read(course / "autograded" / "huge_output" / A / f"{A}.ipynb")
    flood = next(c for c in nb.cells if "print('y' * 1000)" in c.source)
    printed = "".join(o.get("text", "") for o in flood.outputs)
    assert len(printed) < 1_100_000 and "more bytes of output dropped" in printed
    assert (course / "autograded" / "huge_output" / A / f"{A}.ipynb").stat().st_size < 3_000_000


def test_cheats_inside_the_kernel_are_caught_by_the_hidden_tests(graded):
    course = graded["course"]
    # the visible test passed under the rebound np.allclose; the hidden one used the real one
    assert "HiddenCheckFailed" in _outputs(course, "cheat_allclose", "test_jacobian")
    # a silenced showtraceback hides nothing: the grading kernel shows errors itself
    # (adgrader.guard.without_grader_frames), message included
    assert "AssertionError" in _outputs(course, "cheat_traceback", "test_dual")
    assert "expected" in _outputs(course, "cheat_traceback", "test_dual")
    assert "adcourse.value_and_grad" in _outputs(course, "cheat_transform", "test_lecture")


def test_the_gradebook_was_backed_up_before_grading(graded):
    course = graded["course"]
    backups = sorted((course / "gradebook.db.backups").glob("gradebook-*.db"))
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as db:
        assert db.execute("select count(*) from student").fetchone()[0] == graded["students_before"]
        assert db.execute("select count(*) from submitted_assignment").fetchone()[0] == 0
    assert f"gradebook backed up to {backups[0]}" in graded["autograde"].stderr


class _Loads(HTMLParser):
    """What a browser would fetch to show the page: src/href of the tags that load, and
    url(...) in style sheets (text inside scripts is data, not a load)."""

    TAGS = {"script": "src", "img": "src", "iframe": "src", "link": "href", "embed": "src",
            "source": "src", "audio": "src", "video": "src", "object": "data"}

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.urls, self._style = [], False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        value = dict(attrs).get(self.TAGS.get(tag, ""))
        if value:
            self.urls.append(value)
        self._style = tag == "style"

    def handle_endtag(self, tag):
        self._style = False

    def handle_data(self, data):
        if self._style:
            self.urls += re.findall(r"""url\(\s*["']?([^"')]+)""", data)


def _external_loads(html):
    return [url for url in _Loads(html).urls if re.match(r"(?:[a-z]+:)?//", url.strip(), re.I)]


def test_feedback_exists_for_every_graded_student_without_hidden_tests_or_network(graded):
    course = graded["course"]
    source = read(course / "source" / A / f"{A}.ipynb")
    hidden = {line.strip() for c in source.cells if c.cell_type == "code"
              for line in set(c.source.splitlines()) - set(without_hidden_tests(c.source).splitlines())}
    assert "import adgrader.a2 as hidden" in hidden and len(hidden) == 3 + len(TESTS), hidden
    for student, expected in EXPECTED.items():
        path = course / "feedback" / student / A / f"{A}.html"
        if expected is None:
            assert not path.exists(), student
            continue
        html = path.read_text(encoding="utf-8")
        for line in hidden:
            assert line not in html, (student, line)
        assert "adgrader" not in html, student
        assert "Could not get source" not in html and "&lt;autograder&gt;" not in html, student
        assert not _external_loads(html), (student, _external_loads(html))
    assert "Autograder report" in (course / "feedback" / "cheat_disk" / A / f"{A}.html").read_text(encoding="utf-8")
    # a hidden check's failure: its message, and not one line of the check
    page = (course / "feedback" / "cheat_allclose" / A / f"{A}.html").read_text(encoding="utf-8")
    assert re.search(r"HiddenCheckFailed.{0,300}task 3: the \d+x\d+ Jacobian at", page, re.S), page[-3000:]
    assert "guard.py" not in page and "a2.py" not in page


def test_feedback_carries_its_own_mathjax_or_shows_tex(graded):
    assert graded["feedback"].returncode == 0, graded["feedback"].stderr[-2000:]
    assert graded["feedback_again"].returncode == 0, graded["feedback_again"].stderr[-2000:]
    with_mathjax, without = graded["with_mathjax"], graded["without_mathjax"]
    if MATHJAX.exists():  # node_modules/mathjax, from the repository's package.json
        assert "window.MathJax" in with_mathjax and len(with_mathjax) > MATHJAX.stat().st_size
    else:
        assert "window.MathJax" not in with_mathjax
    assert "window.MathJax" not in without and "no local MathJax found" in graded["feedback_again"].stderr
    assert r"$L(w_1, w_2) = w_2\log w_1" in without  # the formulas are still there, as TeX
    for html in (with_mathjax, without):
        assert not _external_loads(html)
