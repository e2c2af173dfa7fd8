"""The grading kernels' sandbox (exercises/autograder/adgrader/sandbox.py), on its own.

One `nbgrader autograde` run grades a class in which every student but one attacks the machine
from inside the kernel: reading a source notebook, the gradebook and a file in the instructor's
home; writing and deleting in the course directory; TCP and UDP to a listener of this test;
a fork bomb; filling the disk. The static policy is switched off for the run
(`StudentCodePolicy.enabled=False`, a setting for these tests) so that the sandbox alone stands
in the way. Each attack must fail inside the kernel, each student gets the score their answers
earn, and nothing outside the kernel's scratch folder changes: not the course directory (by
checksum), not the instructor's home, not /tmp's owner and mode.

Also: where bubblewrap cannot run, autograde stops with a clear message, and grades unsandboxed
only when the config allows it; and the static policy never imports a module a student names.
"""
import hashlib
import json
import os
import pwd
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from grading_course import EXERCISES, copy_course, nbgrader, read, solutions, submission, submit
from nbformat.v4 import new_code_cell

from adcourse import answer_cells

sys.path.insert(0, str(EXERCISES / "autograder"))
from adgrader.sandbox import Sandbox  # noqa: E402

A = "a2_forward_mode"
BWRAP_WHY = Sandbox().check()
needs_bwrap = pytest.mark.skipif(BWRAP_WHY is not None, reason=f"the sandbox cannot run here: {BWRAP_WHY}")
SECRET = "instructor's private note"

# Each attack ends by printing ATTACK <outcome>: "blocked: <error>" where the sandbox stopped it.
ATTACKS = {
    "read_source": "open({source!r}).read()",
    "read_gradebook": "open({gradebook!r}, 'rb').read()",
    "read_home": "open({home_file!r}).read()",
    "write_course": "open({course!r} + '/planted.txt', 'w').write('x')",
    "delete_source": "import os; os.remove({source!r})",
    "tcp": "import socket; socket.create_connection(('127.0.0.1', {tcp_port}), timeout=3).sendall(b'hi')",
    "udp": ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.sendto(b'hi', ('127.0.0.1', {udp_port})); s.settimeout(3); s.recv(10)"),
    "fill_disk": ("import os\nchunk = b'x' * (1 << 20)\n"
                  "for i in range(10_000):\n"
                  "    with open(f'fill-{{i}}', 'wb') as f:\n"
                  "        for _ in range(8):\n"
                  "            f.write(chunk)"),
    "fill_big_file": "with open('big', 'wb') as f:\n    f.write(b'x' * (100 << 20))",
    "fork_bomb": ("import os\nwhile True:\n"
                  "    try:\n        os.fork()\n"
                  "    except OSError:\n        pass"),
}


def _attack_cell(code):
    body = "\n".join("    " + line for line in code.splitlines())
    return new_code_cell(
        f"try:\n{body}\n    ATTACK = 'succeeded'\n"
        f"except BaseException as error:\n    ATTACK = f'blocked: {{type(error).__name__}}: {{error}}'\n"
        f"print('ATTACK', ATTACK)")


