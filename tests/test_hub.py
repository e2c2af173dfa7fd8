"""The course's JupyterHub (deploy/jupyterhub_config.py), started for real on 127.0.0.1.

With real Unix accounts (an instructor and a student, tests/class_accounts.py), the Hub's
configuration file, a test authenticator (JupyterHub's dummy one, with a password) in place of
PAM, and the proxy from npm. Everything goes through the Hub as a browser's code would: the
student logs in through the REST API, starts their server, lists and fetches the assignment and
submits it through nbgrader's server extension; the instructor releases, collects and autogrades
through Formgrader's API on their own server. The test stops the servers and the Hub it started,
and checks no process of the accounts is left.

Also: the Kubernetes values file (deploy/zero-to-jupyterhub.yaml) is valid YAML and names only
the image the course builds (deploy/Dockerfile).
"""
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import class_accounts
from class_accounts import Class
from grading_course import EXERCISES, REPO, solutions

requests = pytest.importorskip("requests")

A = "a2_forward_mode"
DEPLOY = REPO / "deploy"
PROXY = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
HUB = class_accounts.VENV_BIN / "jupyterhub"
SKIP = class_accounts.skip_reason() or (
    None if PROXY.exists() else "configurable-http-proxy is not installed (`npm ci` in the repository)") or (
    None if HUB.exists() else "JupyterHub is not installed (the `hub` extra of pyproject.toml)")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _wait(what, check, timeout=180, every=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


class _Hub:
    def __init__(self, klass, exchange, log):
        self.password = secrets.token_urlsafe(16)
        port, hub_port, api_port = _free_ports(3)
        self.url = f"http://127.0.0.1:{port}"
        state = klass.base / "hub-state"
        state.mkdir(mode=0o700)
        env = {"PATH": f"{class_accounts.VENV_BIN}:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(state),
               "ADCOURSE_INSTRUCTORS": klass["teacher"].name, "ADCOURSE_STUDENTS": klass["student"].name,
               "ADCOURSE_EXCHANGE": str(exchange), "ADCOURSE_HUB_STATE": str(state),
               "ADCOURSE_HUB_URL": self.url}
        command = [*class_accounts.view_prefix(), str(HUB), "-f", str(DEPLOY / "jupyterhub_config.py"),
                   "--JupyterHub.authenticator_class=dummy", f"--DummyAuthenticator.password={self.password}",
                   f"--JupyterHub.hub_port={hub_port}",
                   f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api_port}"]
        self.log = log
        self.process = subprocess.Popen(command, cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.tokens = {}
        _wait("the Hub", self._up)

    def _up(self):
        assert self.process.poll() is None, "the Hub exited at start: see its log"
        try:
            return requests.get(f"{self.url}/hub/api/", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    def login(self, name):
        """Log in through the REST API (username and password): a token for that user."""
        done = requests.post(f"{self.url}/hub/api/users/{name}/tokens", timeout=30,
                             json={"auth": {"username": name, "password": self.password}, "note": "test"})
        assert done.status_code in (200, 201), done.text
        self.tokens[name] = done.json()["token"]

    def api(self, method, name, path, **kwargs):
        headers = {"Authorization": f"token {self.tokens[name]}"}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=300, **kwargs)

    def start_server(self, name):
        started = self.api("POST", name, f"/hub/api/users/{name}/server")
        assert started.status_code in (201, 202), started.text

        def ready():
            assert self.process.poll() is None, "the Hub died"
            server = self.api("GET", name, f"/hub/api/users/{name}").json().get("servers", {}).get("", {})
            return server.get("ready")
        _wait(f"{name}'s server", ready, timeout=240)

    def server(self, method, name, path, **kwargs):
        return self.api(method, name, f"/user/{name}{path}", **kwargs)

    def stop(self):
        """Stop each server through the API, then the Hub (which stops its proxy)."""
        for name in self.tokens:
            try:
                self.api("DELETE", name, f"/hub/api/users/{name}/server")
                _wait(f"{name}'s server to stop", lambda: not self.api(
                    "GET", name, f"/hub/api/users/{name}").json().get("servers"), timeout=60)
            except (requests.RequestException, AssertionError):
                pass
        if self.process.poll() is None:
            # The Hub itself: bubblewrap's child where the view is used (bubblewrap would only
            # die of the signal and take the Hub down with it, before it cleaned up).
            pid = self.process.pid
            if class_accounts.view_prefix():
                with open(f"/proc/{pid}/task/{pid}/children") as handle:
                    pid = int(handle.read().split()[0])
            os.kill(pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the session we started it in
                self.process.wait()


def _processes_of(uids):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    found.append((entry.name, (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    if SKIP:
        pytest.skip(SKIP)
    log_path = tmp_path_factory.mktemp("hub") / "hub.log"
    with Class(["teacher", "student"]) as klass, open(log_path, "w") as log:
        teacher, student = klass["teacher"], klass["student"]
        exchange = klass.base / "exchange"
        exchange.mkdir()
        os.chmod(exchange, 0o777)  # as nbgrader's docs ask; ours, inside our own temporary folder
        copied = teacher.python(
            f"import sys; sys.path.insert(0, {str(REPO / 'tests')!r}); "
            f"from grading_course import copy_course; copy_course({str(teacher.home / 'exercises')!r})")
        assert copied.returncode == 0, copied.stderr
        hub = _Hub(klass, exchange, log)
        steps = {}
        try:
            steps.update(_run(hub, teacher.name, student.name))
            course = teacher.home / "exercises"  # what the course's hooks left under Formgrader
            steps["released_cells"] = (course / "released_cells.json").exists()
            steps["backups"] = sorted(p.name for p in (course / "gradebook.db.backups").glob("*.db"))
        finally:
            hub.stop()
            leftover = _processes_of({teacher.uid, student.uid})
        yield {"steps": steps, "leftover": leftover, "hub_exit": hub.process.returncode,
               "log": log_path.read_text(errors="replace")}
    assert klass.leftovers() == []


def _run(hub, teacher, student):
    steps = {}
    for name in (teacher, student):
        hub.login(name)
        hub.start_server(name)
    steps["student_extensions"] = hub.server("GET", student, "/formgrader/api/status").status_code
    # The instructor releases the assignment from Formgrader (generate, then the exchange).
    for action in ("assign", "release"):
        done = hub.server("POST", teacher, f"/formgrader/api/assignment/{A}/{action}")
        assert done.status_code == 200 and done.json().get("success"), (action, done.text[-3000:])
    # The student lists, fetches, edits (through Jupyter's contents API) and submits.
    listed = hub.server("GET", student, "/assignments", params={"course_id": "adcourse"})
    assert listed.status_code == 200, listed.text
    steps["listed"] = listed.json()
    fetched = hub.server("POST", student, "/assignments/fetch", data={"course_id": "adcourse", "assignment_id": A})
    assert fetched.status_code == 200 and fetched.json().get("success"), fetched.text
    path = f"/api/contents/{A}/{A}.ipynb"
    notebook = hub.server("GET", student, path).json()["content"]
    answers = solutions(EXERCISES, A)
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    saved = hub.server("PUT", student, path, data=json.dumps({"type": "notebook", "format": "json",
                                                               "content": notebook}))
    assert saved.status_code in (200, 201), saved.text
    submitted = hub.server("POST", student, "/assignments/submit", data={"course_id": "adcourse", "assignment_id": A})
    assert submitted.status_code == 200 and submitted.json().get("success"), submitted.text
    steps["after_submit"] = hub.server("GET", student, "/assignments", params={"course_id": "adcourse"}).json()
    # The instructor collects and autogrades from Formgrader.
    collected = hub.server("POST", teacher, f"/formgrader/api/assignment/{A}/collect")
    assert collected.status_code == 200 and collected.json().get("success"), collected.text[-3000:]
    graded = hub.server("POST", teacher, f"/formgrader/api/submission/{A}/{student}/autograde")
    assert graded.status_code == 200, graded.text[-3000:]
    steps["autograde"] = graded.json()
    steps["submission"] = hub.server("GET", teacher, f"/formgrader/api/submission/{A}/{student}").json()
    return steps


def test_the_student_fetches_and_submits_through_the_assignment_list(term):
    released = [a for a in term["steps"]["listed"]["value"] if a["assignment_id"] == A]
    assert released and released[0]["status"] == "released", term["steps"]["listed"]
    entries = [a for a in term["steps"]["after_submit"]["value"] if a["assignment_id"] == A]
    assert any(a["status"] == "fetched" for a in entries), entries
    submissions = [s for a in entries for s in a.get("submissions", [])]
    assert len(submissions) == 1 and submissions[0]["status"] == "submitted", entries


def test_the_instructor_autogrades_the_submission_in_formgrader(term):
    assert term["steps"]["autograde"]["success"], term["steps"]["autograde"]
    submission = term["steps"]["submission"]
    assert submission["score"] == 8.0 and submission["max_score"] == 10.0, submission
    assert "kernels run in the bubblewrap sandbox" in term["steps"]["autograde"]["log"]


def test_the_course_hooks_run_under_formgrader(term):
    """Formgrader's converters run the hooks as the command line does: the release is recorded,
    and the gradebook is backed up and the submissions scanned before autograde writes anything."""
    log = term["steps"]["autograde"]["log"]
    assert "hook failed" not in log, log[-3000:]
    assert "[adgrader] gradebook backed up to" in log, log[-3000:]
    assert len(term["steps"]["backups"]) == 1, term["steps"]["backups"]
    assert term["steps"]["released_cells"]


def test_students_get_no_formgrader(term):
    assert term["steps"]["student_extensions"] == 404


def test_everything_started_is_stopped(term):
    assert term["hub_exit"] is not None
    assert term["leftover"] == [], term["leftover"]


# -- Kubernetes: Zero to JupyterHub's values, for a class beyond one machine -----------------

def test_the_helm_values_are_valid_and_name_only_the_course_image():
    values = yaml.safe_load((DEPLOY / "zero-to-jupyterhub.yaml").read_text(encoding="utf-8"))
    images = []

    def walk(node, key=""):
        if isinstance(node, dict):
            if {"name", "tag"} <= set(node) and key.endswith("image"):
                images.append(f"{node['name']}:{node['tag']}")
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
    walk(values)
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    built = re.search(r"^# image: (\S+)$", dockerfile, re.MULTILINE).group(1)
    assert images and set(images) == {built}, images
    singleuser = values["singleuser"]
    assert singleuser["image"]["name"] + ":" + singleuser["image"]["tag"] == built
    mounts = {m["name"]: m["mountPath"] for m in singleuser["storage"]["extraVolumeMounts"]}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in singleuser["storage"]["extraVolumes"]}
    assert mounts == {"exchange": "/srv/nbgrader/exchange"} and set(claims) == {"exchange"}
    assert singleuser["extraEnv"]["ADCOURSE_EXCHANGE"] == "/srv/nbgrader/exchange"
