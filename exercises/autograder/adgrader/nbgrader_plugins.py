"""The course's additions to nbgrader's own pipelines, wired in by ``nbgrader_config.py``.

Autograde, sanitizing stage (nbgrader process, before any student code runs):
  ``ReportTampering``   before nbgrader's repairs: notes locked cells a student changed,
                        deleted or retyped, and grade ids used twice (nbgrader repairs all
                        of these; this says so to the instructor and in the feedback);
  ``ForgetDuplicateIds`` after ``DeduplicateIds``: works around an nbgrader crash;
  ``StudentCodePolicy`` last: cells that break ``policy.py`` are replaced by a ``raise``
                        (the original kept as comments), and the report goes on top of
                        the notebook.
Autograde, execution stage:
  ``ResilientExecute``  nbgrader's ``Execute`` that survives what a submission can do to
                        its kernel (hang, exit, get killed), caps the notebook's total
                        time and each cell's output, and starts the kernel in an empty
                        folder.
Feedback:
  ``HideHiddenTestLines`` before ``ClearHiddenTests``: removes the hidden tests' lines from
                        the tracebacks that IPython printed around them;
  ``OfflineMathJax``    hands the feedback template a local MathJax to inline.
Hooks:
  ``before_autograde``  backs up the gradebook and reports unreadable or missing
                        notebooks, once per run, before nbgrader writes anything.
"""

import datetime
import fnmatch
import glob
import json
import os
import re
import shutil
import sqlite3
import tempfile
from time import monotonic

from nbclient.exceptions import CellTimeoutError, DeadKernelError

from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from jupyter_core.utils import run_sync
from traitlets import Bool, Integer, List, Unicode

from . import policy
from .sandbox import Sandbox, SandboxedKernelManager, SandboxUnavailable

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
REPORT_MARK = "adgrader-report"


def _where(resources):
    nbg = resources.get("nbgrader", {})
    return f"{nbg.get('assignment', '?')}/{nbg.get('student', '?')}"


def without_hidden_tests(source, begin="BEGIN HIDDEN TESTS", end="END HIDDEN TESTS"):
    """The cell as released: nbgrader's ClearHiddenTests drops the marked region."""
    kept, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def _report(resources):
    return resources.setdefault("adgrader_report", [])


class ReportTampering(NbGraderPreprocessor):
    """Compare the submission's graded and locked cells with the gradebook, before
    nbgrader's ``OverwriteCells`` silently puts them back."""

    def preprocess(self, nb, resources):
        nbg = resources["nbgrader"]
        report = _report(resources)
        seen = {}
        with Gradebook(nbg["db_url"]) as gb:
            try:
                notebook = gb.find_notebook(nbg["notebook"], nbg["assignment"])
            except MissingEntry:
                return nb, resources
            source_cells = {cell.name: cell for cell in notebook.source_cells}
            grade_ids = {cell.name for cell in notebook.grade_cells}
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                grade_id = meta.get("grade_id")
                if not grade_id:
                    continue
                seen[grade_id] = seen.get(grade_id, 0) + 1
                if seen[grade_id] == 2:
                    report.append(f"grade id `{grade_id}` appears more than once: "
                                  "nbgrader keeps the last such cell / "
                                  f"id `{grade_id}` встречается несколько раз")
                original = source_cells.get(grade_id)
                if original is None:
                    report.append(f"a cell claims the unknown grade id `{grade_id}` / "
                                  f"ячейка с неизвестным id `{grade_id}`")
                    continue
                if original.locked and not meta.get("solution"):
                    if cell.cell_type != original.cell_type:
                        report.append(f"locked cell `{grade_id}` was changed from {original.cell_type} "
                                      f"to {cell.cell_type}: restored / тип защищённой ячейки "
                                      f"`{grade_id}` изменён: восстановлен")
                    elif cell.source not in (original.source, without_hidden_tests(original.source)):
                        report.append(f"locked cell `{grade_id}` was edited: restored from the gradebook / "
                                      f"защищённая ячейка `{grade_id}` изменена: восстановлена")
            for grade_id in sorted(grade_ids - set(seen)):
                report.append(f"graded cell `{grade_id}` was deleted: restored / "
                              f"оцениваемая ячейка `{grade_id}` удалена: восстановлена")
        for line in report:
            self.log.warning("[%s] %s", _where(resources), line)
        return nb, resources


def _is_ours(source, original):
    """The cell is the gradebook's locked cell: the same code, or (a deleted cell that
    nbgrader put back) the same code under a comment saying so."""
    if original is None or not source.endswith(original):
        return False
    prefix = source[: len(source) - len(original)]
    return all(not line.strip() or line.lstrip().startswith("#") for line in prefix.splitlines())


