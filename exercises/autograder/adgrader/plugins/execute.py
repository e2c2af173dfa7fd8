"""Autograde, execution stage: nbgrader's ``Execute``, made to finish every submission."""

import ast
import atexit
import copy
import json
import logging
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from queue import Empty
from time import monotonic

from adcourse import answer_cells
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

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
    - A new kernel is ready as soon as it has answered and its output channel works
      (``QuickReadyClient``).
    - ``start_ahead``: once a submission's kernel is ready, the kernel of the next one is
      started (it boots while this one's cells run; a kernel takes about a second to start,
      most of what an ordinary submission costs). It runs nothing before its own submission
      takes it, in a sandbox of its own; one left over at the end of the run is shut down.
    - Every problem line of the log names the assignment, the student and the cell: a cell
      that timed out, a kernel replaced, the cells the notebook limit left unrun.
    """

    notebook_timeout = Integer(120, help="Seconds for the whole notebook.").tag(config=True)
    max_output_bytes = Integer(1_000_000, help="Output kept per cell, in bytes.").tag(config=True)
    start_ahead = Bool(True, help="Start the next submission's kernel while this one runs.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = monotonic() + self.notebook_timeout
        self._kernel_dirs = []
        self._completed = []  # indices of the cells to re-run in a fresh kernel
        self._not_run = []  # names of the cells left when the notebook's time was up
        _drop_nbclient_timeout_line(self.log)
        # The modules the notebook's own locked cells import (restored from the gradebook, so
        # the instructor's), imported by kernel_startup.py while the kernel boots: a kernel
        # started ahead has them before its submission reaches it (pyplot: about a second).
        os.environ["ADGRADER_PRELOAD"] = ",".join(locked_imports(nb))
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
        ahead = _ahead.pop("kernel", None)
        self._taken_ahead = False
        if ahead is not None and ahead.key == self._kernel_key() and await ensure_async(ahead.km.is_alive()):
            self.km = ahead.km  # started for this submission while the previous one ran
            self._kernel_dirs += ahead.folders
            self._taken_ahead = True
            return
        if ahead is not None:
            await ahead.stop()
        self._own_cwd(kwargs, self._kernel_dirs)
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_start_new_kernel_client(self):
        if getattr(self, "_taken_ahead", False):
            self._taken_ahead = False
            try:
                await super().async_start_new_kernel_client()
                healthy = await self._set_up_in_full()
            except Exception:  # noqa: BLE001 - nbclient has cleaned up; a fresh kernel follows
                healthy = False
            if not healthy:
                # It booted while the previous submission's code ran, under the same account:
                # a fork bomb there (RLIMIT_NPROC is per account) can have spoilt its start-up.
                self.log.warning("[%s] the kernel started ahead did not finish its set-up: a fresh one "
                                 "grades this submission", _where(self.resources or {}))
                if self.km is not None:
                    await self._async_cleanup_kernel()
                self.km = self.create_kernel_manager()
                await self.async_start_new_kernel()
        if self.kc is None:
            await super().async_start_new_kernel_client()
        if self.start_ahead and "kernel" not in _ahead and self._more_to_grade():
            await self._start_ahead()
        return self.kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _set_up_in_full(self):
        """Whether kernel_startup.py ran to its end in the kernel (asked without running a cell)."""
        msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={
            "ready": "getattr(__import__('sys').modules.get('adgrader.guard'), 'kernel_set_up', False)"})
        reply = await self.async_wait_for_reply(msg_id)
        result = (reply or {}).get("content", {}).get("user_expressions", {}).get("ready", {})
        return result.get("status") == "ok" and result.get("data", {}).get("text/plain") == "True"

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.client_factory = QuickReadyClient
        return km

    def _own_cwd(self, kwargs, folders):
        """An unsandboxed kernel starts in an empty folder of ours (listed in ``folders`` for
        removal), so nothing submitted beside the notebook is importable; the sandbox makes its own."""
        if self.kernel_manager_class is not SandboxedKernelManager:
            kwargs["cwd"] = tempfile.mkdtemp(prefix="adgrader-kernel-")
            folders.append(kwargs["cwd"])

    def _kernel_key(self):
        """What a kernel started ahead must match to serve this notebook."""
        arguments = tuple(arg for arg in self.extra_arguments  # nbclient adds this one at start
                          if not arg.startswith("--HistoryManager.hist_file"))
        return self.kernel_manager_class, self.kernel_name, arguments, self.ipython_hist_file

    async def _start_ahead(self):
        """Launch the kernel of the next submission as this notebook's would be launched; the
        next ``async_start_new_kernel`` takes it."""
        km = self.kernel_manager_class(kernel_name=self.kernel_name, config=self.config)
        km.client_factory = QuickReadyClient
        arguments, folders, kwargs = list(self.extra_arguments), [], {}
        if getattr(km, "ipykernel", False) and self.ipython_hist_file and \
                not any(arg.startswith("--HistoryManager.hist_file") for arg in arguments):
            arguments.append(f"--HistoryManager.hist_file={self.ipython_hist_file}")  # as nbclient does
        self._own_cwd(kwargs, folders)
        ahead = _KernelAhead(self._kernel_key(), km, folders)
        try:
            await ensure_async(km.start_kernel(extra_arguments=arguments, **kwargs))
        except Exception as error:  # noqa: BLE001 - the next submission then starts its own
            self.log.warning("[adgrader] could not start the next submission's kernel ahead: %s", error)
            await ahead.stop()
            return
        _ahead["kernel"] = ahead

    def _more_to_grade(self):
        """Whether this run has another notebook to grade after this one (nbgrader's converter
        goes through its notebooks, then its submissions, in order)."""
        converter = self.parent
        while converter is not None and not hasattr(converter, "assignments"):
            converter = converter.parent
        nbg = (self.resources or {}).get("nbgrader", {})
        if converter is None or not nbg:
            return False
        names = [os.path.splitext(os.path.basename(p))[0] for p in converter.notebooks]
        if nbg.get("notebook") in names and names.index(nbg["notebook"]) < len(names) - 1:
            return True
        keys = sorted(converter.assignments)
        here = [i for i, key in enumerate(keys)
                if nbg.get("student") in Path(key).parts and nbg.get("assignment") in Path(key).parts]
        return bool(here) and here[-1] < len(keys) - 1

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


def locked_imports(nb):
    """Modules imported at the top level of the notebook's locked code cells that are neither
    tests nor answers (its set-up, its plots): ``["numpy", "matplotlib.pyplot", ...]``."""
    names = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("locked") or meta.get("grade") or meta.get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
    # Only what any answer cell may import, or the course's library: a cell a student added
    # with "locked" metadata must not get a module imported that the policy refuses them.
    return [name for name in dict.fromkeys(names)
            if name in answer_cells.IMPORTS or re.fullmatch(r"adcourse(\.[A-Za-z_]\w*)*", name)]


class QuickReadyClient(AsyncKernelClient):
    """jupyter_client's client, whose wait for a new kernel ends as soon as the kernel has
    answered ``kernel_info`` and IOPub has carried that request's "idle" status (then both
    channels work and the kernel is idle), not after 0.2 s of silence on IOPub: a fixed fifth
    of a second per submission."""

    async def _async_wait_for_ready(self, timeout=None):
        deadline = monotonic() + (math.inf if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await ensure_async(self.shell_channel.get_msg(timeout=1))
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply" and \
                    await self._idle_after(reply["parent_header"].get("msg_id")):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    async def _idle_after(self, msg_id):
        """IOPub's messages up to the "idle" status of request ``msg_id``; False if IOPub falls
        silent for 0.2 s before it (not connected yet: the caller asks again)."""
        while True:
            try:
                msg = await ensure_async(self.iopub_channel.get_msg(timeout=0.2))
            except Empty:
                return False
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle" and \
                    msg["parent_header"].get("msg_id") == msg_id:
                return True


class _KernelAhead:
    """A kernel started for a submission not yet reached, and the folders to remove with it."""

    def __init__(self, key, km, folders):
        self.key, self.km, self.folders = key, km, folders

    async def stop(self):
        try:
            if await ensure_async(self.km.is_alive()):
                await ensure_async(self.km.shutdown_kernel(now=True))
            await ensure_async(self.km.cleanup_resources())
        finally:
            for path in self.folders:
                shutil.rmtree(path, ignore_errors=True)


_ahead = {}  # "kernel": the _KernelAhead of the next submission, if one was started


@atexit.register
def _stop_kernel_ahead():
    """The run ended before a submission took the kernel started for it (nbgrader skipped it)."""
    ahead = _ahead.pop("kernel", None)
    if ahead is not None:
        run_sync(ahead.stop)()


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
