"""Sphinx extension: links to the graded assignments and downloads of their student versions.

An assignment is a folder ``exercises/source/<id>/`` holding ``<id>.ipynb`` (the nbgrader
source, with solutions and hidden tests). Before Sphinx runs, book/build.py calls
:func:`make_student_versions`, which runs the real ``nbgrader generate_assignment`` on a
copy of the course directory under the build folder (never in ``exercises/`` itself) and
keeps each release as ``<build>/assignments/student/<id>.ipynb``: no solutions, no hidden
tests. Two roles use them:

``{assignment}`a2_forward_mode```
    for the end of a chapter: a link to the assignment's section on the students' page
    (the section carries the label ``(assignment-a2_forward_mode)=``, and its title becomes
    the link's text) and a download link to the student version.

``{assignment-download}`a2_forward_mode```
    only the download link, the file's name (the students' page, inside the assignment's
    own section).

An id that is not a folder of exercises/source, and an assignment whose section is missing
from the students' page, are reported as warnings (so ``-W`` fails the build) that say what
to write.

Configuration (``sphinx: config:``):

``assignments_source``
    the nbgrader ``source`` folder, relative to the language's source folder
    (default ``../../exercises/source``).
``assignments_student_dir``
    where the student versions are; book/build.py sets it to ``<build>/assignments/student``.
``assignments_page``
    the docname of the students' page (default ``students``).
"""
import filecmp
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole

logger = logging.getLogger(__name__)

LABEL = "assignment-{}"
DOWNLOAD_TEXT = {"en": "student version: ", "ru": "студенческая версия: "}


def assignment_ids(source):
    """The assignments of an nbgrader source folder: every folder with a notebook of its name."""
    source = Path(source)
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if (p / f"{p.name}.ipynb").is_file())


