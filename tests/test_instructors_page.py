"""The instructors' page, run as written: every command block of book/en/instructors.md, in the
page's order, on a copy of the course laid out as in the repository (`exercises/` beside
`.venv`), with the exchange's root inside the copy (`ADCOURSE_EXCHANGE`, as the page says).

Instructor blocks run in one shell that keeps the page's `cd`; students' blocks (fetch, submit,
fetch_feedback) run in a student's own home, as the student `s01` of the page's class list, with
the exchange's root in `~/.jupyter/nbgrader_config.py` as the page tells students to set it. A
comment line in a block that asks the reader to do something (solve the notebook, fill in the
spreadsheet, create an assignment) is done by the test at that point. Blocks that start servers or
need an administrator are listed in NOT_RUN with the reason and the test that covers them
instead; a block that is neither run nor listed fails the test, so a new block cannot go untested.

Then the results are compared with what the page says they are: the sample grades.csv, the points
table, the limits, and the feedback with the instructor's comment in the student's hands. The
Russian page must carry the same commands (comments and prose are translated).
"""
import csv
import re
import subprocess
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grading_course import ASSIGNMENTS, BIN, EXERCISES, REPO, copy_course, environment, grade_id, read, solutions

PAGE = {lang: REPO / "book" / lang / "instructors.md" for lang in ("en", "ru")}
A = "a1_finite_differences"
STUDENT = "s01"
WRITTEN_SCORES = ["1,5", "2"]  # as an instructor types them into a spreadsheet, in the cells' order
COMMENT = "Name the two error terms and the step where they balance."

# A block that the test does not run, found by a string in it: why, and what tests it instead.
NOT_RUN = {
    "python3 -m http.server": "serves the site until stopped; test_site_browser.py serves it the same way",
    "sudo mkdir -p /srv/nbgrader/exchange": "an administrator's step in a system folder; the test's "
                                            "exchange root is a folder of its own (ADCOURSE_EXCHANGE)",
    'PYTHONPATH="$PWD/exercises/autograder" jupyter lab': "starts Jupyter until stopped; "
                                            "test_instructor_operations.py runs a source notebook with "
                                            "this PYTHONPATH from another folder",
    "jupyterhub -f deploy/jupyterhub_config.py": "creates Unix accounts and runs the Hub; test_hub.py "
                                                 "runs this configuration",
    "docker build": "no Docker or Kubernetes here; test_hub.py checks the values file",
}
STUDENT_COMMANDS = ("nbgrader fetch_assignment", "nbgrader submit", "nbgrader fetch_feedback")


def fenced_blocks(text):
    """(language, body) of every fenced block of a MyST page, in order."""
    return [(lang, body) for lang, body in re.findall(r"^```(\w*)\n(.*?)^```\s*$", text, re.M | re.S)]


def commands(body):
    """A shell block without its comments: what must be the same in both languages."""
    lines = []
    for line in body.splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).rstrip()
        if line and not line.lstrip().startswith("#"):
            lines.append(line)
    return lines


def _solve(home, course):
    """Step 4's comment: the student solves the fetched notebook (here, with the instructor's solutions)."""
    path = home / A / f"{A}.ipynb"
    nb = read(path)
    answers = solutions(course, A)
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    nbformat.write(nb, str(path))


def _fill_in(course):
    """Step 6's comment: the instructor fills in the score and comment columns of a1.csv."""
    path = course / "a1.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [row["student"] for row in rows] == [STUDENT, STUDENT], rows  # s02 submitted nothing
    answers = solutions(course, A)
    for row, score in zip(rows, WRITTEN_SCORES):
        assert row["score"] == "" and row["answer"] == answers[row["cell"]], row  # the answer as written
        row["score"] = score
    rows[0]["comment"] = COMMENT
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _create_assignment(course):
    """The last section's comment: an assignment of one's own, with a hidden check and a written answer."""
    name = "a10_my_topic"
    locked = {"grade": False, "locked": True, "schema_version": 3, "solution": False, "task": False}
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [
        new_markdown_cell("# A10 · The derivative of a cube", metadata={"nbgrader": dict(locked, grade_id="intro")}),
        new_markdown_cell("", metadata={"nbgrader": dict(locked, grade_id="rules")}),
        new_code_cell("import numpy as np", metadata={"nbgrader": dict(locked, grade_id="setup")}),
        new_code_cell("def cube_derivative(x):\n    ### BEGIN SOLUTION\n    return 3 * x ** 2\n    ### END SOLUTION\n",
                      metadata={"nbgrader": dict(locked, grade_id="answer", locked=False, solution=True)}),
        new_code_cell("assert cube_derivative(2.0) == 12.0\n### BEGIN HIDDEN TESTS\nimport adgrader.a10 as hidden\n"
                      "hidden.cube(cube_derivative)\n### END HIDDEN TESTS\n",
                      metadata={"nbgrader": dict(locked, grade=True, grade_id="test_answer", points=2)}),
        new_markdown_cell("Why is the derivative of $x^3$ even?\n\n=== BEGIN MARK SCHEME ===\nx² is.\n"
                          "=== END MARK SCHEME ===\n",
                          metadata={"nbgrader": dict(locked, grade=True, solution=True, locked=False,
                                                     grade_id="written", points=1)}),
    ]
    (course / "source" / name).mkdir(parents=True)
    nbformat.write(nb, str(course / "source" / name / f"{name}.ipynb"))
    (course / "autograder" / "adgrader" / "a10.py").write_text(
        "import numpy as np\n\n\ndef cube(answer):\n    for x in np.random.default_rng(0).normal(size=5):\n"
        "        assert abs(answer(x) - 3 * x ** 2) < 1e-12, f'at x = {x}: expected {3 * x ** 2}'\n",
        encoding="utf-8")