class ForgetDuplicateIds(NbGraderPreprocessor):
    """After ``DeduplicateIds``: drop the empty ``nbgrader`` metadata it leaves on the
    duplicates it demotes, on which nbgrader 0.9.6's ``OverwriteCells`` crashes (KeyError
    'grade_id' in ``add_missing_task_cells``) and fails the whole submission."""

    def preprocess_cell(self, cell, resources, index):
        if "nbgrader" in cell.metadata and not cell.metadata["nbgrader"].get("grade_id"):
            del cell.metadata["nbgrader"]
        return cell, resources


class StudentCodePolicy(NbGraderPreprocessor):
    """Keep code that breaks ``policy.py`` from running: each such cell is replaced by a
    ``raise`` that names the rule, with the student's code kept below as comments (the
    instructor can read it when grading by hand; the student sees it in the feedback)."""

    trusted_students = List(Unicode(), help=(
        "Students whose code is run without this check (for instance after the instructor "
        "has read it): their answers are still judged by the tests.")).tag(config=True)
    enabled = Bool(True, help=(
        "Read students' code before running it. Switched off only by the tests that check "
        "what the sandbox alone stops.")).tag(config=True)

    def preprocess(self, nb, resources):
        nbg = resources["nbgrader"]
        report = _report(resources)
        if self.enabled and nbg["student"] not in self.trusted_students:
            trusted = self._trusted_sources(nbg)
            bound = {}
            for cell in nb.cells:
                if cell.cell_type == "code":
                    bound.update(policy.import_bindings(cell.source))
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                meta = cell.metadata.get("nbgrader", {})
                if not meta.get("solution") and _is_ours(cell.source, trusted.get(meta.get("grade_id"))):
                    continue  # a locked cell of ours, as nbgrader restored it
                violations = policy.check_cell(cell.source, nbg["assignment"], bound)
                if violations:
                    where = meta.get("grade_id") or f"cell {index + 1}"
                    line = (f"`{where}` was not run: {violations[0]} (answer cells may use numpy and "
                            f"the modules the notebook lists) / ячейка `{where}` не запускалась: "
                            f"{violations[0]}")
                    report.append(line)
                    self.log.warning("[%s] %s", _where(resources), line)
                    cell.source = self._neutered(cell.source, where, violations)
        if report:
            nb.cells.insert(0, self._report_cell(report))
        return nb, resources

    @staticmethod
    def _trusted_sources(nbg):
        with Gradebook(nbg["db_url"]) as gb:
            try:
                notebook = gb.find_notebook(nbg["notebook"], nbg["assignment"])
            except MissingEntry:
                return {}
            return {cell.name: cell.source for cell in notebook.source_cells if cell.locked}

    @staticmethod
    def _neutered(source, where, violations):
        reasons = "; ".join(str(v) for v in violations[:5])
        message = (f"The autograder did not run cell {where}: {reasons}. "
                   f"Автопроверка не запускала ячейку {where}: {reasons}.")
        kept = "\n".join("# " + line for line in source.splitlines())
        return f"raise RuntimeError({message!r})\n# --- the submitted code / присланный код ---\n{kept}\n"

    @staticmethod
    def _report_cell(report):
        lines = ["**Autograder report / Отчёт автопроверки**", ""]
        lines += [f"- {line}" for line in report]
        cell = new_markdown_cell("\n".join(lines))
        cell.metadata["tags"] = [REPORT_MARK]
        return cell


