"""JupyterHub for a class taking adcourse, on one machine with local Unix accounts.

    sudo ADCOURSE_INSTRUCTORS=teacher ADCOURSE_STUDENTS=ann,boris \
         .venv/bin/jupyterhub -f deploy/jupyterhub_config.py

Run it as root from the repository (with `make test`'s or `make hub`'s environment installed):
it logs users in with their Unix password (PAM) and starts each one's server as that user.

- Every user gets JupyterLab in their home, running on the course's Python environment (this
  file's interpreter), so the notebooks' kernel is the course's: adcourse, numpy, JAX.
- Students get nbgrader's Assignments tab (fetch, validate, submit); instructors get
  Formgrader too, working on the course directory ADCOURSE_COURSE (default ~/exercises, a copy
  of the repository's exercises/ that the instructor owns).
- Both sides share nbgrader's exchange, ADCOURSE_EXCHANGE (default /srv/nbgrader/exchange,
  nbgrader's own default; create it with mode 0777 as nbgrader's documentation says).
- Autograding from Formgrader runs every kernel in the course's bubblewrap sandbox, as the
  command line does (exercises/autograder/adgrader/sandbox.py).

Settings come from the environment so that one file serves a class and the tests:
ADCOURSE_INSTRUCTORS, ADCOURSE_STUDENTS (comma-separated account names), ADCOURSE_EXCHANGE,
ADCOURSE_COURSE, ADCOURSE_HUB_STATE (the Hub's database and cookie secret, default
/srv/jupyterhub) and ADCOURSE_HUB_URL (default http://:8000, every interface: put TLS in front).
"""
import os
import pwd
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN = os.path.dirname(sys.executable)  # the course's environment: jupyterhub runs from it


def _names(variable):
    return {name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()}


INSTRUCTORS = _names("ADCOURSE_INSTRUCTORS")
STUDENTS = _names("ADCOURSE_STUDENTS")
EXCHANGE = os.environ.get("ADCOURSE_EXCHANGE", "/srv/nbgrader/exchange")
STATE = os.environ.get("ADCOURSE_HUB_STATE", "/srv/jupyterhub")

c = get_config()  # noqa: F821 - provided by traitlets

c.JupyterHub.bind_url = os.environ.get("ADCOURSE_HUB_URL", "http://:8000")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = "sqlite:///" + os.path.join(STATE, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(STATE, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(STATE, "jupyterhub.pid")
# The proxy from npm (package.json pins it; `npm ci` in the repository installs it).
c.ConfigurableHTTPProxy.command = [os.path.join(REPO, "node_modules", ".bin", "configurable-http-proxy")]

# Local accounts, by their Unix password; only the class may log in.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = INSTRUCTORS | STUDENTS
c.Authenticator.admin_users = set()  # instructors grade through their own server, not as Hub admins

# Each user's server: JupyterLab on the course's environment, as that user, in their home.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [os.path.join(BIN, "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "ADCOURSE_EXCHANGE": EXCHANGE,
                         "JAX_PLATFORMS": "cpu"}
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120


def give_each_role_its_extensions(spawner):
    """Students: the Assignments tab only (JUPYTER_CONFIG_PATH switches Formgrader and the
    course list off). Instructors: all of nbgrader, on their course directory."""
    name = spawner.user.name
    role = "instructor" if name in INSTRUCTORS else "student"
    spawner.environment["JUPYTER_CONFIG_PATH"] = os.path.join(HERE, "jupyter", role)
    if role == "instructor":
        home = pwd.getpwnam(name).pw_dir
        spawner.environment["ADCOURSE_COURSE"] = os.environ.get("ADCOURSE_COURSE", os.path.join(home, "exercises"))


c.Spawner.pre_spawn_hook = give_each_role_its_extensions