def _checksums(folder, skip=("autograded", "gradebook.db", "gradebook.db.backups", "feedback")):
    sums = {}
    for path in sorted(Path(folder).rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] in skip or "__pycache__" in relative.parts:
            continue
        sums[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return sums


class _Listeners:
    """A TCP and a UDP socket on 127.0.0.1 that record whatever reaches them."""

    def __init__(self):
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.heard = []
        self.tcp.settimeout(0.5)
        self.udp.settimeout(0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self):
        while not self._stop.is_set():
            try:
                connection, _ = self.tcp.accept()
                self.heard.append(("tcp", connection.recv(10)))
                connection.close()
            except OSError:
                pass
            try:
                self.heard.append(("udp", self.udp.recv(10)))
            except OSError:
                pass

    def close(self):
        self._stop.set()
        self._thread.join()
        self.tcp.close()
        self.udp.close()


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    base = tmp_path_factory.mktemp("sandbox")
    course = copy_course(base / "course")
    home = base / "home"
    home.mkdir()
    (home / "notes.txt").write_text(SECRET)
    done = nbgrader(course, "generate_assignment", A)
    assert done.returncode == 0, done.stderr
    listeners = _Listeners()
    where = {"source": str(course / "source" / A / f"{A}.ipynb"), "gradebook": str(course / "gradebook.db"),
             "home_file": str(home / "notes.txt"), "course": str(course),
             "tcp_port": listeners.tcp.getsockname()[1], "udp_port": listeners.udp.getsockname()[1]}
    sol = solutions(course, A)
    submit(course, A, "honest", submission(course, A, sol))
    for name, code in ATTACKS.items():
        nb = submission(course, A, sol)
        nb.cells.append(_attack_cell(code.format(**where)))  # after the tests: they all ran first
        submit(course, A, name, nb)
    # A blank release that reads the solutions from the source notebook and runs them.
    nb = submission(course, A, {})
    nb.cells.insert(3, new_code_cell(
        "import json\n"
        f"for cell in json.load(open({where['source']!r}))['cells']:\n"
        "    if cell['metadata'].get('nbgrader', {}).get('solution') and cell['cell_type'] == 'code':\n"
        "        exec(''.join(cell['source']))\n"))
    submit(course, A, "copy_solutions", nb)

    tmp_before = os.stat("/tmp")
    course_before = _checksums(course)
    try:
        run = nbgrader(course, "autograde", A, "--StudentCodePolicy.enabled=False", "--Execute.timeout=6",
                       "--ResilientExecute.notebook_timeout=40", HOME=str(home))
    finally:
        listeners.close()
    tmp_after = os.stat("/tmp")
    left_running = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(course).encode() in (entry / "cmdline").read_bytes():
                left_running.append(entry.name)
        except OSError:
            pass
    return {"left_running": left_running, "course": course, "home": home, "run": run, "heard": listeners.heard,
            "tmp": (tmp_before, tmp_after), "checksums": (course_before, _checksums(course))}


def _outcome(course, student):
    """The attack cell's last line `ATTACK ...`, or the error the grader put there when the
    kernel had to be replaced (a fork bomb may leave it unable to answer the interrupt)."""
    nb = read(course / "autograded" / student / A / f"{A}.ipynb")
    outputs = nb.cells[-1].get("outputs", [])
    lines = [line for o in outputs for line in o.get("text", "").splitlines() if line.startswith("ATTACK ")]
    if lines:
        return lines[-1]
    errors = [o.get("evalue", "") for o in outputs if o.get("output_type") == "error"]
    return f"REPLACED {errors[-1]}" if errors else None


def _scores(course):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.find_assignment(A).submissions}


@needs_bwrap
def test_every_attack_fails_inside_the_kernel(attacked):
    assert attacked["run"].returncode == 0, attacked["run"].stderr[-3000:]
    for name in ATTACKS:
        outcome = _outcome(attacked["course"], name)
        if name == "fork_bomb" and outcome and outcome.startswith("REPLACED "):
            assert "while running this cell" in outcome
            continue
        assert outcome and outcome.startswith("ATTACK blocked: "), (name, outcome)
    # Whatever a kernel started (the fork bomb's children) went with its PID namespace.
    assert attacked["left_running"] == []


@needs_bwrap
def test_every_student_of_the_run_gets_the_score_their_answers_earn(attacked):
    scores = _scores(attacked["course"])
    expected = dict.fromkeys(["honest", *ATTACKS], 8.0)
    expected["copy_solutions"] = 0.0  # the source notebook is not there to copy from
    assert scores == expected, attacked["run"].stderr[-3000:]


@needs_bwrap
def test_nothing_outside_the_scratch_folder_changed(attacked):
    before, after = attacked["checksums"]
    assert after == before  # sources, release, submissions, config, checks: byte for byte
    assert not (attacked["course"] / "planted.txt").exists()
    assert (attacked["home"] / "notes.txt").read_text() == SECRET
    tmp_before, tmp_after = attacked["tmp"]
    assert (tmp_after.st_uid, tmp_after.st_gid, stat.S_IMODE(tmp_after.st_mode)) == \
        (tmp_before.st_uid, tmp_before.st_gid, stat.S_IMODE(tmp_before.st_mode))
    assert attacked["heard"] == []  # neither TCP nor UDP reached the machine's loopback


@needs_bwrap
def test_the_log_says_kernels_run_sandboxed(attacked):
    assert "[adgrader] kernels run in the bubblewrap sandbox" in attacked["run"].stderr


@needs_bwrap
def test_without_bubblewrap_autograde_stops_unless_the_config_allows_it(tmp_path):
    course = copy_course(tmp_path / "course")
    assert nbgrader(course, "generate_assignment", A).returncode == 0
    submit(course, A, "honest", submission(course, A, solutions(course, A)))
    missing = "--Sandbox.bwrap=" + str(tmp_path / "no-bwrap")
    stopped = nbgrader(course, "autograde", A, missing)
    assert stopped.returncode != 0
    assert "autograde stopped: students' code would run unsandboxed, because bubblewrap" in stopped.stderr
    assert "c.Sandbox.allow_unsandboxed = True" in stopped.stderr
    assert not (course / "autograded").exists()
    allowed = nbgrader(course, "autograde", A, missing, "--Sandbox.allow_unsandboxed=True")
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert "kernels run WITHOUT the sandbox" in allowed.stderr
    assert _scores(course) == {"honest": 8.0}


