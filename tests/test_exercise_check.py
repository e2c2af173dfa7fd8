"""adcourse.exercise.check: the chapters' self-checks say right, wrong (and why), or not done yet."""
import numpy as np
import pytest

from adcourse import display
from adcourse.exercise import WrongAnswer, check


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    display.set_language("en")


INPUTS = [np.array([0.5, -1.0]), np.array([2.0, 3.0])]


def test_a_right_answer_passes_whatever_its_types(capsys):
    assert check(lambda x: [float(x[0]), x[1]], lambda x: (x[0], x[1]), INPUTS) is None
    assert "Correct" in capsys.readouterr().out


def test_a_wrong_answer_says_where_and_by_how_much():
    with pytest.raises(WrongAnswer, match=r"Case 1: off by 0\.5"):
        check(lambda x: x + 0.5, lambda x: x, INPUTS)
    with pytest.raises(WrongAnswer, match="shape"):
        check(lambda x: x[:1], lambda x: x, INPUTS)
    with pytest.raises(WrongAnswer, match="raised ZeroDivisionError"):
        check(lambda x: 1 / 0, lambda x: x, INPUTS)
    with pytest.raises(WrongAnswer):
        check(lambda x: x * np.nan, lambda x: x, INPUTS)


def test_an_unfinished_exercise_is_not_an_error(capsys):
    def starter(x):
        raise NotImplementedError
    check(starter, lambda x: x, INPUTS)
    assert "Not done yet" in capsys.readouterr().out


def test_messages_in_russian_have_no_english(capsys):
    display.set_language("ru")
    with pytest.raises(WrongAnswer) as wrong:
        check(lambda x: x + 0.25, lambda x: x, INPUTS)
    assert "Проверка 1: расхождение 0,25" in str(wrong.value)
    with pytest.raises(WrongAnswer, match="последовательность из 2"):
        check(lambda x: x[0], lambda x: (x[0], x[1]), INPUTS)
    check(lambda x: x, lambda x: x, INPUTS)
    assert capsys.readouterr().out.startswith("Верно")
