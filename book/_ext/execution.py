"""Sphinx extension: how the book's chapters are executed, and what the build reports about it.

* **Kernels over ipc.** myst-nb executes a chapter through jupyter-cache and nbclient, which
  start a kernel that listens on TCP ports of 127.0.0.1 (and ipykernel warns, for every
  chapter, that the traffic is not encrypted). Here every such kernel uses the ipc transport
  instead: Unix sockets in a private folder (made with mkdtemp, removed when the build ends).
* **Progress.** When ``execution_progress_fd`` is set (book/build.py sets it to a pipe), the
  build writes one JSON line per event to that file descriptor: ``plan`` (the pages to read
  and, among them, the notebooks that the execution cache does not have), ``start`` and
  ``done`` for each notebook executed (with its seconds), and ``problem`` for every warning or
  error Sphinx logs (with its location: page and line). book/build.py turns them into its
  short report; the full Sphinx log goes to a file.
"""
import atexit
import functools
import json
import logging as std_logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)


class _Reporter:
    """Writes events, one JSON object a line, to a file descriptor."""

    def __init__(self, fd):
        self.stream = os.fdopen(fd, "w", buffering=1, encoding="utf-8", closefd=False)

    def send(self, event, **data):
        self.stream.write(json.dumps({"event": event, **data}, ensure_ascii=False) + "\n")
        self.stream.flush()


class _ProblemHandler(std_logging.Handler):
    """Forwards every warning and error Sphinx logs to the reporter."""

    def __init__(self, app, reporter):
        super().__init__(level=std_logging.WARNING)
        self.app, self.reporter = app, reporter

    def emit(self, record):
        try:
            location = getattr(record, "location", None)
            if isinstance(location, tuple):  # (docname, line), not yet made "file:line" by Sphinx
                docname, line = location
                location = f"{self.app.env.doc2path(docname)}:{line or ''}".rstrip(":")
            elif location is not None and not isinstance(location, str):
                location = None  # a node: Sphinx's own handlers have printed it to the log
            message = f"{record.levelname}: {std_logging.LogRecord.getMessage(record)}"
            self.reporter.send("problem", message=f"{location}: {message}" if location else message)
        except Exception:  # a report must never break the build
            self.handleError(record)


def _ipc_kernel_manager(folder):
    """A kernel manager class whose kernels listen on Unix sockets under `folder`."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        def _ip_default(self):
            # jupyter_client numbers the sockets <ip>-1 ... <ip>-5 (skipping existing ones);
            # one folder per build keeps them away from every other process.
            return str(Path(folder) / "kernel") if self.transport == "ipc" else super()._ip_default()

    return IPCKernelManager


def _notebooks_to_execute(app, docnames):
    """Those of `docnames` that are notebooks the execution cache has no outputs for."""
    from jupyter_cache import get_cache
    from myst_nb.core.read import create_nb_reader

    env = app.env
    nb_config = env.mystnb_config
    if nb_config.execution_mode != "cache":
        return []
    cache = get_cache(nb_config.execution_cache_path)
    todo = []
    for docname in sorted(docnames):
        path = env.doc2path(docname)
        try:
            content = Path(path).read_text(encoding="utf-8")
            reader = create_nb_reader(str(path), env.myst_config, nb_config, content)
            if reader is None:
                continue
            cache.match_cache_notebook(reader.read(content))
        except KeyError:
            todo.append(docname)
        except Exception:  # unreadable here: the real read will report it
            continue
    return todo


def _instrument(app):
    """Run kernels over ipc and, when asked, report the notebooks' execution."""
    from myst_nb.core.execute import cache as nb_cache

    folder = tempfile.mkdtemp(prefix="adcourse-kernels-")
    app._execution_kernel_dir = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # also when the build is stopped
    manager = _ipc_kernel_manager(folder)
    reporter = getattr(app, "_execution_reporter", None)
    execute = nb_cache.single_nb_execution
    if getattr(execute, "_adcourse", False):
        execute = execute.__wrapped__

    @functools.wraps(execute)
    def single_nb_execution(notebook, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", manager)
        docname = app.env.docname
        if reporter:
            reporter.send("start", doc=docname)
        t0 = time.perf_counter()
        result = execute(notebook, *args, **kwargs)
        if reporter:
            reporter.send("done", doc=docname, seconds=round(time.perf_counter() - t0, 1),
                          ok=result.err is None)
        return result

    single_nb_execution._adcourse = True
    nb_cache.single_nb_execution = single_nb_execution


def _plan(app, env, docnames):
    reporter = getattr(app, "_execution_reporter", None)
    if reporter:
        reporter.send("plan", read=len(docnames), execute=_notebooks_to_execute(app, docnames))


def _clean_up(app, exception):
    folder = getattr(app, "_execution_kernel_dir", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def _start_reporting(app, config):
    fd = config.execution_progress_fd
    if fd is not None and fd >= 0:
        app._execution_reporter = _Reporter(fd)
        std_logging.getLogger("sphinx").addHandler(_ProblemHandler(app, app._execution_reporter))


def setup(app):
    app.setup_extension("myst_nb")
    app.add_config_value("execution_progress_fd", None, "", types=[int, type(None)])
    app.connect("config-inited", _start_reporting)
    app.connect("builder-inited", _instrument)
    app.connect("env-before-read-docs", _plan)
    app.connect("build-finished", _clean_up)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
