"""Where `nbgrader autograde` and `nbgrader generate_feedback` spend each submission's seconds.

An instrumentation hook for benchmarks/bench_autograde.py, never part of the course: the
benchmark's temporary copy of nbgrader_config.py imports it. While the environment variable
ADGRADER_TIMINGS names a file, it wraps, in nbgrader's process, the steps of each submission
with a clock and appends one JSON line per measured step to that file:
{"command", "student", "stage", "seconds"}. Inside each grading kernel, kernel_probe.py
(run before and after the course's kernel_startup.py) marks the times and times the imports;
its record is read just before the kernel is shut down.

Stages: "gradebook: submission" (nbgrader's init_assignment: students, submission rows,
files), "sanitize: <preprocessor>", "execute: kernel start" (split by the probe into "kernel:
process and ipykernel", "kernel: kernel_startup.py", "kernel: until ready"), "execute:
cells, <kind>", "execute: kernel shutdown", "execute: rest", "autograde: <preprocessor>"
(SaveAutoGrades is the gradebook's save), "write", "feedback" (generate_feedback, per
submission), plus the kernel's imports: "import <module> (start-up|cells)".
"""
import ast
import json
import os
import time
from functools import wraps

from jupyter_core.utils import run_sync
from nbconvert.preprocessors import Preprocessor
from nbgrader.converters import Autograde, GenerateFeedback

PROBE = "kernel_probe.py"
_state = {"command": None, "student": None, "launch": None}


def record(stage, seconds):
    with open(os.environ["ADGRADER_TIMINGS"], "a") as handle:
        handle.write(json.dumps({"command": _state["command"], "student": _state["student"],
                                 "stage": stage, "seconds": seconds}) + "\n")


def _timed(owner, name, stage):
    """Wrap owner.name so that each call records its seconds under ``stage(self, *args)``."""
    original = getattr(owner, name)

    @wraps(original)
    def wrapper(self, *args, **kwargs):
        started = time.monotonic()
        try:
            return original(self, *args, **kwargs)
        finally:
            record(stage(self, *args), time.monotonic() - started)

    setattr(owner, name, wrapper)


def _follow_student(owner, command):
    original = owner.init_assignment

    @wraps(original)
    def init_assignment(self, assignment_id, student_id):
        _state.update(command=command, student=student_id, converter=self)
        started = time.monotonic()
        try:
            return original(self, assignment_id, student_id)
        finally:
            if command == "autograde":
                record("gradebook: submission", time.monotonic() - started)

    owner.init_assignment = init_assignment


def _kind(cell):
    meta = cell.metadata.get("nbgrader", {})
    return "answers" if meta.get("solution") else "tests" if meta.get("grade") else "other"


def _read_probe(self):
    """The kernel's own record (kernel_probe.py), while the kernel still runs."""
    try:
        msg_id = self.kc.execute("", silent=True, store_history=False,
                                 user_expressions={"t": "__import__('sys').modules['adgrader_probe'].report()"})
        reply = run_sync(self.async_wait_for_reply)(msg_id)
        data = json.loads(ast.literal_eval(reply["content"]["user_expressions"]["t"]["data"]["text/plain"]))
    except Exception:  # noqa: BLE001 - a dead or busy kernel has nothing to say
        return
    marks, launch, ready = data["marks"], _state["launch"], _state.get("ready")
    if launch and ready and marks["probe"] < launch:  # started ahead, while the last submission ran
        record("kernel: started ahead, the wait left", ready - launch)
    elif launch and ready and "kernel_startup.py done" in marks:
        record("kernel: process and ipykernel", marks["probe"] - launch)
        record("kernel: kernel_startup.py", marks["kernel_startup.py done"] - marks["probe"])
        record("kernel: until ready", ready - marks["kernel_startup.py done"])
    for module, seconds, at_start in data["imports"]:
        record(f"import {module} ({'start-up' if at_start else 'cells'})", seconds)


def install():
    """Wrap nbgrader's steps, once a process (nbgrader may load its config more than once)."""
    if not os.environ.get("ADGRADER_TIMINGS") or _state.get("installed"):
        return
    _state["installed"] = True
    from adgrader.plugins.execute import ResilientExecute

    _follow_student(Autograde, "autograde")
    _follow_student(GenerateFeedback, "generate_feedback")

    def preprocessor_stage(self, nb, resources):
        if isinstance(self, ResilientExecute):
            return "execute: total"
        if _state["command"] != "autograde":
            return f"{_state['command']}: {type(self).__name__}"
        phase = "sanitize" if getattr(_state["converter"], "_sanitizing", False) else "autograde"
        return f"{phase}: {type(self).__name__}"

    _timed(Preprocessor, "__call__", preprocessor_stage)
    _timed(Autograde, "write_single_notebook", lambda self, *a: "write")
    _timed(Autograde, "convert_single_notebook", lambda self, *a: "convert")
    _timed(Autograde, "init_single_notebook_resources", lambda self, *a: "resources")
    for name in ("init_destination", "run_pre_convert_hook", "set_permissions", "run_post_convert_hook"):
        _timed(Autograde, name, lambda self, *a, name=name: f"loop: {name}")
    _timed(GenerateFeedback, "convert_single_notebook", lambda self, *a: "feedback")

    original_start = ResilientExecute.async_start_new_kernel

    async def async_start_new_kernel(self, **kwargs):
        _state["launch"] = time.monotonic()
        return await original_start(self, **kwargs)

    ResilientExecute.async_start_new_kernel = async_start_new_kernel
    ResilientExecute.start_new_kernel = run_sync(async_start_new_kernel)
    original_client = ResilientExecute.async_start_new_kernel_client

    async def async_start_new_kernel_client(self):
        try:
            return await original_client(self)
        finally:
            _state["ready"] = time.monotonic()
            record("execute: kernel start", _state["ready"] - _state["launch"])

    ResilientExecute.async_start_new_kernel_client = async_start_new_kernel_client
    ResilientExecute.start_new_kernel_client = run_sync(async_start_new_kernel_client)
    _timed(ResilientExecute, "preprocess_cell", lambda self, cell, *a: f"execute: cells, {_kind(cell)}")
    original_cleanup = ResilientExecute._cleanup_kernel

    def cleanup(self):
        if getattr(self, "kc", None) is not None:
            _read_probe(self)
        started = time.monotonic()
        try:
            return original_cleanup(self)
        finally:
            record("execute: kernel shutdown", time.monotonic() - started)

    ResilientExecute._cleanup_kernel = cleanup


def probe_arguments(grader_dir):
    """The kernel's exec_files: the probe, the course's kernel_startup.py, the probe again."""
    files = [os.path.join(grader_dir, PROBE), os.path.join(grader_dir, "kernel_startup.py"),
             os.path.join(grader_dir, PROBE)]
    return ["--IPKernelApp.exec_files=" + json.dumps(files)]