class ResilientExecute(Execute):
    """nbgrader's ``Execute``, made to finish every submission.

    - A cell that kills the kernel (``os._exit``, a crash, the OOM killer) or leaves it
      unable to answer after the interrupt gets an error output (so its test scores 0),
      and the rest of the notebook runs in a fresh kernel. Plain nbgrader abandons the
      whole submission instead.
    - ``notebook_timeout`` bounds the whole notebook: a cell never gets more than what is
      left, and once it is spent the remaining cells fail without running. A hanging
      submission therefore costs at most that long, however many of its cells hang.
    - Each cell keeps at most ``max_output_bytes`` of output (a print in a loop would
      otherwise fill nbgrader's memory before the timeout).
    - The kernel runs in the course's sandbox (``sandbox.py``: bubblewrap, ipc sockets,
      no network, nothing of the file system but the Python environment and the checks).
      Without it (``Sandbox.enabled = False``, or ``Sandbox.allow_unsandboxed`` where
      bubblewrap cannot run) it starts in an empty temporary folder, so nothing submitted
      beside the notebook is importable or read as configuration.
    """

    notebook_timeout = Integer(120, help="Seconds for the whole notebook.").tag(config=True)
    max_output_bytes = Integer(1_000_000, help="Output kept per cell, in bytes.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = monotonic() + self.notebook_timeout
        self._kernel_dirs = []
        if sandbox_verdict(Sandbox(parent=self)) is None:
            self.kernel_manager_class = SandboxedKernelManager
        try:
            return super().preprocess(nb, resources, km)
        finally:
            for path in self._kernel_dirs:
                shutil.rmtree(path, ignore_errors=True)

    async def async_start_new_kernel(self, **kwargs):
        if self.kernel_manager_class is not SandboxedKernelManager:  # it makes its own folder
            kwargs["cwd"] = tempfile.mkdtemp(prefix="adgrader-kernel-")
            self._kernel_dirs.append(kwargs["cwd"])
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        left = self._deadline - monotonic()
        if timeout is None:
            return max(1, int(left))
        return max(1, int(min(timeout, left)))

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        self._output_bytes = 0
        self._output_dropped = 0
        if monotonic() >= self._deadline:
            cell.outputs = [self._error("NotebookTimeout",
                                        f"not run: the notebook used up its {self.notebook_timeout} s")]
            return cell, self.resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError) as error:
            what = "the kernel died" if isinstance(error, DeadKernelError) else \
                "the kernel did not answer after an interrupt"
            name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
            self.log.warning("[%s] %s: %s; the remaining cells run in a fresh kernel",
                             _where(self.resources), name, what)
            cell.outputs.append(self._error(type(error).__name__, f"{what} while running this cell"))
            self._replace_kernel()
        if self._output_dropped:
            cell.outputs.append(NotebookNode(
                output_type="stream", name="stdout",
                text=f"\n[autograder: {self._output_dropped} more bytes of output dropped]\n"))
        return cell, self.resources

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        if self._output_bytes + size > self.max_output_bytes and msg["msg_type"] != "error":
            self._output_dropped += size
            return None
        self._output_bytes += size
        return super().output(outs, msg, display_id, cell_index)

    def _replace_kernel(self):
        self._cleanup_kernel()
        self.km = self.create_kernel_manager()
        self.start_new_kernel()
        self.start_new_kernel_client()

    @staticmethod
    def _error(ename, evalue):
        return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                            traceback=[f"{ename}: {evalue}"])


class HideHiddenTestLines(NbGraderPreprocessor):
    """Drop from every output the lines of the cell's hidden tests.

    ``ClearHiddenTests`` removes them from the cell's code, but a traceback printed while
    they ran quotes the lines around the failing one. Runs before ``ClearHiddenTests``,
    while the cell still holds the lines to look for.
    """

    begin = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("END HIDDEN TESTS").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or self.begin not in cell.source:
            return cell, resources
        hidden, inside = [], False
        for line in cell.source.splitlines():
            if self.begin in line:
                inside = True
            if inside and line.strip():
                hidden.append(line.strip())
            if self.end in line:
                inside = False
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [self._scrub(frame, hidden) for frame in output["traceback"]]
            elif output.get("output_type") == "stream":
                output["text"] = self._scrub(output["text"], hidden)
        return cell, resources

    @staticmethod
    def _scrub(text, hidden):
        kept = []
        for line in text.split("\n"):
            plain = _ANSI.sub("", line)
            if any(h in plain for h in hidden):
                kept.append("[hidden test line]")
            else:
                kept.append(line)
        return "\n".join(kept)


class OfflineMathJax(NbGraderPreprocessor):
    """Give the feedback template a MathJax to inline (``resources['adgrader_mathjax']``).

    Feedback files travel alone (nbgrader's exchange copies only the .html), so the script
    goes inside the page. With no MathJax found the page still works and shows the TeX.
    """

    mathjax_path = Unicode("", help="MathJax 3 SVG bundle (es5/tex-svg.js); empty: look in "
                           "node_modules next to the course and its parents.").tag(config=True)

    def preprocess(self, nb, resources):
        path = self.mathjax_path or _find_mathjax()
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                # A closing script tag inside the bundle would end the inline script early.
                resources["adgrader_mathjax"] = handle.read().replace("</script", "<\\/script")
        else:
            self.log.warning("no local MathJax found: feedback shows formulas as TeX")
        return nb, resources


def _find_mathjax():
    here = os.path.dirname(os.path.abspath(__file__))
    for _ in range(6):
        candidate = os.path.join(here, "node_modules", "mathjax", "es5", "tex-svg.js")
        if os.path.exists(candidate):
            return candidate
        here = os.path.dirname(here)
    return None


# -- hooks -------------------------------------------------------------------------------

_ran_once = set()
_sandbox_verdicts = {}


