"""Shared by the exercise tests: a temporary copy of the nbgrader course, nbgrader's own
commands run on it, and helpers to build students' submissions from the release."""
import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
EXERCISES = REPO / "exercises"
BIN = Path(sys.executable).parent
ASSIGNMENTS = ("a1_finite_differences", "a2_forward_mode", "a3_reverse_mode", "a4_hvp_hutchinson",
               "a5_checkpointing", "a6_mds_gradient", "a7_choosing_a_mode", "a8_beyond_the_chain_rule",
               "a9_mock_exam")
MATHJAX = REPO / "node_modules" / "mathjax" / "es5" / "tex-svg.js"


def copy_course(target):
    """The course as an instructor has it before the first command: config, sources, autograder."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXERCISES / "nbgrader_config.py", target)
    for folder in ("source", "autograder"):
        shutil.copytree(EXERCISES / folder, target / folder,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return target


def environment(**extra):
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs `alembic` from PATH
    env["JAX_PLATFORMS"] = "cpu"
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def nbgrader(course, *args, timeout=900, **env):
    """Run `nbgrader ARGS` in the course folder, as an instructor would."""
    return subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=environment(**env),
                          capture_output=True, text=True, timeout=timeout)


def read(path):
    return nbformat.read(str(path), as_version=4)


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solutions(course, assignment):
    """{grade_id: source} of the solution cells of the source notebook."""
    nb = read(Path(course) / "source" / assignment / f"{assignment}.ipynb")
    return {grade_id(c): c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


def submission(course, assignment, answers):
    """The release with the given solution cells filled in ({grade_id: source})."""
    nb = read(Path(course) / "release" / assignment / f"{assignment}.ipynb")
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb


def submit(course, assignment, student, nb=None, raw=None, name=None):
    """Put a notebook (or raw bytes) where `nbgrader collect` would: submitted/STUDENT/ASSIGNMENT/."""
    folder = Path(course) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{assignment}.ipynb")
    if raw is not None:
        path.write_bytes(raw)
    else:
        nbformat.write(nb, str(path))
    return path


def replaced(source, old, new):
    """source with one piece replaced; fails loudly if the piece is not there."""
    assert old in source, f"{old!r} not found"
    return source.replace(old, new)


def deep(nb):
    return copy.deepcopy(nb)