ACTIONS = {"# solve": "solve", "# fill in": "fill in", "# in Jupyter, create": "create"}


def segments(body):
    """The block cut at its action comments: [(commands, action after them or None)]."""
    parts, current = [], []
    for line in body.splitlines():
        action = next((name for start, name in ACTIONS.items() if line.startswith(start)), None)
        if action:
            parts.append(("\n".join(current), action))
            current = []
        else:
            current.append(line)
    parts.append(("\n".join(current), None))
    return parts


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    repo = root / "repo"
    course = copy_course(repo / "exercises")
    (course.parent / ".venv").symlink_to(REPO / ".venv")
    (course / "students.example.csv").write_bytes((EXERCISES / "students.example.csv").read_bytes())
    exchange = root / "exchange"
    exchange.mkdir()
    home = root / f"home-{STUDENT}"
    (home / ".jupyter").mkdir(parents=True)
    # The page's line for students; the second line stands for the student's own account (nbgrader
    # takes the id from the account, and the test runs as one account for all).
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        f"c.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.student_id = {STUDENT!r}\n")
    instructor = environment(ADCOURSE_EXCHANGE=str(exchange))
    student = environment(HOME=str(home))
    cwd = repo
    ran, skipped, outputs = [], [], []
    for lang, body in fenced_blocks(PAGE["en"].read_text(encoding="utf-8")):
        if lang != "bash":
            continue
        reason = next((why for key, why in NOT_RUN.items() if key in body), None)
        if reason:
            skipped.append(body)
            continue
        as_student = any(c.startswith(STUDENT_COMMANDS) for c in commands(body))
        for code, action in segments(body):
            where = home if as_student else cwd
            started = time.monotonic()
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", f"{code}\npwd > {root / 'cwd'}"],
                                  cwd=where, env=student if as_student else instructor, text=True,
                                  capture_output=True, timeout=900)
            assert done.returncode == 0, (code, done.stdout[-2000:], done.stderr[-4000:])
            outputs.append((code, done.stdout, done.stderr))
            print(f"{time.monotonic() - started:6.1f} s  {' | '.join(commands(code))[:150]}")
            if not as_student:  # the page's `cd` carries over to the next block
                cwd = type(repo)((root / "cwd").read_text().strip())
            if action == "solve":
                _solve(home, course)
            elif action == "fill in":
                _fill_in(course)
            elif action == "create":
                _create_assignment(course)
        ran.append(body)
    return {"course": course, "home": home, "ran": ran, "skipped": skipped, "outputs": outputs}



def test_every_command_block_runs_or_says_why_not(run):
    blocks = [body for lang, body in fenced_blocks(PAGE["en"].read_text(encoding="utf-8")) if lang == "bash"]
    assert len(run["ran"]) + len(run["skipped"]) == len(blocks)
    assert len(run["ran"]) >= 9, run["ran"]
    for key in NOT_RUN:  # each reason still names a block of the page
        assert any(key in body for body in run["skipped"]), key


def test_the_notebooks_pass_validate_and_the_own_assignment_is_released(run):
    validations = [out for code, out, _ in run["outputs"] if "nbgrader validate" in code]
    assert len(validations) == 2 and all("Success! Your notebook passes all the tests." in out
                                         for out in validations), validations
    course = run["course"]
    released = read(course / "release" / "a10_my_topic" / "a10_my_topic.ipynb")
    text = "\n".join(cell.source for cell in released.cells)
    assert "HIDDEN TESTS" not in text and "adgrader" not in text and "3 * x ** 2" not in text
    rules = next(cell for cell in released.cells if grade_id(cell) == "rules")
    assert "How this notebook is graded" in rules.source
    assert grade_id(released.cells[-1]) == "check_answer_cells"


