"""nbgrader for an instructor's server on the course's JupyterHub (deploy/jupyterhub_config.py).

Formgrader and the nbgrader commands work on the course directory ADCOURSE_COURSE (a copy of
the repository's exercises/ that the instructor owns), whose own nbgrader_config.py nbgrader
loads next; releases and submissions go through the course's exchange.
"""
import os

c = get_config()  # noqa: F821 - provided by traitlets
c.CourseDirectory.root = os.environ["ADCOURSE_COURSE"]
c.Exchange.root = os.environ["ADCOURSE_EXCHANGE"]
