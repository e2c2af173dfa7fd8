"""Hooks of ``nbgrader autograde``: back up the gradebook and report unreadable or missing
notebooks, once per run, before nbgrader writes anything."""

import datetime
import fnmatch
import glob
import json
import os
import sqlite3

from nbgrader.api import Gradebook

from ..sandbox import announce as announce_sandbox


_ran_once = set()


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
