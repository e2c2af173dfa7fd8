# Where a grading kernel's start-up seconds go: benchmarks/bench_autograde.py copies this file
# into its temporary course's autograder/ folder and runs it in each kernel (ipykernel's
# exec_files) before and after the course's kernel_startup.py. Never part of the course.
#
# First run: marks the time (CLOCK_MONOTONIC, shared with nbgrader's process) and times every
# outermost import from then on (kernel_startup.py's, the hidden checks', the notebook's).
# Second run: marks the end of kernel_startup.py. nbgrader's side (autograde_timing.py) reads
# the record, `report()` of module `adgrader_probe`, before it shuts the kernel down.

def _adgrader_probe():
    import builtins
    import json
    import sys
    import time
    import types

    probe = sys.modules.get("adgrader_probe")
    if probe is not None:
        probe.marks["kernel_startup.py done"] = time.monotonic()
        return
    probe = types.ModuleType("adgrader_probe")
    probe.marks = {"probe": time.monotonic()}
    probe.imports = []  # (module, seconds, during start-up?)
    sys.modules["adgrader_probe"] = probe
    genuine_import, depth = builtins.__import__, [0]

    def timed_import(name, globals=None, locals=None, fromlist=(), level=0):
        if depth[0] or level or name in sys.modules:
            return genuine_import(name, globals, locals, fromlist, level)
        depth[0] += 1
        started = time.monotonic()
        try:
            return genuine_import(name, globals, locals, fromlist, level)
        finally:
            depth[0] -= 1
            probe.imports.append((name, time.monotonic() - started,
                                  "kernel_startup.py done" not in probe.marks))

    builtins.__import__ = timed_import
    probe.report = lambda: json.dumps({"marks": probe.marks, "imports": probe.imports})


_adgrader_probe()
del _adgrader_probe
