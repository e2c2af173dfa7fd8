"""Hooks: before any command touches the gradebook, make sure nbgrader finds its ``alembic``;
before ``nbgrader autograde`` writes anything, back up the gradebook and report what nbgrader
cannot grade as it is (once per run); after ``nbgrader generate_assignment``, record the
released versions of the locked cells (``releases.py``)."""

import datetime
import fnmatch
import glob
import json
import logging
import os
import shutil
import sqlite3
import sys

import nbformat
from nbgrader.api import Gradebook
from traitlets.config import Application

from . import releases

from ..sandbox import announce as announce_sandbox


def _converter():
    """The nbgrader converter (``Autograde``, ``GenerateAssignment``) running the calling hook.

    nbgrader calls hooks with the assignment, the student and the notebooks, but not with
    itself, and under Formgrader ``Application.instance()`` is the Jupyter server, which has no
    course directory. The converter is the ``self`` of ``run_pre_convert_hook`` or
    ``run_post_convert_hook`` up the stack; outside a converter it is the running application."""
    frame = sys._getframe(1)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if frame.f_code.co_name in ("run_pre_convert_hook", "run_post_convert_hook") and candidate is not None:
            return candidate
        frame = frame.f_back
    return Application.instance()


def use_alembic_beside_python(db_path):
    """nbgrader creates a gradebook by running ``alembic`` from PATH: put the one beside the
    Python that runs nbgrader first (so the environment need not be activated), or stop before
    the gradebook is touched. A gradebook left without its ``alembic_version`` table by such a
    failed run is given it."""
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    if shutil.which("alembic") is None:
        raise SystemExit(f"nbgrader needs the program `alembic`, which is neither beside {sys.executable} "
                         "nor on PATH: install nbgrader into this environment (make "
                         ".venv/.installed-grade) or activate the environment that has it. "
                         "Nothing was changed.")
    if not os.path.exists(db_path):
        return
    with sqlite3.connect(db_path) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
        if tables and "alembic_version" not in tables:
            from nbgrader.api import get_alembic_version
            db.execute("create table alembic_version (version_num varchar(32) not null)")
            db.execute("insert into alembic_version (version_num) values (?)", (get_alembic_version(),))
            print(f"[adgrader] {db_path} had no alembic_version table (an earlier run did not find "
                  "alembic): added", file=sys.stderr)


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


class QuietNbgrader(logging.Filter):
    """Drops nbgrader's lines that say nothing an instructor could act on."""

    NOISE = (
        # OverwriteCells: a released test cell carries the checksum of the cell without its
        # hidden tests, the gradebook the one with them, so every honest submission "changed";
        # edited code is reported by ReportTampering instead.
        "Attribute 'checksum' for cell ",
        # nbconvert's HTML exporter hands its display settings to every preprocessor of the
        # feedback pipeline, nbgrader's and the course's, which have no use for them.
        "Config option `display_data_priority` not recognized by ",
    )

    def filter(self, record):
        return not record.getMessage().startswith(self.NOISE)


def quiet_nbgrader(apps=("NbGraderApp", "GenerateAssignmentApp", "AutogradeApp", "GenerateFeedbackApp",
                         "ValidateApp", "traitlets")):
    for name in apps:
        logging.getLogger(name).addFilter(QuietNbgrader())


def before_autograde(assignment, student, notebooks, **_):
    """``Autograde.pre_convert_hook``: on the first call of a run, back up the gradebook,
    then report every submission of the assignment that nbgrader cannot grade."""
    app = _converter()
    if getattr(app, "_adgrader_prepared", False):  # once per run: the hook comes per submission
        return
    app._adgrader_prepared = True
    announce_sandbox(app)  # or stop, before anything is written, if kernels would run unsandboxed
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
        for line in stale_gradebook(app, name) + scan_submissions(root, name, notebooks_expected):
            app.log.warning("[adgrader] %s", line)


def stale_gradebook(app, assignment):
    """Locked cells whose source notebook differs from the gradebook's copy: nbgrader grades
    with the gradebook's, so a test fixed only in ``source/`` would not count."""
    lines = []
    folder = app.coursedir.format_path(app.coursedir.source_directory, ".", assignment)
    with Gradebook(app.coursedir.db_url) as gb:
        for notebook in gb.find_assignment(assignment).notebooks:
            path = os.path.join(folder, f"{notebook.name}.ipynb")
            if not os.path.exists(path):
                continue
            source = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source
                      for cell in nbformat.read(path, as_version=4).cells}
            changed = sorted(cell.name for cell in notebook.source_cells
                             if cell.locked and cell.name in source and source[cell.name] != cell.source)
            if changed:
                lines.append(f"{assignment}: source/{assignment}/{notebook.name}.ipynb differs from the gradebook "
                             f"in {', '.join(changed)}; nbgrader grades with the gradebook's version: run "
                             f"`nbgrader generate_assignment {assignment} --force` first to grade with the source's")
    return lines


def after_release(assignment, student, notebooks, **_):
    """``GenerateAssignment.post_convert_hook``: record the released notebooks' locked cells."""
    app = _converter()
    for source in notebooks:
        assignment_id = os.path.basename(os.path.dirname(os.path.abspath(source)))
        folder = app.coursedir.format_path(app.coursedir.release_directory, ".", assignment_id)
        released = os.path.join(folder, os.path.basename(source))
        try:
            releases.record(app.coursedir.root, assignment_id, released)
        except Exception as error:  # noqa: BLE001 - nbgrader would only log it at INFO
            app.log.warning("[adgrader] could not record the release of %s (%s): students who hold "
                            "an older release will be reported as having edited its locked cells",
                            released, error)


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
        extras = [name for name in os.listdir(folder)  # nbgrader's own files are no news
                  if not name.endswith(".ipynb") and name not in ("timestamp.txt", "submission_secret.txt")]
        if extras:
            lines.append(f"{assignment}/{student}: extra files ignored by the grading kernel: "
                         f"{', '.join(sorted(extras))}")
    return lines