def sandbox_verdict(sandbox):
    """None if kernels run sandboxed; else why not (checked once per process and setting).

    Raises ``SandboxUnavailable`` where the sandbox is on, bubblewrap cannot run, and the
    config does not allow grading without it.
    """
    if not sandbox.enabled:
        return "the sandbox is switched off (Sandbox.enabled = False)"
    key = (sandbox.bwrap, sandbox.run_as)
    if key not in _sandbox_verdicts:
        _sandbox_verdicts[key] = sandbox.check()
    why = _sandbox_verdicts[key]
    if why is not None and not sandbox.allow_unsandboxed:
        raise SandboxUnavailable(
            f"autograde stopped: students' code would run unsandboxed, because {why}. Install "
            "bubblewrap and allow unprivileged user namespaces (or run nbgrader as root), or, to "
            "grade without the sandbox anyway, set c.Sandbox.allow_unsandboxed = True in "
            "nbgrader_config.py.")
    return why


def backup_gradebook(db_path, keep=20):
    """Copy the gradebook to gradebook.db.backups/gradebook-<time>.db (SQLite's online
    backup, so the copy is consistent), keeping the newest ``keep`` copies."""
    if not os.path.exists(db_path):
        return None
    folder = db_path + ".backups"
    os.makedirs(folder, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    target = os.path.join(folder, f"gradebook-{stamp}.db")
    with sqlite3.connect(db_path) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    for old in sorted(glob.glob(os.path.join(folder, "gradebook-*.db")))[:-keep]:
        os.remove(old)
    return target


class BackupFailed(BaseException):
    """Stops ``nbgrader autograde`` (nbgrader swallows ordinary exceptions from hooks)."""


def before_autograde(assignment, student, notebooks, **_):
    """``Autograde.pre_convert_hook``: on the first call of a run, back up the gradebook,
    then report every submission of the assignment that nbgrader cannot grade."""
    if "autograde" in _ran_once:
        return
    _ran_once.add("autograde")
    from traitlets.config import Application
    app = Application.instance()
    try:
        why = sandbox_verdict(Sandbox(config=app.config))
    except SandboxUnavailable as error:
        app.log.error("[adgrader] %s", error)
        raise
    if why is None:
        app.log.info("[adgrader] kernels run in the bubblewrap sandbox")
    else:
        app.log.warning("[adgrader] kernels run WITHOUT the sandbox: %s", why)
    db_url = app.coursedir.db_url
    root = app.coursedir.root
    if not db_url.startswith("sqlite:///"):
        app.log.warning("gradebook %s is not a SQLite file: back it up yourself", db_url)
        target = None
    else:
        db_path = db_url[len("sqlite:///"):]
        try:
            target = backup_gradebook(db_path)
        except Exception as error:  # noqa: BLE001
            raise BackupFailed(f"could not back up {db_path}: {error}; autograde stopped") from error
    if target:
        app.log.info("[adgrader] gradebook backed up to %s", target)
    with Gradebook(db_url) as gb:
        expected = {}
        for assignment_row in gb.assignments:
            if fnmatch.fnmatch(assignment_row.name, assignment or "*"):
                expected[assignment_row.name] = [f"{nb.name}.ipynb" for nb in assignment_row.notebooks]
    for name, notebooks_expected in sorted(expected.items()):
        for line in scan_submissions(root, name, notebooks_expected):
            app.log.warning("[adgrader] %s", line)


def scan_submissions(root, assignment, release, big_bytes=20_000_000):
    """Problems with the submitted files of one assignment (``release``: the notebook
    names it expects) that nbgrader would meet one by one, or not at all."""
    lines = []
    for folder in sorted(glob.glob(os.path.join(root, "submitted", "*", assignment))):
        student = folder.split(os.sep)[-2]
        present = sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, "*.ipynb")))
        for name in release:
            if name not in present:
                lines.append(f"{assignment}/{student}: {name} is missing: its tasks score 0 "
                             f"(submitted: {', '.join(present) or 'no notebook'})")
        for name in present:
            path = os.path.join(folder, name)
            size = os.path.getsize(path)
            try:
                with open(path, encoding="utf-8") as handle:
                    json.load(handle)
            except (ValueError, UnicodeDecodeError) as error:
                lines.append(f"{assignment}/{student}: {name} is not a readable notebook ({error}); "
                             "nbgrader will report an error for this student and grade the others")
                continue
            if size > big_bytes:
                lines.append(f"{assignment}/{student}: {name} is {size / 1e6:.0f} MB (stored outputs); "
                             "outputs are cleared before grading")
        extras = [name for name in os.listdir(folder)
                  if not name.endswith(".ipynb") and name != "timestamp.txt"]
        if extras:
            lines.append(f"{assignment}/{student}: extra files ignored by the grading kernel: "
                         f"{', '.join(sorted(extras))}")
    return lines
