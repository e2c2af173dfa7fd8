"""Self-checks for the chapters' coding exercises: run the reader's function, compare, explain.

    check(my_function, reference, inputs)   # prints "Correct" or raises WrongAnswer, saying why

A reader who has not written the function yet (it raises NotImplementedError) is told so,
without an error, so that a notebook still runs from top to bottom. Messages follow
``adcourse.display.set_language``.
"""
import numpy as np

from . import display

_MESSAGES = {
    "en": {"todo": "Not done yet: complete the cell above, run it, then run this check again.",
           "ok": "Correct: {n} cases agree with the reference.",
           "raised": "Case {k}: your function raised {error}.",
           "structure": "Case {k}: expected a sequence of {n} values, got {got}.",
           "shape": "Case {k}: expected shape {expected}, got shape {got}.",
           "value": "Case {k}: off by {error} (allowed {allowed}); input {args}, "
                    "expected {expected}, got {got}."},
    "ru": {"todo": "Ещё не сделано: допишите ячейку выше, выполните её и запустите проверку снова.",
           "ok": "Верно: все проверки ({n}) совпали с эталоном.",
           "raised": "Проверка {k}: ваша функция выбросила исключение {error}.",
           "structure": "Проверка {k}: ожидалась последовательность из {n} значений, получено {got}.",
           "shape": "Проверка {k}: ожидалась форма {expected}, получена {got}.",
           "value": "Проверка {k}: расхождение {error} (допустимо {allowed}); вход {args}, "
                    "ожидалось {expected}, получено {got}."},
}


class WrongAnswer(AssertionError):
    """The reader's function disagrees with the reference; the message says where and by how much."""


def _say(key, **fields):
    return _MESSAGES[display.language()][key].format(**fields)


def _short(x):
    with np.printoptions(precision=4, threshold=8, edgeitems=2):
        text = repr(np.asarray(x)) if not isinstance(x, (tuple, list)) else repr(x)
    return text if len(text) <= 120 else text[:117] + "..."


def _compare(got, expected, k, args, rtol, atol):
    """Raise WrongAnswer unless got equals expected (any sequence for a tuple, to rtol)."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise WrongAnswer(_say("structure", k=k, n=len(expected), got=_short(got)))
        for g, e in zip(got, expected):
            _compare(g, e, k, args, rtol, atol)
        return
    got_array, expected_array = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got_array.shape != expected_array.shape:
        raise WrongAnswer(_say("shape", k=k, expected=expected_array.shape, got=got_array.shape))
    error = float(np.max(np.abs(got_array - expected_array), initial=0.0))
    allowed = atol + rtol * float(np.max(np.abs(expected_array), initial=0.0))
    if not error <= allowed:  # also catches nan
        raise WrongAnswer(_say("value", k=k, error=display.number(error, ".2g"),
                               allowed=display.number(allowed, ".2g"), args=_short(args),
                               expected=_short(expected), got=_short(got)))


def check(function, reference, inputs, rtol=1e-8, atol=1e-10):
    """Compare ``function(*args)`` with ``reference(*args)`` for every ``args`` in ``inputs``,
    and print the verdict (it returns nothing, so a notebook shows only the message).

    Values are compared, not types: a list may stand for a tuple, an int for a float.
    """
    inputs = [args if isinstance(args, tuple) else (args,) for args in inputs]
    for k, args in enumerate(inputs, start=1):
        copies = tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in args)
        try:
            got = function(*copies)
        except NotImplementedError:
            print(_say("todo"))
            return
        except Exception as error:  # noqa: BLE001 - the reader's bug, reported as such
            raise WrongAnswer(_say("raised", k=k, error=f"{type(error).__name__}: {error}")) from error
        _compare(got, reference(*args), k, args, rtol, atol)
    print(_say("ok", n=len(inputs)))
