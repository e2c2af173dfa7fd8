"""An instructor's everyday operations, through nbgrader's real commands on a copy of the course.

- The exchange: `Exchange.root` inside the copy, `release_assignment`, students' `fetch_assignment`
  and `submit` with `--course adcourse`, `collect`, then one `autograde` for the class, whose log
  says nothing about nbgrader's own `submission_secret.txt`.
- A test fixed mid-term: assignment 1 is released with a wrong count in `test_central_difference`;
  the source is fixed; `autograde --force` alone warns that the gradebook still has the old test;
  `generate_assignment --force` then `autograde --force` regrades the class with the fixed test,
  and only the student who really edited a test is reported for tampering.
- The logs name the student and the cell of a timeout, and the cells the notebook limit left unrun.
- A source notebook with its hidden tests runs from another folder with the page's PYTHONPATH.
- nbgrader run without the environment activated finds `alembic` beside its Python.
- The logs of autograde and generate_feedback carry none of nbgrader's harmless per-submission lines.
"""
import os
import re
import sqlite3
import subprocess
import sys

import nbformat
import pytest

from grading_course import (BIN, EXERCISES, copy_course, environment, grade_id, nbgrader, read, replaced,
                            solutions)

A = "a1_finite_differences"
RIGHT = "assert counted.evaluations == 6, f\"expected 2d = 6 evaluations"
WRONG = "assert counted.evaluations == 7, f\"expected 2d = 6 evaluations"  # the bug released first
STUDENTS = ("honest", "other", "tamper")


def _run(args, cwd, **env):
    return subprocess.run(args, cwd=cwd, env=environment(**env), capture_output=True, text=True, timeout=900)


def _set_test(course, old, new):
    path = course / "source" / A / f"{A}.ipynb"
    path.write_text(replaced(path.read_text(encoding="utf-8"), old.replace('"', '\\"'), new.replace('"', '\\"')),
                    encoding="utf-8")


def _scores(course):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: {g.name: g.auto_score for g in gb.find_submission(A, s).notebooks[0].grades
                    if g.auto_score is not None} for s in STUDENTS}


def _ok(done):
    assert done.returncode == 0, (done.args, done.stderr[-3000:])
    return done


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("course"))
    exchange = course / "exchange"  # what the page calls the exchange's root
    exchange.mkdir()
    env = {"ADCOURSE_EXCHANGE": str(exchange)}
    _set_test(course, RIGHT, WRONG)
    _ok(nbgrader(course, "generate_assignment", A, **env))
    _ok(nbgrader(course, "release_assignment", A, **env))
    answers = solutions(course, A)
    for student in STUDENTS:
        home = course.parent / f"home-{student}"
        home.mkdir()
        student_args = ["--course", "adcourse", f"--Exchange.root={exchange}"]
        _ok(_run([str(BIN / "nbgrader"), "fetch_assignment", A, *student_args], home))
        path = home / A / f"{A}.ipynb"
        nb = read(path)
        for cell in nb.cells:
            if grade_id(cell) in answers:
                cell.source = answers[grade_id(cell)]
            if student == "tamper" and grade_id(cell) == "test_forward_difference":
                cell.source = "pass"
        nbformat.write(nb, str(path))
        _ok(_run([str(BIN / "nbgrader"), "submit", A, f"--student={student}", *student_args], home))
    collect = _ok(nbgrader(course, "collect", A, **env))  # autograde adds the students to the gradebook
    first = _ok(nbgrader(course, "autograde", A, **env))
    scores_first = _scores(course)
    _set_test(course, WRONG, RIGHT)  # the instructor fixes the test in source/
    stale = _ok(nbgrader(course, "autograde", A, "--force", **env))
    scores_stale = _scores(course)
    _ok(nbgrader(course, "generate_assignment", A, "--force", **env))
    regrade = _ok(nbgrader(course, "autograde", A, "--force", **env))
    feedback = _ok(nbgrader(course, "generate_feedback", A, **env))
    return {"course": course, "exchange": exchange, "collect": collect, "first": first, "stale": stale,
            "regrade": regrade, "feedback": feedback, "scores": (scores_first, scores_stale, _scores(course))}


def test_the_exchange_carries_the_class_with_the_course_id(term):
    course = term["course"]
    assert (term["exchange"] / "adcourse" / "outbound" / A / f"{A}.ipynb").exists()
    for student in STUDENTS:
        assert (course / "submitted" / student / A / "submission_secret.txt").exists(), student
        assert (course / "autograded" / student / A / f"{A}.ipynb").exists(), student


def test_the_logs_carry_no_line_of_nbgrader_s_own_harmless_noise(term):
    """Each of these came once per submission; nbgrader_config.py says why each is harmless."""
    noise = ("extra files", "Attribute 'checksum'", "not in session", "without encryption",
             "Alternative text", "not recognized by", "Timeout waiting for execute reply")
    for run in ("first", "regrade", "feedback"):
        for line in noise:
            assert line not in term[run].stderr, (run, line, term[run].stderr[-3000:])
    assert len(list((term["course"] / "feedback").glob(f"*/{A}/{A}.html"))) == len(STUDENTS)


