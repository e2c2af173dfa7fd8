"""Every grading kernel in a bubblewrap sandbox.

A student's code runs in a kernel that sees, read-only, the Python environment, the course's
library and the hidden checks, and nothing else of the file system: no course directory, no
source notebooks, no gradebook, no home. It writes only to a small private tmpfs (its working
directory), has no network (``--unshare-net``), its own PID namespace, limits on processes and
file sizes, and, when nbgrader runs as root, the uid of ``nobody`` (``setpriv`` inside the
sandbox, after bubblewrap has built it).

The kernel is reached over ZeroMQ ipc sockets that live in the sandbox's own tmpfs: nbgrader
connects to them through ``/proc/<pid>/root``, so the kernel needs no network and no writable
folder outside the sandbox. Its connection file lies in a fresh ``mkdtemp`` folder, bound
read-only into the sandbox. Interrupts are messages (``interrupt_mode: "message"``), so a
timeout interrupts the code, not the sandbox.

matplotlib's font list is built once a process, by matplotlib in a sandbox like the kernels'
(so it lists exactly the fonts they see), while the first kernel runs; it is kept in a
``mkdtemp`` folder of ours and shown to every later kernel read-only in its own matplotlib
folder. Without it, each kernel that imports pyplot listed the fonts again in its empty scratch
folder (0.1-0.3 s, and fontconfig's complaints about its missing configuration on stderr).

Nothing here changes the owner or mode of a file it did not create: the only files it writes
are the folders from ``mkdtemp``, the two connection files in one (removed with the kernel)
and the font list in the other (removed when the process ends).
"""
import asyncio
import atexit
import importlib.util
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, Unicode
from traitlets.config import Configurable

