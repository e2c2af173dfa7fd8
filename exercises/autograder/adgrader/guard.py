"""What the hidden checks stand on inside the grading kernel.

The grading kernel imports this module at start-up (``kernel_startup.py``), before any
student code runs, so the references below are the genuine numpy, JAX and ``adcourse``
functions even if a submission later rebinds ``np.allclose``, ``numpy.testing`` or
``adcourse.grad``. The rules for answer cells (``adcourse.answer_cells``) keep such code from
running at all; this is the second line, for whatever the first one lets through.

Four tools:
- ``assert_close``, ``assert_equal`` and ``as_sequence`` judge values, not representations (a
  list for a tuple, a numpy scalar or an int-valued float for an int), and fail with a message
  that says what was expected and what came, never how the check computed it;
- ``call_student`` runs a student's function while a profiler watches for calls into the
  transforms the task asks the student to write (JAX, HIPS autograd, ``adcourse``'s own);
- ``recorder`` counts and records a function's calls out of the student's reach;
- ``without_grader_frames``, IPython's handler of exceptions in the grading kernel, leaves the
  checks' own frames out of every traceback, so feedback shows the message, the student's
  frames, and nothing of the checks.
"""

import builtins
import contextlib
import gc
import importlib
import importlib.util
import os
import sys
import threading
import warnings
import zlib

import numpy as np

# The genuine functions, bound before any submission runs.
_array, _float64, _isfinite, _nanmax, _abs, _all, _errstate = (
    np.array, np.float64, np.isfinite, np.nanmax, np.abs, np.all, np.errstate)
_isinstance = builtins.isinstance
_setprofile, _getprofile, _thread_setprofile = sys.setprofile, sys.getprofile, threading.setprofile
_catch_warnings, _simplefilter = warnings.catch_warnings, warnings.simplefilter
_gc_collect, _gc_disable, _gc_enable, _gc_isenabled = gc.collect, gc.disable, gc.enable, gc.isenabled
_PROFILE_SETTERS = (sys.setprofile, sys.settrace, threading.setprofile, threading.settrace)
_THIS_FILE = __file__


class HiddenCheckFailed(AssertionError):
    """A hidden check found a wrong answer (the message says which and how far off)."""


def fail(message):
    """Fail the running test with ``message``."""
    raise HiddenCheckFailed(message)


