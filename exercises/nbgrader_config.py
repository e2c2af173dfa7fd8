"""nbgrader configuration of the adcourse exercises.

Run nbgrader's own commands from this folder (see book/en/instructors.md):
    nbgrader generate_assignment a1_finite_differences
    nbgrader autograde a1_finite_differences
    nbgrader generate_feedback a1_finite_differences
    nbgrader export

What this file adds to nbgrader's defaults, and why:
- the hidden checks live in autograder/adgrader (never released); every kernel nbgrader
  starts runs autograder/kernel_startup.py first, which puts them on the path, caps the
  kernel's memory and hides the submission folder from imports;
- autograding reads each student's code before running it (adcourse.answer_cells) and reports
  tampered locked cells; execution survives hangs, crashes and floods of output;
- every autograding kernel runs in a bubblewrap sandbox (adgrader.sandbox): it sees the
  Python environment and the hidden checks read-only, a private scratch folder, no network,
  and none of the course directory; where bubblewrap cannot run, autograde stops unless
  c.Sandbox.allow_unsandboxed says otherwise;
- feedback leaves out the hidden tests (code and traceback lines) and works offline;
- the gradebook (gradebook.db, next to this file) is backed up to
  gradebook.db.backups/ before each autograde run, and nbgrader finds its `alembic` beside
  the Python that runs it;
- every released version of the locked cells is recorded (released_cells.json), so that a
  test fixed mid-term regrades without false tampering reports;
- the exchange's root, and quiet logs: each silenced message says why below.
"""

import os
import sys
import warnings

import nbgrader
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, ClearOutput,
                                    DeduplicateIds, GetGrades, IgnorePattern, LimitOutput,
                                    OverwriteCells, OverwriteKernelspec, SaveAutoGrades)

COURSE = os.path.dirname(os.path.abspath(__file__))
GRADER = os.path.join(COURSE, "autograder")
sys.path.insert(0, GRADER)  # nbgrader's process loads the course's preprocessors from here
os.environ["ADGRADER_DIR"] = GRADER  # and its kernels the hidden checks (kernel_startup.py)

from adgrader.plugins.execute import ResilientExecute  # noqa: E402
from adgrader.plugins.feedback import DescribeFigures, HideHiddenTestLines, OfflineMathJax  # noqa: E402
from adgrader.plugins.hooks import (after_release, before_autograde, quiet_nbgrader,  # noqa: E402
                                    use_alembic_beside_python)
from adgrader.plugins.sanitize import ForgetDuplicateIds, ReportTampering, StudentCodePolicy  # noqa: E402

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = "adcourse"
c.CourseDirectory.root = COURSE
# The gradebook: one SQLite file beside this one, backed up before every autograde run.
GRADEBOOK = os.path.join(COURSE, "gradebook.db")
c.CourseDirectory.db_url = "sqlite:///" + GRADEBOOK
use_alembic_beside_python(GRADEBOOK)  # nbgrader runs `alembic`; this finds it or stops here

# nbgrader's exchange (release_assignment, collect, release_feedback; students' fetch and
# submit with --course adcourse): a folder every account of the class can write to.
c.Exchange.root = os.environ.get("ADCOURSE_EXCHANGE", "/srv/nbgrader/exchange")

# What a released solution cell holds.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE / ВАШ КОД ЗДЕСЬ\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE / ВАШ ОТВЕТ ЗДЕСЬ"

# Every kernel (validate, autograde): the course's start-up file, then the notebook.
c.Execute.extra_arguments = ["--IPKernelApp.exec_files=" + os.path.join(GRADER, "kernel_startup.py")]
# A cell gets at most `timeout` seconds (then an interrupt, then a fresh kernel if the
# interrupt is ignored); a whole notebook at most `notebook_timeout`.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True
c.Execute.shutdown_kernel = "immediate"  # a graded kernel holds nothing to save: no polite wait
c.ResilientExecute.notebook_timeout = 90
c.ResilientExecute.max_output_bytes = 1_000_000
# The next submission's kernel starts while this one's cells run (in a sandbox of its own,
# running nothing before its submission takes it): starting took half of an ordinary submission.
c.ResilientExecute.start_ahead = True

# The sandbox of every autograding kernel (adgrader/sandbox.py). Students' code is hostile
# input: without bubblewrap, autograde stops rather than run it as you.
c.Sandbox.enabled = True
c.Sandbox.allow_unsandboxed = False
c.Sandbox.scratch_mb = 64      # the kernel's writable tmpfs, its working directory
c.Sandbox.max_file_mb = 16     # RLIMIT_FSIZE
c.Sandbox.max_processes = 64   # RLIMIT_NPROC: a fork bomb stops there
c.Sandbox.run_as = "nobody"    # the kernels' account when nbgrader runs as root

c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    ReportTampering,      # before nbgrader repairs the locked cells, note what was changed
    DeduplicateIds,
    ForgetDuplicateIds,   # nbgrader 0.9.6 crashes on the metadata DeduplicateIds leaves
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
    StudentCodePolicy,    # last: only the student's own cells are left to read
]
c.Autograde.autograde_preprocessors = [
    ResilientExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
c.OverwriteCells.add_missing_cells = True  # a deleted test cell comes back and runs
c.Autograde.pre_convert_hook = before_autograde
# Every released version of the locked cells, so that a student who holds an older release
# (a test was fixed mid-term) is not reported for tampering.
c.GenerateAssignment.post_convert_hook = after_release

# Feedback: grades, no hidden tests (neither their code nor the traceback lines quoting
# it), and a page that needs no network.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    HideHiddenTestLines,
    ClearHiddenTests,
    DescribeFigures,      # figures get an alternative text (nbconvert warned for each one)
    OfflineMathJax,
    CSSHTMLHeaderPreprocessor,
]
c.HTMLExporter.template_name = "adcourse_feedback"  # extends nbgrader's "feedback" template
c.HTMLExporter.template_file = "adcourse_feedback.html.j2"
c.HTMLExporter.extra_template_basedirs = [
    os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "templates"),
    os.path.join(GRADER, "templates"),
]

# Quiet logs. The kernels and nbgrader talk over CurveZMQ-encrypted sockets, which also ends
# ipykernel's warning "Kernel is running over TCP without encryption" (one per submission).
c.KernelManager.transport_encryption = "auto"
# SQLAlchemy warns "Object of type <SubmittedNotebook> not in session" (or SubmittedAssignment)
# when nbgrader 0.9 adds a submission while its session autoflushes: nbgrader's own
# bookkeeping, harmless (the grades are saved).
warnings.filterwarnings("ignore", message=r"Object of type <Submitted\w+> not in session")
# Two of nbgrader's log lines, dropped for the reasons given in adgrader.plugins.hooks.QuietNbgrader:
# checksums of test cells that always differ, and display settings offered to preprocessors.
quiet_nbgrader()