def make_student_versions(exercises, build_dir, nbgrader=None):
    """Release every assignment of `exercises` with nbgrader into `build_dir`/student/<id>.ipynb.

    `exercises` is the nbgrader course directory (nbgrader_config.py, source/, autograder/).
    It is copied to `build_dir`/course (made anew each time) and `nbgrader generate_assignment`
    runs there, once for all assignments; it is skipped when nothing nbgrader reads changed
    since the last run (a hash in `build_dir`/inputs.sha256). A student version is written only
    when its content changed, so that Sphinx does not re-read the pages that link to it.
    Returns the ids.
    """
    exercises, build_dir = Path(exercises), Path(build_dir)
    ids = assignment_ids(exercises / "source")
    if not ids:
        raise RuntimeError(f"no assignment in {exercises / 'source'} (a folder <id>/ with <id>.ipynb)")
    student = build_dir / "student"
    stamp = build_dir / "inputs.sha256"
    inputs = _fingerprint(exercises)
    if (stamp.is_file() and stamp.read_text() == inputs
            and all((student / f"{name}.ipynb").is_file() for name in ids)):
        return ids  # nothing changed since the last release: nbgrader need not run
    course = build_dir / "course"
    shutil.rmtree(course, ignore_errors=True)
    course.mkdir(parents=True)
    shutil.copy2(exercises / "nbgrader_config.py", course)
    for folder in ("source", "autograder"):
        shutil.copytree(exercises / folder, course / folder,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    nbgrader = nbgrader or str(Path(sys.executable).parent / "nbgrader")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs alembic
    env.pop("PYTHONPATH", None)
    done = subprocess.run([nbgrader, "generate_assignment", "*", "--force"], cwd=course, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"nbgrader generate_assignment failed (exit {done.returncode}) in {course}:\n"
                           f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    student.mkdir(parents=True, exist_ok=True)
    for stale in student.glob("*.ipynb"):
        if stale.stem not in ids:
            stale.unlink()
    for name in ids:
        release = course / "release" / name / f"{name}.ipynb"
        if not release.is_file():
            raise RuntimeError(f"nbgrader made no {release.relative_to(course)}; its log:\n{done.stderr[-3000:]}")
        target = student / f"{name}.ipynb"
        if not (target.exists() and filecmp.cmp(release, target, shallow=False)):
            shutil.copyfile(release, target)
    stamp.write_text(inputs)
    return ids


def _fingerprint(exercises):
    """A hash of everything nbgrader reads to make the releases (config, sources, checks)."""
    digest = hashlib.sha256()
    files = [exercises / "nbgrader_config.py"]
    for folder in ("source", "autograder"):
        files += sorted(p for p in (exercises / folder).rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(exercises)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _known(env):
    source = Path(env.srcdir, env.config.assignments_source).resolve()
    return source, assignment_ids(source)


def _student_version(env, name):
    folder = env.config.assignments_student_dir
    return Path(folder, f"{name}.ipynb") if folder else None


class _AssignmentRole(SphinxRole):
    """Shared by both roles: checks the id and makes the download link."""

    with_section_link = True

    def run(self):
        name = self.text.strip()
        source, known = _known(self.env)
        if name not in known:
            return self._fail(
                f"unknown assignment {name!r}: {source} has "
                f"{', '.join(known) if known else 'no assignment'} "
                f"(an assignment is a folder <id>/ of exercises/source with <id>.ipynb)")
        path = _student_version(self.env, name)
        if path is None or not path.is_file():
            return self._fail(
                f"no student version of {name!r} at {path}: build the book with book/build.py, "
                "which makes them with nbgrader generate_assignment")
        language = self.config.language if self.config.language in DOWNLOAD_TEXT else "en"
        filename = f"{name}.ipynb"
        docdir = Path(self.env.doc2path(self.env.docname)).parent
        label = [nodes.Text(DOWNLOAD_TEXT[language])] if self.with_section_link else []
        download = addnodes.download_reference(
            "", "", *label, nodes.literal(filename, filename),
            reftarget=os.path.relpath(path, docdir), refdoc=self.env.docname,
            refdomain="", reftype="download", refexplicit=True, refwarn=False,
            classes=["assignment-download"],
        )
        self.set_source_info(download)
        if not self.with_section_link:
            return [download], []
        label = LABEL.format(name).lower()
        xref = addnodes.pending_xref(
            "", nodes.inline(name, name), refdomain="std", reftype="ref", reftarget=label,
            refexplicit=False, refwarn=True, refdoc=self.env.docname,
        )
        self.set_source_info(xref)
        box = nodes.inline("", "", classes=["assignment-link"])
        box += [xref, nodes.Text(" ("), download, nodes.Text(")")]
        return [box], []

    def _fail(self, message):
        logger.warning(message, location=self.get_location(), type="assignments", subtype="unknown")
        return [nodes.problematic(self.rawtext, self.rawtext)], []


class AssignmentRole(_AssignmentRole):
    with_section_link = True


class AssignmentDownloadRole(_AssignmentRole):
    with_section_link = False


def _check_sections(app, env):
    """Every assignment has its labelled section on the students' page."""
    page = app.config.assignments_page
    if page not in env.found_docs:
        return
    labels = env.get_domain("std").labels
    source, known = _known(env)
    for name in known:
        label = LABEL.format(name).lower()
        if labels.get(label, (None,))[0] != page:
            logger.warning(
                "assignment %s (%s) has no section on the students' page: add `(%s)=` above its "
                "heading in %s, with {assignment-download}`%s` in it",
                name, source / name, LABEL.format(name), env.doc2path(page, base=False), name,
                location=page, type="assignments", subtype="section",
            )


def setup(app):
    app.add_config_value("assignments_source", "../../exercises/source", "env")
    app.add_config_value("assignments_student_dir", "", "env")
    app.add_config_value("assignments_page", "students", "env")
    app.add_role("assignment", AssignmentRole())
    app.add_role("assignment-download", AssignmentDownloadRole())
    app.connect("env-check-consistency", _check_sections)
    return {"version": "1.0", "env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}
