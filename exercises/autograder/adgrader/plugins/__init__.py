"""The course's additions to nbgrader's own pipelines, one module per stage, wired in by
``nbgrader_config.py``. They run in nbgrader's process, never in a grading kernel.

- ``sanitize``  (``Autograde.sanitize_preprocessors``, before any student code runs):
  ``ReportTampering``, ``ForgetDuplicateIds``, ``StudentCodePolicy``;
- ``execute``   (``Autograde.autograde_preprocessors``): ``ResilientExecute``;
- ``feedback``  (``GenerateFeedback.preprocessors``): ``HideHiddenTestLines``, ``DescribeFigures``, ``OfflineMathJax``;
- ``hooks``     (``Autograde.pre_convert_hook``): ``before_autograde`` stops the run if its
  kernels could not be sandboxed (``adgrader/sandbox.py``), backs up the gradebook and
  reports unreadable or missing notebooks; (``GenerateAssignment.post_convert_hook``)
  ``after_release`` records the released versions of the locked cells (``releases``).
"""


def _where(resources):
    nbg = resources.get("nbgrader", {})
    return f"{nbg.get('assignment', '?')}/{nbg.get('student', '?')}"



def _report(resources):
    return resources.setdefault("adgrader_report", [])
