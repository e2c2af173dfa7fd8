"""Autograde, execution stage: nbgrader's ``Execute``, made to finish every submission."""

import copy
import json
import logging
import math
import shutil
import tempfile
from time import monotonic

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

from . import _where
from ..sandbox import SandboxedKernelManager, sandbox_verdict


class ResilientExecute(Execute):
    """nbgrader's ``Execute``, made to finish every submission.

    - A cell that kills the kernel (``os._exit``, a crash, the OOM killer) or leaves it
      unable to answer after the interrupt gets an error output (so its test scores 0).
      A fresh kernel then re-runs the earlier cells that had completed (the set-up and the
      answers; not the tests, whose scores are kept), so that the rest of the notebook
      finds their definitions, and grading goes on. Plain nbgrader abandons the whole
      submission instead.
    - ``notebook_timeout`` bounds the whole notebook: a cell never gets more than what is
      left, and once it is spent the remaining cells fail without running. A hanging
      submission therefore costs at most that long, however many of its cells hang.
    - Each cell keeps at most ``max_output_bytes`` of output (a print in a loop would
      otherwise fill nbgrader's memory before the timeout).
    - The kernel runs in the course's sandbox (``adgrader/sandbox.py``: bubblewrap, ipc
      sockets, no network, nothing of the file system but the Python environment and the
      checks). Without it (``Sandbox.enabled = False``, or ``Sandbox.allow_unsandboxed``
      where bubblewrap cannot run) it starts in an empty temporary folder, so nothing
      submitted beside the notebook is importable or read as configuration.
    - Every problem line of the log names the assignment, the student and the cell: a cell
      that timed out, a kernel replaced, the cells the notebook limit left unrun.
    """

    notebook_timeout = Integer(120, help="Seconds for the whole notebook.").tag(config=True)
    max_output_bytes = Integer(1_000_000, help="Output kept per cell, in bytes.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = monotonic() + self.notebook_timeout
        self._kernel_dirs = []
        self._completed = []  # indices of the cells to re-run in a fresh kernel
        self._not_run = []  # names of the cells left when the notebook's time was up
        _drop_nbclient_timeout_line(self.log)
        if sandbox_verdict(self) is None:
            self.kernel_manager_class = SandboxedKernelManager
        try:
            return super().preprocess(nb, resources, km)
        finally:
            for path in self._kernel_dirs:
                shutil.rmtree(path, ignore_errors=True)
            if self._not_run:
                self.log.warning("[%s] the notebook used up its %d s: %d cells not run (%s)",
                                 _where(self.resources or {}), self.notebook_timeout, len(self._not_run),
                                 ", ".join(self._not_run))

    async def async_start_new_kernel(self, **kwargs):
        if self.kernel_manager_class is not SandboxedKernelManager:  # it makes its own folder
            kwargs["cwd"] = tempfile.mkdtemp(prefix="adgrader-kernel-")
            self._kernel_dirs.append(kwargs["cwd"])
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        left = self._deadline - monotonic()
        # Rounded up, so that a cell cut short by the notebook's limit ends it: rounded
        # down, up to a second was left over for the next cells, a race under load.
        if timeout is None:
            return max(1, math.ceil(left))
        return max(1, math.ceil(min(timeout, left)))

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        self._output_bytes = 0
        self._output_dropped = 0
        name = _name(cell, index)
        if monotonic() >= self._deadline:
            cell.outputs = [self._error("NotebookTimeout",
                                        f"not run: the notebook used up its {self.notebook_timeout} s")]
            self._not_run.append(name)
            return cell, self.resources
        started = monotonic()
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError) as error:
            what = "the kernel died" if isinstance(error, DeadKernelError) else \
                "the kernel did not answer after an interrupt"
            cell.outputs.append(self._error(type(error).__name__, f"{what} while running this cell"))
            rerun = self._replace_kernel()
            self.log.warning("[%s] %s: %s; a fresh kernel re-ran the %d earlier cells that had completed "
                             "(%s) and grading goes on", _where(self.resources), name, what, len(rerun),
                             ", ".join(rerun) or "none")
        else:
            meta = cell.metadata.get("nbgrader", {})
            errors = [output.get("ename") for output in cell.outputs if output.get("output_type") == "error"]
            if "CellTimeoutError" in errors:
                self.log.warning("[%s] %s: timed out after %d s, interrupted; the notebook goes on",
                                 _where(self.resources), name, round(monotonic() - started))
            if not errors and not (meta.get("grade") and not meta.get("solution")):
                self._completed.append(index)
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
        """A fresh kernel that has re-run the cells that had completed (their names, in order).
        The re-runs' outputs are dropped; if one of them fails to finish, the rest are skipped."""
        self._cleanup_kernel()
        self.km = self.create_kernel_manager()
        self.start_new_kernel()
        self.start_new_kernel_client()
        rerun, counters = [], (self._output_bytes, self._output_dropped)
        for index in self._completed:
            original = self.nb.cells[index]
            self._output_bytes = self._output_dropped = 0
            try:
                self.execute_cell(copy.deepcopy(original), index, store_history=False)
            except (DeadKernelError, CellTimeoutError):
                self.nb.cells[index] = original
                self._cleanup_kernel()
                self.km = self.create_kernel_manager()
                self.start_new_kernel()
                self.start_new_kernel_client()
                break
            self.nb.cells[index] = original  # nbclient stores the copy in its place
            rerun.append(_name(original, index))
        self._output_bytes, self._output_dropped = counters
        return rerun

    @staticmethod
    def _error(ename, evalue):
        return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                            traceback=[f"{ename}: {evalue}"])


def _name(cell, index):
    return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"


class _WithoutNbclientTimeoutLine(logging.Filter):
    """nbclient logs "Timeout waiting for execute reply (30s)." without saying whose; the line
    ResilientExecute writes instead names the assignment, the student and the cell."""

    def filter(self, record):
        return not str(record.msg).startswith("Timeout waiting for execute reply")


def _drop_nbclient_timeout_line(log):
    if not any(isinstance(f, _WithoutNbclientTimeoutLine) for f in log.filters):
        log.addFilter(_WithoutNbclientTimeoutLine())
