"""Real Unix accounts for the tests that run a class as its members would: an instructor and
students, each with a home of their own, created under names no real account uses and removed
again, whatever happens in between.

Only root can create accounts; `Class.skip_reason()` says why a test cannot run elsewhere.

Commands run as an account through `setpriv` (a new uid, gid and supplementary groups, and an
environment of that user only). The course's Python must be reachable by those users: where it
sits under a folder others may not enter (on this machine the interpreter is in /root/.pyenv and
/root is 0700), the command runs in a private mount namespace (bubblewrap, as root) in which that
folder is an empty tmpfs with just the needed folders bound into it, read-only. Nothing on the
host changes owner or mode.
"""
import grp
import os
import pwd
import secrets
import shutil
import stat
import string
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PREFIX = "adct"  # every account and group the tests create starts with this, then a random part


def skip_reason():
    """Why accounts cannot be created here (None if they can)."""
    if os.geteuid() != 0:
        return "creating Unix accounts needs root (useradd); this test runs the class as real users"
    for tool in ("useradd", "userdel", "setpriv"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    if _hidden_roots() and shutil.which("bwrap") is None:
        return "the course's Python is not readable by other users and bubblewrap is not installed"
    return None


def _needed_paths():
    return sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), str(REPO)})


def _hidden_roots():
    """{folder others cannot enter: [needed paths below it]} for the highest such folders."""
    roots = {}
    for path in _needed_paths():
        parts = Path(path).parts
        for depth in range(2, len(parts) + 1):
            folder = str(Path(*parts[:depth]))
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                roots.setdefault(folder, []).append(path)
                break
    return roots


def view_prefix():
    """The bwrap command line that shows the course's Python to other users (empty if it is
    already visible): a new mount namespace in which each hidden folder is a tmpfs holding
    read-only binds of the needed paths."""
    roots = _hidden_roots()
    if not roots:
        return []
    args = ["bwrap", "--dev-bind", "/", "/", "--die-with-parent"]
    for root, paths in sorted(roots.items()):
        args += ["--perms", "0755", "--tmpfs", root]
        made = set()
        for path in sorted(paths):
            parts = Path(path).relative_to(root).parts
            for depth in range(1, len(parts)):  # bwrap would make these 0700
                folder = str(Path(root, *parts[:depth]))
                if folder not in made:
                    made.add(folder)
                    args += ["--perms", "0755", "--dir", folder]
            args += ["--ro-bind", path, path]
    return args + ["--"]


class Account:
    def __init__(self, name, home):
        self.name, self.home = name, Path(home)
        entry = pwd.getpwnam(name)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def environment(self, **extra):
        env = {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name,
               "PATH": f"{VENV_BIN}:/usr/bin:/bin", "LANG": "C.UTF-8", "JAX_PLATFORMS": "cpu"}
        env.update(extra)
        return env

    def command(self, args):
        """`args` as run by this account (a list for subprocess)."""
        return [*view_prefix(), "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
                "--", *map(str, args)]

    def run(self, *args, cwd=None, timeout=600, input=None, **env):
        return subprocess.run(self.command(args), cwd=cwd or self.home, env=self.environment(**env),
                              capture_output=True, text=True, timeout=timeout, input=input)

    def python(self, code, *args, **kwargs):
        return self.run(sys.executable, "-c", code, *args, **kwargs)

    def nbgrader(self, *args, **kwargs):
        done = self.run(VENV_BIN / "nbgrader", *args, **kwargs)
        assert done.returncode == 0, f"{self.name}: nbgrader {' '.join(map(str, args))}\n{done.stderr[-4000:]}"
        return done


class Class:
    """Accounts named PREFIX + a random tag + a role, homes in a fresh temporary folder.

    Use as a context manager: on exit every account, its group and its home are removed, and
    the folder too, even when the test failed.
    """

    def __init__(self, roles):
        self.roles = list(roles)
        self.tag = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(6))
        self.base = None
        self.accounts = {}
        self._created = []

    def __enter__(self):
        self.base = Path(tempfile.mkdtemp(prefix="adcourse-class-"))
        os.chmod(self.base, 0o711)  # ours: members may pass through to their homes, not list them
        (self.base / "home").mkdir(mode=0o711)
        try:
            for role in self.roles:
                name = f"{PREFIX}{self.tag}-{role}"
                for lookup in (pwd.getpwnam, grp.getgrnam):
                    try:
                        lookup(name)
                    except KeyError:
                        continue
                    raise RuntimeError(f"an account or group {name} exists already: not touching it")
                home = self.base / "home" / name
                subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh",
                                "--user-group", "--comment", "adcourse test account", "-K", "HOME_MODE=0700",
                                name], check=True, capture_output=True, text=True)
                self._created.append(name)
                self.accounts[role] = Account(name, home)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __getitem__(self, role):
        return self.accounts[role]

    def __exit__(self, *exc):
        problems = []
        for name in reversed(self._created):
            done = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True)
            if done.returncode not in (0, 12):  # 12: could not remove the home (removed below)
                problems.append(f"userdel {name}: {done.stderr.strip()}")
            try:
                grp.getgrnam(name)
            except KeyError:
                pass
            else:
                subprocess.run(["groupdel", name], capture_output=True, text=True)
        self._created.clear()
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
        if problems and exc[0] is None:
            raise RuntimeError("; ".join(problems))
        return False

    def leftovers(self):
        """Accounts, groups or files of this class still on the machine (for the test to assert)."""
        left = []
        for role in self.roles:
            name = f"{PREFIX}{self.tag}-{role}"
            for kind, lookup in (("account", pwd.getpwnam), ("group", grp.getgrnam)):
                try:
                    lookup(name)
                    left.append(f"{kind} {name}")
                except KeyError:
                    pass
        if self.base is not None and self.base.exists():
            left.append(str(self.base))
        return left
