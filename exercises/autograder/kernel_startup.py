# Runs inside every kernel that nbgrader starts for this course (validate, autograde),
# before the first cell: nbgrader_config.py passes it to ipykernel as
# --IPKernelApp.exec_files. It runs in the notebook's namespace, so it leaves nothing there.

def _adcourse_grading_setup():
    import gc
    import os
    import resource
    import sys

    grader_dir = os.environ.get("ADGRADER_DIR") or os.path.dirname(os.path.abspath(__file__))

    # Only the installed packages and the grader's own checks are importable: a file that a
    # student submits beside the notebook (numpy.py, adgrader/...) cannot shadow them.
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
    sys.path.insert(0, grader_dir)  # even if IPython put it there for this file: it takes it back

    # A memory bomb raises MemoryError in the kernel instead of taking the machine down.
    limit = int(os.environ.get("ADGRADER_MEMORY_LIMIT_MB", "4096")) * 2**20
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # for a notebook that imports JAX
    import numpy  # noqa: F401  - imported before any student code, as are the two below
    import adcourse  # noqa: F401
    import adgrader.guard  # captures the genuine numpy and adcourse functions

    # What the notebook's locked cells import (ResilientExecute names them): a kernel started
    # ahead imports them while the previous submission runs. Nothing is bound in the notebook.
    import importlib
    for name in filter(None, os.environ.get("ADGRADER_PRELOAD", "").split(",")):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the notebook's own import will say what is wrong
            pass

    # Tracebacks without the hidden checks' frames (what feedback shows of a failed test).
    get_ipython().set_custom_exc((Exception,), adgrader.guard.without_grader_frames)  # noqa: F821

    # What the kernel holds so far (IPython, numpy, adcourse, the checks: ~100 000 objects)
    # lives as long as the kernel: the cycle collector need never look at it again. Every
    # guarded call of a student's function collects first (adgrader.guard.call_student), and
    # each collection then looks only at what the notebook made since: ~0.1 ms, not 40 ms.
    gc.freeze()
    adgrader.guard.kernel_set_up = True  # what ResilientExecute asks a kernel started ahead


_adcourse_grading_setup()
del _adcourse_grading_setup
