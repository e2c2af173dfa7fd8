"""nbgrader for a student's server on the course's JupyterHub (deploy/jupyterhub_config.py).

The Assignments tab fetches from and submits to the course's exchange; nothing else.
"""
import os

c = get_config()  # noqa: F821 - provided by traitlets
c.Exchange.root = os.environ["ADCOURSE_EXCHANGE"]
c.CourseDirectory.course_id = "adcourse"