def test_a_fixed_test_regrades_the_class_without_false_tampering_reports(term):
    first, stale, regraded = term["scores"]
    for student in ("honest", "other"):
        assert first[student]["test_central_difference"] == 0.0, first  # the released bug
        assert stale[student]["test_central_difference"] == 0.0, stale  # the gradebook's old test
        assert regraded[student]["test_central_difference"] == 2.0, regraded
        assert sum(regraded[student].values()) == 11.0, regraded
    # autograde alone says why the fix does not count yet, and what to run
    assert re.search(rf"\[adgrader\] {A}: source/{A}/{A}\.ipynb differs from the gradebook in "
                     rf"test_central_difference; .*nbgrader generate_assignment {A} --force", term["stale"].stderr)
    assert "differs from the gradebook" not in term["regrade"].stderr
    course = term["course"]
    for run in ("first", "stale", "regrade"):
        log = term[run].stderr
        assert f"[{A}/tamper] locked cell `test_forward_difference` was edited" in log, run
        for student in ("honest", "other"):
            assert f"[{A}/{student}] locked cell" not in log, (run, student)
    for student in ("honest", "other"):
        nb = read(course / "autograded" / student / A / f"{A}.ipynb")
        assert not nb.cells[0].source.startswith("**Autograder report"), student
    assert read(course / "autograded" / "tamper" / A / f"{A}.ipynb").cells[0].source.startswith("**Autograder report")
    assert regraded["tamper"]["test_forward_difference"] == 2.0  # the restored test ran, on a right answer


def test_logs_name_the_student_and_the_cell_of_a_timeout_and_of_the_notebook_limit(term, tmp_path):
    course = term["course"]
    hang = "import time\nwhile True:\n    time.sleep(0.05)\n"
    folder = course / "submitted" / "slow" / A
    folder.mkdir(parents=True)
    nb = read(course / "release" / A / f"{A}.ipynb")
    for cell in nb.cells:
        if grade_id(cell) in ("forward_difference", "central_difference", "step_errors_answer", "two_point"):
            cell.source = hang
    nbformat.write(nb, str(folder / f"{A}.ipynb"))
    done = nbgrader(course, "autograde", A, "--student=slow", "--Execute.timeout=3",
                    "--ResilientExecute.notebook_timeout=12", ADCOURSE_EXCHANGE=str(term["exchange"]))
    log = done.stderr
    assert f"[{A}/slow] forward_difference: timed out after 3 s, interrupted; the notebook goes on" in log, log[-3000:]
    assert "Timeout waiting for execute reply" not in log
    notebook_limit = re.search(rf"\[{A}/slow\] the notebook used up its 12 s: (\d+) cells not run \(([^)]*)\)", log)
    assert notebook_limit, log[-3000:]
    assert "test_zeroth_order" in notebook_limit.group(2)


def test_a_source_notebook_runs_its_hidden_tests_from_another_folder(tmp_path):
    """The page's way: PYTHONPATH set to the absolute path of exercises/autograder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = _run([str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                 f"--output-dir={elsewhere}", str(EXERCISES / "source" / A / f"{A}.ipynb")],
                elsewhere, PYTHONPATH=str(EXERCISES / "autograder"))
    assert done.returncode == 0, done.stderr[-3000:]
    nb = read(elsewhere / f"{A}.ipynb")
    tests = [c for c in nb.cells if (grade_id(c) or "").startswith("test_")]
    assert tests and all("hidden." in c.source for c in tests)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_nbgrader_without_the_environment_finds_its_alembic(tmp_path):
    course = copy_course(tmp_path / "course")
    bare = {"PATH": "/usr/bin:/bin"}  # the environment's bin/ is not on PATH
    done = subprocess.run([str(BIN / "nbgrader"), "db", "student", "add", "s01"], cwd=course,
                          env=dict(environment(), **bare), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    with sqlite3.connect(course / "gradebook.db") as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
        assert "alembic_version" in tables and "student" in tables
        # a gradebook that an earlier run left without its alembic_version table is repaired
        db.execute("drop table alembic_version")
    done = subprocess.run([str(BIN / "nbgrader"), "db", "student", "list"], cwd=course,
                          env=dict(environment(), **bare), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "s01" in done.stdout and "had no alembic_version table" in done.stderr
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("select count(*) from alembic_version").fetchone()[0] == 1


def test_without_alembic_anywhere_nbgrader_stops_before_the_gradebook(tmp_path):
    sys.path.insert(0, str(EXERCISES / "autograder"))
    from adgrader.plugins import hooks
    saved_path, saved_executable = os.environ.get("PATH", ""), sys.executable
    try:
        os.environ["PATH"] = str(tmp_path)
        sys.executable = str(tmp_path / "python")
        with pytest.raises(SystemExit, match="needs the program `alembic`"):
            hooks.use_alembic_beside_python(str(tmp_path / "gradebook.db"))
    finally:
        os.environ["PATH"], sys.executable = saved_path, saved_executable
    assert not (tmp_path / "gradebook.db").exists()