INSIDE_CONNECTION = "/run/adgrader/connection.json"
INSIDE_SOCKETS = "/run/adgrader-ipc"  # a tmpfs of the sandbox; sockets are <this>/kernel-<n>
INSIDE_SCRATCH = "/scratch"
INSIDE_MATPLOTLIB = INSIDE_SCRATCH + "/.matplotlib"  # MPLCONFIGDIR: writable, in the scratch tmpfs
_KEPT_ENVIRONMENT = ("ADGRADER_DIR", "ADGRADER_MEMORY_LIMIT_MB", "ADGRADER_PRELOAD", "JAX_PLATFORMS",
                     "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                     "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED")


class SandboxUnavailable(BaseException):
    """Stops ``nbgrader autograde`` (nbgrader carries on after ordinary exceptions)."""


class Sandbox(Configurable):
    """What a grading kernel may see and do (``c.Sandbox.*`` in nbgrader_config.py)."""

    enabled = Bool(True, help="Run every autograding kernel in a bubblewrap sandbox.").tag(config=True)
    allow_unsandboxed = Bool(False, help=(
        "Where bubblewrap cannot run (not installed, no user namespaces), grade without the "
        "sandbox instead of stopping. Students' code then runs as you, seeing all you see.")).tag(config=True)
    bwrap = Unicode("bwrap", help="The bubblewrap executable.").tag(config=True)
    run_as = Unicode("nobody", help="The account kernels run as when nbgrader runs as root.").tag(config=True)
    scratch_mb = Integer(64, help="Size of the kernel's writable tmpfs (its working directory), MiB.").tag(config=True)
    max_file_mb = Integer(16, help="Largest file a kernel may write, MiB (RLIMIT_FSIZE).").tag(config=True)
    max_processes = Integer(64, help="Processes and threads of the kernel's user (RLIMIT_NPROC).").tag(config=True)
    packages = List(Unicode(), ["adcourse"], help=(
        "Packages the kernel imports from outside the Python environment (an editable install): "
        "their folders are shown read-only.")).tag(config=True)
    readonly_paths = List(Unicode(), help="More files or folders to show the kernel, read-only.").tag(config=True)

    def shown_paths(self):
        """Host paths the kernel sees, read-only, at the same place."""
        paths = {os.path.realpath(sys.base_prefix), os.path.abspath(sys.prefix)}
        grader = os.environ.get("ADGRADER_DIR")
        if grader:
            paths.add(os.path.abspath(grader))
        for name in self.packages:
            spec = importlib.util.find_spec(name)
            for folder in (spec.submodule_search_locations or []) if spec else []:
                paths.add(os.path.abspath(folder))
        paths.update(os.path.abspath(p) for p in self.readonly_paths)
        # A path inside another is shown with it.
        return sorted(p for p in paths if not any(p != q and p.startswith(q + os.sep) for q in paths))

    def _account(self):
        entry = pwd.getpwnam(self.run_as)
        return entry.pw_uid, entry.pw_gid

    def command(self, kernel_cmd, connection_file, font_list=None):
        """``kernel_cmd`` wrapped: bubblewrap, then (as root) setpriv, then prlimit. ``font_list``:
        a matplotlib font list (``font_list()``) to show read-only in the kernel's matplotlib folder."""
        args = [self.bwrap, "--die-with-parent", "--new-session", "--clearenv"]
        if os.geteuid() == 0:  # bubblewrap needs no user namespace; the kernel drops to run_as
            args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                     "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
        else:
            args += ["--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                     "--unshare-cgroup-try", "--disable-userns"]
        made = set()

        def folders_to(path):
            parts = path.strip("/").split("/")
            out = []
            for depth in range(1, len(parts)):
                folder = "/" + "/".join(parts[:depth])
                if folder not in made:
                    made.add(folder)
                    out += ["--perms", "0755", "--dir", folder]  # bubblewrap's own default is 0700
            return out

        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = "/" + name
            if os.path.islink(host):
                args += ["--symlink", os.readlink(host), host]
            elif os.path.isdir(host):
                args += ["--ro-bind", host, host]
        args += ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev"]
        made.add("/usr")
        if os.path.exists("/etc/ld.so.cache"):
            args += folders_to("/etc/ld.so.cache") + ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        for path in self.shown_paths():
            args += folders_to(path) + ["--ro-bind", path, path]
        args += folders_to(INSIDE_CONNECTION) + ["--ro-bind", connection_file, INSIDE_CONNECTION]
        args += ["--perms", "0777", "--size", str(1 << 20), "--tmpfs", INSIDE_SOCKETS]
        args += ["--perms", "0777", "--size", str(self.scratch_mb << 20), "--tmpfs", INSIDE_SCRATCH,
                 "--chdir", INSIDE_SCRATCH]
        # matplotlib writes its other caches here; as root the kernel is run_as, not the
        # folder's owner, hence 0777, as its scratch folder.
        args += ["--perms", "0777", "--dir", INSIDE_MATPLOTLIB]
        if font_list:
            args += ["--ro-bind", font_list, f"{INSIDE_MATPLOTLIB}/{os.path.basename(font_list)}"]
        environment = {name: os.environ[name] for name in _KEPT_ENVIRONMENT if name in os.environ}
        environment.update(HOME=INSIDE_SCRATCH, TMPDIR=INSIDE_SCRATCH, PATH="/usr/bin:/bin",
                           MPLCONFIGDIR=INSIDE_MATPLOTLIB, MPLBACKEND="Agg")
        environment.setdefault("LANG", "C.UTF-8")
        for name, value in sorted(environment.items()):
            args += ["--setenv", name, value]
        args.append("--")
        if os.geteuid() == 0:
            uid, gid = self._account()
            args += ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
                     "--bounding-set=-all", "--"]  # then no capability is left, nor can come back
        args += ["prlimit", f"--nproc={self.max_processes}", f"--fsize={self.max_file_mb << 20}", "--"]
        executable = os.path.normpath(kernel_cmd[0])  # a/../b names a folder the sandbox lacks
        return args + [executable] + [INSIDE_CONNECTION if arg == connection_file else arg for arg in kernel_cmd[1:]]

    def font_list(self, python):
        """The path of matplotlib's font list as ``python`` in this sandbox builds it, or None
        while it is being built (the first call starts that, in a thread, once a process) and
        where that failed (no matplotlib): kernels then list the fonts themselves."""
        key = (self.bwrap, self.run_as, python)
        if key not in _font_lists:
            _font_lists[key] = None
            threading.Thread(target=lambda: _font_lists.update({key: self._build_font_list(python)}),
                             daemon=True).start()
        return _font_lists[key]

    def _build_font_list(self, python):
        folder = tempfile.mkdtemp(prefix="adgrader-fonts-")  # ours, removed when the process ends
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        probe = os.path.join(folder, "connection.json")  # command() shows one; this code reads none
        with open(probe, "w") as handle:
            handle.write("{}")
        os.chmod(probe, 0o644)
        try:
            done = subprocess.run(self.command([python, "-c", _WRITE_FONT_LIST], probe), capture_output=True,
                                  text=True, timeout=120, stdin=subprocess.DEVNULL)
        except (OSError, KeyError, subprocess.SubprocessError):
            return None
        name, _, content = done.stdout.partition("\n")
        if done.returncode != 0 or not name.startswith("fontlist-") or os.sep in name:
            return None
        path = os.path.join(folder, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "w") as handle:
            handle.write(content)
        return path

    def check(self):
        """None if bubblewrap runs here with these settings, else why it does not."""
        if shutil.which(self.bwrap) is None:
            return f"bubblewrap (`{self.bwrap}`) is not installed (Debian: apt-get install bubblewrap)"
        folder = tempfile.mkdtemp(prefix="adgrader-check-")
        try:
            probe = os.path.join(folder, "connection.json")
            with open(probe, "w") as handle:
                handle.write("{}")
            os.chmod(probe, 0o644)
            try:
                done = subprocess.run(self.command(["/usr/bin/true", probe], probe), capture_output=True,
                                      text=True, timeout=60, stdin=subprocess.DEVNULL)
            except (OSError, KeyError, subprocess.SubprocessError) as error:
                return f"bubblewrap could not start: {error}"
            if done.returncode != 0:
                return f"bubblewrap could not build the sandbox: {done.stderr.strip() or done.returncode}"
            return None
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# Run in a sandbox by Sandbox.font_list: matplotlib lists the fonts it sees into its (scratch)
# folder; the file's name, then its content, go to stdout.
_WRITE_FONT_LIST = """
import os, sys
try:
    import matplotlib.font_manager as fm
except ImportError:
    sys.exit(3)
path = os.path.join(fm.mpl.get_cachedir(), f"fontlist-v{fm.FontManager.__version__}.json")
with open(path, encoding="utf-8") as handle:
    sys.stdout.write(os.path.basename(path) + "\\n" + handle.read())
"""
_font_lists = {}


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in ``Sandbox``'s sandbox, over ipc sockets."""

    startup_timeout = Integer(60, help="Seconds to wait for the sandbox's first process.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandbox = Sandbox(parent=self)
        self._folder = None
        self._child = None

    async def _async_pre_start_kernel(self, **kw):
        self._folder = tempfile.mkdtemp(prefix="adgrader-kernel-")  # ours: 0700, removed with the kernel
        self.connection_file = os.path.join(self._folder, "kernel.json")
        self.transport = "ipc"
        self.ip = INSIDE_SOCKETS + "/kernel"
        self.kernel_spec.interrupt_mode = "message"  # a timeout interrupts the code, not bubblewrap
        # No CurveZMQ (nbgrader_config.py asks for it against TCP's warning): the sockets lie in
        # the sandbox's own tmpfs, off any network, and with it ipykernel rewrites its connection
        # file, which the sandbox shows read-only, so the kernel would die at start.
        self.transport_encryption = "disabled"
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        inside = os.path.join(self._folder, "inside.json")  # the kernel's copy, readable by run_as
        info = self.get_connection_info()
        info["key"] = info["key"].decode() if isinstance(info["key"], bytes) else info["key"]
        with open(os.open(inside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "w") as handle:
            json.dump(info, handle)
        kw["cwd"] = self._folder
        kw.pop("env", None)  # bubblewrap clears it and sets the kernel's own
        command = self.sandbox.command([arg if arg != os.path.realpath(self.connection_file) else inside
                                        for arg in kernel_cmd], inside,
                                       font_list=self.sandbox.font_list(os.path.normpath(kernel_cmd[0])))
        return command, kw

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        """Start bubblewrap and return as soon as the sandbox's first process exists: the
        kernel's sockets will lie in its root, where ZeroMQ reaches them once the kernel has
        bound them (an ipc connection to a path not there yet is retried), so the kernel boots
        while nbgrader goes on (a kernel started ahead, ``ResilientExecute.start_ahead``) until
        the client's wait for the kernel. A sandbox that dies first is a dead kernel to that wait."""
        await super()._async_launch_kernel(kernel_cmd, **kw)
        process = self.provisioner.process
        deadline = time.monotonic() + self.startup_timeout
        while self._child is None and time.monotonic() < deadline and process.poll() is None:
            try:
                with open(f"/proc/{process.pid}/task/{process.pid}/children") as handle:
                    children = handle.read().split()
            except OSError:
                children = []
            if children:
                self._child = int(children[0])
                self.ip = f"/proc/{self._child}/root{INSIDE_SOCKETS}/kernel"
            else:
                await asyncio.sleep(0.002)

    def cleanup_ipc_files(self):
        """The sockets lie in the sandbox's tmpfs, which goes with it: nothing to remove here."""

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        self._wait_for_sandbox()
        if self._folder and not restart:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    cleanup_resources = _async_cleanup_resources

    def _wait_for_sandbox(self, timeout=5.0):
        """Until the sandbox's first process is gone: the PID namespace, and with it every
        process the kernel started (a fork bomb), is then gone too."""
        if self._child is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{self._child}/stat") as handle:
                    if handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                        break
            except OSError:
                break
            time.sleep(0.01)
        self._child = None


_verdicts = {}


def sandbox_verdict(parent):
    """None if kernels run sandboxed under ``parent``'s config; else why not (bubblewrap is
    tried once per process and setting).

    Raises ``SandboxUnavailable`` where the sandbox is on, bubblewrap cannot run, and the
    config does not allow grading without it.
    """
    sandbox = Sandbox(parent=parent)
    if not sandbox.enabled:
        return "the sandbox is switched off (Sandbox.enabled = False)"
    key = (sandbox.bwrap, sandbox.run_as)
    if key not in _verdicts:
        _verdicts[key] = sandbox.check()
    why = _verdicts[key]
    if why is not None and not sandbox.allow_unsandboxed:
        raise SandboxUnavailable(
            f"autograde stopped: students' code would run unsandboxed, because {why}. Install "
            "bubblewrap and allow unprivileged user namespaces (or run nbgrader as root), or, to "
            "grade without the sandbox anyway, set c.Sandbox.allow_unsandboxed = True in "
            "nbgrader_config.py.")
    return why


def announce(app):
    """Before an autograde run writes anything: say whether its kernels run sandboxed, or stop
    it (``SandboxUnavailable``) where they cannot and the config does not allow that."""
    try:
        why = sandbox_verdict(app)
    except SandboxUnavailable as error:
        app.log.error("[adgrader] %s", error)
        raise
    if why is None:
        app.log.info("[adgrader] kernels run in the bubblewrap sandbox")
    else:
        app.log.warning("[adgrader] kernels run WITHOUT the sandbox: %s", why)