def without_grader_frames(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler in the grading kernel (``kernel_startup.py``): shows
    the usual traceback, minus the frames of the hidden checks (modules ``adgrader.*``)."""
    kept = []
    while tb is not None:
        if not str(tb.tb_frame.f_globals.get("__name__", "")).startswith("adgrader"):
            kept.append(tb)
        tb = tb.tb_next
    for outer, inner in zip(kept, kept[1:]):
        outer.tb_next = inner
    if kept:
        kept[-1].tb_next = None
    shown = shell.InteractiveTB.structured_traceback(etype, value, kept[0] if kept else None,
                                                     tb_offset=tb_offset)
    shell._showtraceback(etype, value, shown)  # what IPython's showtraceback would have done
    return shown


def seed(label):
    """A fixed seed per check, from its name: the same inputs on every run."""
    return zlib.crc32(label.encode())


# -- comparisons ------------------------------------------------------------------------

def as_float_array(value, what):
    """The answer as a float64 array (a plain copy: no subclass, no lazy object)."""
    try:
        with _errstate(all="ignore"):
            return _array(value, dtype=_float64, copy=True, subok=False)
    except Exception as error:  # noqa: BLE001 - any failure to read the answer is the answer's
        fail(f"{what}: could not read the answer as an array of floats "
             f"({type(error).__name__}: {error})")


def assert_close(actual, expected, *, what, rtol=1e-8, atol=1e-10):
    """|actual − expected| ≤ atol + rtol·max|expected|, element by element, same shape."""
    a = as_float_array(actual, what)
    e = _array(expected, dtype=_float64, copy=True)
    if a.shape != e.shape:
        fail(f"{what}: the answer has shape {a.shape}, expected {e.shape}")
    if not _all(_isfinite(a)):
        fail(f"{what}: the answer contains nan or inf")
    scale = float(_nanmax(_abs(e))) if e.size else 0.0
    error = float(_nanmax(_abs(a - e))) if e.size else 0.0
    if not error <= atol + rtol * scale:
        fail(f"{what}: off by {error:.3g} (allowed {atol + rtol * scale:.3g})")


def _is_number(value):
    return _isinstance(value, (int, float, np.integer, np.floating)) and not _isinstance(value, (bool, np.bool_))


def shown(value):
    """A value as a message shows it: numpy scalars and int-valued floats as plain numbers."""
    if _isinstance(value, (tuple, list)):
        inner = ", ".join(shown(v) for v in value)
        return f"({inner})" if _isinstance(value, tuple) else f"[{inner}]"
    if _is_number(value):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 2 ** 53 else repr(number)
    return repr(value)


def as_sequence(answer, length, what):
    """The answer as a list of ``length`` items: a tuple, list, array or any other sequence."""
    try:
        items = list(answer)
    except TypeError:
        items = None
    if items is None or _isinstance(answer, (str, bytes, dict)) or len(items) != length:
        fail(f"{what}: expected a sequence of {length} values, got {type(answer).__name__} "
             f"{shown(answer)[:200]}")
    return items


def same_value(actual, expected):
    """Equal as values: numbers of any type (an int-valued float for an int), and sequences of
    the same length with equal items for a tuple."""
    if _isinstance(expected, tuple):
        try:
            items = list(actual)
        except TypeError:
            return False
        return len(items) == len(expected) and all(same_value(a, e) for a, e in zip(items, expected))
    if _isinstance(actual, np.ndarray) and actual.shape == ():
        actual = actual[()]
    return _is_number(actual) and float(actual) == float(expected)


def assert_equal(actual, expected, *, what):
    """Exact equality of counts and other whole numbers, judged as values."""
    if not same_value(actual, expected):
        fail(f"{what}: expected {shown(expected)}, got {shown(actual)}")


def get(namespace, name, task):
    """The student's ``name`` from the notebook's namespace, or a clear failure."""
    if name not in namespace:
        fail(f"{task}: `{name}` is not defined; run the cell that defines it")
    return namespace[name]


# -- what a task forbids ----------------------------------------------------------------

def _package_dir(name):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "")


def _module_file(name):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec else None


# Other AD systems: no task may lean on them.
_FOREIGN_AD = tuple(d for d in map(_package_dir, ("jax", "jaxlib", "autograd", "torch", "scipy")) if d)


def _code_of(dotted):
    module, _, name = dotted.rpartition(".")
    obj = getattr(importlib.import_module(module), name)
    obj = getattr(obj, "__wrapped__", obj)
    return obj.__code__


class Forbidden:
    """What a task asks the student to write instead of calling.

    ``functions``: dotted names of functions (``"adcourse.hvp"``) whose bodies must not run;
    ``modules``: dotted names of modules (``"adcourse.finite_diff"``) none of whose code
    may run. JAX, jaxlib, HIPS autograd, torch and scipy are always forbidden.
    """

    def __init__(self, functions=(), modules=()):
        self.codes = {}
        for dotted in functions:
            self.codes[_code_of(dotted)] = dotted
        self.files = {}
        for dotted in modules:
            path = _module_file(dotted)
            if path:
                self.files[path] = dotted

    def culprit(self, code):
        """The forbidden thing a code object belongs to, or None."""
        if code in self.codes:
            return self.codes[code]
        filename = code.co_filename
        if filename in self.files:
            return self.files[filename]
        for prefix in _FOREIGN_AD:
            if filename.startswith(prefix):
                return os.path.basename(prefix.rstrip(os.sep))
        return None


ALL_TRANSFORMS = ("adcourse.grad", "adcourse.value_and_grad", "adcourse.jvp", "adcourse.vjp",
                  "adcourse.jacfwd", "adcourse.jacrev", "adcourse.hessian", "adcourse.hvp")
# adcourse's own transforms and the modules that implement them.
ENGINE_MODULES = ("adcourse.forward", "adcourse.reverse", "adcourse.transforms", "adcourse.graph")


def call_student(task, forbidden, fn, *args, **kwargs):
    """fn(*args, **kwargs), failing the task if it reaches anything ``forbidden`` names.

    A profiler sees every Python-level call made while fn runs (threads it starts
    included), so a forbidden transform is caught however it was reached: imported
    under another name, stored in a closure or a default argument. Turning the profiler
    off from inside fn is itself caught. Warnings are silenced: nbgrader takes any text
    on stderr in a test cell as a failure, and a warning is not a wrong answer.
    """
    hits = []

    def watch(frame, event, arg):
        if event == "call":
            culprit = forbidden.culprit(frame.f_code)
            if culprit and not hits:
                hits.append(culprit)
        elif event == "c_call" and frame.f_code.co_filename != _THIS_FILE \
                and any(arg is setter for setter in _PROFILE_SETTERS):
            hits.append("the profiler (sys.setprofile/settrace)")

    previous = _getprofile()
    # Finalizers of garbage left by earlier code would otherwise run inside fn, under the
    # profiler, and could be taken for fn's own calls: collect first, then pause the cycle
    # collector while fn runs. (Cheap: kernel_startup.py froze what the kernel held at start.)
    _gc_collect()
    gc_was_enabled = _gc_isenabled()
    _gc_disable()
    with _catch_warnings():
        _simplefilter("ignore")
        _setprofile(watch)
        _thread_setprofile(watch)
        try:
            result = fn(*args, **kwargs)
        finally:
            still_watching = _getprofile() is watch
            _setprofile(previous)
            _thread_setprofile(None)
            if gc_was_enabled:
                _gc_enable()
    if not still_watching and not hits:
        hits.append("the profiler (sys.setprofile/settrace)")
    if hits:
        fail(f"{task}: your code called {hits[0]}, but this task asks you to write the method "
             f"yourself, so it scores 0 / ваш код вызвал {hits[0]}, а задание требует "
             f"реализовать метод самостоятельно, поэтому оно оценивается в 0")
    return result


def recorder(fn):
    """(wrapped, calls): ``wrapped`` calls fn and appends a copy of its arguments to
    ``calls``, to check a method's cost in evaluations and where it evaluated.

    The record lives in a closure, not in attributes of ``wrapped``, so the student's code
    it is handed to cannot shorten it.
    """
    calls = []

    def wrapped(*args):
        calls.append(tuple(_array(a, dtype=_float64, copy=True) if _isinstance(a, np.ndarray) else a
                           for a in args))
        return fn(*args)

    return wrapped, calls


@contextlib.contextmanager
def quiet():
    """No warnings on stderr while the check computes its references."""
    with _catch_warnings(), _errstate(all="ignore"):
        _simplefilter("ignore")
        yield