@needs_bwrap
def test_the_sandboxed_process_has_no_privilege_no_secret_and_a_small_view(tmp_path, monkeypatch):
    monkeypatch.setenv("ADGRADER_DIR", str(EXERCISES / "autograder"))
    monkeypatch.setenv("INSTRUCTORS_TOKEN", "not for students")
    probe = tmp_path / "connection.json"
    probe.write_text("{}")
    probe.chmod(0o644)
    code = ("import json, os; status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines()); "
            "print(json.dumps({'status': status, 'env': dict(os.environ), 'root': sorted(os.listdir('/')), "
            "'cwd': os.getcwd(), 'pids': sorted(p for p in os.listdir('/proc') if p.isdigit())}))")
    done = subprocess.run(Sandbox().command([sys.executable, "-c", code, str(probe)], str(probe)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    status = {key: value.strip() for key, value in seen["status"].items()}
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, (cap, status[cap])
    assert status["NoNewPrivs"] == "1"
    if os.geteuid() == 0:
        assert status["Uid"].split() == [str(pwd.getpwnam("nobody").pw_uid)] * 4
    assert "INSTRUCTORS_TOKEN" not in seen["env"] and seen["env"]["HOME"] == "/scratch" == seen["cwd"]
    shown = {Path(p).parts[1] for p in Sandbox().shown_paths()}
    assert set(seen["root"]) <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc",
                                 "run", "scratch"} | shown, seen["root"]
    assert "tmp" not in seen["root"] and "home" not in seen["root"]
    assert len(seen["pids"]) <= 3  # its own PID namespace: bubblewrap's init, itself


# -- the static policy imports nothing a student names -------------------------------------

MARKER_MODULE = '''
import pathlib
pathlib.Path(__file__).with_name("imported.txt").write_text("the module ran")
value = 1
'''

SHAPES = {
    "import": ["import zz_student"],
    "import as": ["import zz_student as np2"],
    "from-import": ["from zz_student import value"],
    "from a package path": ["from zz_student.value import x"],
    "bound in another cell": ["import zz_student", "y = zz_student.value"],
    "bound as in another cell": ["import zz_student as helper", "y = helper.value + 1"],
    "from-imported in another cell": ["from zz_student import value", "y = value"],
    "attribute of an allowed module": ["import numpy", "y = numpy.zz_student.value"],
    "from an allowed module": ["from numpy import zz_student"],
    "submodule of an allowed module": ["import numpy.zz_student"],
    "bound by the grader, not by an import it allows": ["y = zz.value"],
}
# What the grader passes as the notebook's bindings, where a cell does not bind it itself.
BOUND = {"bound by the grader, not by an import it allows": {"zz": "zz_student"}}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_policy_judges_a_named_module_without_importing_it(shape, tmp_path, monkeypatch):
    (tmp_path / "zz_student.py").write_text(MARKER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    cells = SHAPES[shape]
    bound = dict(BOUND.get(shape, {}))
    for cell in cells:
        bound.update(answer_cells.import_bindings(cell))
    violations = [v for cell in cells for v in answer_cells.check_cell(cell, None, bound)]
    assert not (tmp_path / "imported.txt").exists(), shape
    assert "zz_student" not in sys.modules
    if "allowed module" not in shape:
        assert violations, shape  # refused, by its name
    # (numpy.zz_student passes the policy: numpy has no such attribute or submodule, and the
    # kernel, not nbgrader, is where the name then fails.)


def test_kernels_preload_only_what_the_instructor_s_cells_import_and_a_student_may_import():
    """The modules a kernel imports while it boots (ADGRADER_PRELOAD) come from the notebook's
    locked cells, and only those any answer cell may import, or adcourse: a cell a student adds
    with "locked" metadata cannot get a refused module imported before the policy reads it."""
    from adgrader.plugins.execute import locked_imports
    nb = read(EXERCISES / "source" / "a1_finite_differences" / "a1_finite_differences.ipynb")
    assert locked_imports(nb)[:3] == ["numpy", "matplotlib.pyplot", "adcourse.zeroth_order"]
    forged = new_code_cell("import os\nimport subprocess, numpy.testing\nfrom ctypes import CDLL\nimport adcourse.numpy\n",
                           metadata={"nbgrader": {"locked": True, "grade": False, "solution": False,
                                                  "grade_id": "setup2", "schema_version": 3}})
    test = new_code_cell("import math", metadata={"nbgrader": {"locked": True, "grade": True, "points": 1,
                                                                  "solution": False, "grade_id": "t"}})
    nb.cells = [forged, test]
    assert locked_imports(nb) == ["numpy.testing", "adcourse.numpy"]