def test_grades_csv_is_the_page_s_sample(run):
    sample = re.search(r"```text\n(assignment,duedate,.*?)```", PAGE["en"].read_text(encoding="utf-8"), re.S)
    expected = list(csv.DictReader(sample.group(1).splitlines()))
    with open(run["course"] / "grades.csv", newline="") as f:
        got = list(csv.DictReader(f))
    assert len(got) == len(expected), got
    for row, page_row in zip(got, expected):
        if page_row["timestamp"]:  # the moment of the submission is the run's own
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?", row["timestamp"]), row
            row["timestamp"] = page_row["timestamp"]
        assert row == page_row


def test_the_student_fetches_feedback_with_the_comment_and_the_written_scores(run):
    pages = list((run["home"] / A / "feedback").glob(f"*/{A}.html"))
    assert len(pages) == 1, pages
    text = pages[0].read_text(encoding="utf-8")
    assert COMMENT in text
    assert "adgrader" not in text and "BEGIN HIDDEN" not in text  # nothing of the hidden checks


def test_a_spreadsheet_with_a_mistake_changes_nothing(run, tmp_path):
    course = run["course"]
    bad = tmp_path / "bad.csv"
    with open(course / "a1.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows[0]["score"], rows[1]["score"] = "0", "7"  # 7 is more than the cell's points
    rows.append(dict(rows[0], student="nobody"))
    with open(bad, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    done = subprocess.run([str(BIN / "python"), "autograder/written_answers.py", "import", A, str(bad)],
                          cwd=course, env=environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "nothing was changed" in done.stderr and "line 3" in done.stderr and "outside 0 to 2" in done.stderr
    assert "line 4 (nobody" in done.stderr
    with open(course / "grades.csv", newline="") as f:
        before = [row for row in csv.DictReader(f) if row["student_id"] == STUDENT]
    assert before[0]["raw_score"] == "14.5"
    export = subprocess.run([str(BIN / "python"), "autograder/written_answers.py", "export", A,
                             str(tmp_path / "again.csv")], cwd=course, env=environment(),
                            capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stderr
    with open(tmp_path / "again.csv", newline="", encoding="utf-8") as f:
        assert [row["score"] for row in csv.DictReader(f)] == ["1.5", "2"]  # the scores kept


def test_the_points_table_is_the_notebooks_points():
    table = dict(re.findall(r"^\| `(a\d+_\w+)` \| (\d+ \| \d+ \| \d+) \|$", PAGE["en"].read_text(encoding="utf-8"), re.M))
    assert sorted(table) == sorted(ASSIGNMENTS)
    for assignment in ASSIGNMENTS:
        nb = read(EXERCISES / "source" / assignment / f"{assignment}.ipynb")
        auto = manual = 0
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                if meta.get("solution"):
                    manual += meta["points"]
                else:
                    auto += meta["points"]
        assert table[assignment] == f"{auto:g} | {manual:g} | {auto + manual:g}", assignment


def test_the_limits_the_page_states_are_the_configuration_s():
    config = (EXERCISES / "nbgrader_config.py").read_text(encoding="utf-8")
    startup = (EXERCISES / "autograder" / "kernel_startup.py").read_text(encoding="utf-8")
    cell = re.search(r"^c\.Execute\.timeout = (\d+)$", config, re.M).group(1)
    notebook = re.search(r"^c\.ResilientExecute\.notebook_timeout = (\d+)$", config, re.M).group(1)
    output = int(re.search(r"^c\.ResilientExecute\.max_output_bytes = ([\d_]+)$", config, re.M).group(1))
    memory = int(re.search(r'"ADGRADER_MEMORY_LIMIT_MB", "(\d+)"', startup).group(1))
    en = " ".join(PAGE["en"].read_text(encoding="utf-8").split())
    assert f"A cell gets {cell} seconds" in en and f"A notebook gets {notebook} seconds" in en
    assert f"has {memory // 1024} GiB of address space" in en and f"at most {output // 10**6} MB of output" in en
    ru = " ".join(PAGE["ru"].read_text(encoding="utf-8").split())
    for number in (cell, notebook, f"{memory // 1024} ГиБ", f"{output // 10**6} МБ"):
        assert number in ru, number


def test_the_late_penalty_setting_is_one_nbgrader_accepts():
    from nbgrader.plugins import LateSubmissionPlugin
    from traitlets.config import Config
    snippets = [body for lang, body in fenced_blocks(PAGE["en"].read_text(encoding="utf-8")) if lang == "python"]
    assert snippets
    for body in snippets:
        c = Config()
        exec(body, {"c": c})
        assert LateSubmissionPlugin(config=c).penalty_method == c.LateSubmissionPlugin.penalty_method


def test_the_russian_page_has_the_same_commands():
    en, ru = (fenced_blocks(PAGE[lang].read_text(encoding="utf-8")) for lang in ("en", "ru"))
    assert [lang for lang, _ in en] == [lang for lang, _ in ru]
    for (lang, a), (_, b) in zip(en, ru):
        if lang == "text":
            assert a == b
        else:
            assert commands(a) == commands(b), (a, b)
