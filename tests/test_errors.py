"""Bad input gets an error that names the culprit and the fix."""
import numpy as np
import pytest

import adcourse
import adcourse.numpy as anp


def test_grad_of_a_non_scalar_output_gives_the_shape_and_the_alternatives():
    with pytest.raises(TypeError, match=r"scalar output.*shape \(3,\).*jacrev.*vjp"):
        adcourse.grad(anp.sin)(np.ones(3))
    with pytest.raises(TypeError, match=r"shape \(1,\)"):
        adcourse.grad(lambda x: x * 2.0)(np.ones(1))


@pytest.mark.parametrize("bad, word", [(2, "integer"), (np.arange(3), "integer"),
                                        (True, "boolean"), ("2.0", "non-numeric"),
                                        (None, "non-numeric")])
def test_integer_and_non_numeric_inputs(bad, word):
    with pytest.raises(TypeError, match=word):
        adcourse.grad(lambda x: anp.sum(x * 1.0))(bad)
    with pytest.raises(TypeError, match=word):
        adcourse.jvp(lambda x: x, (bad,), (1.0,))


def test_integer_error_says_how_to_fix():
    with pytest.raises(TypeError, match=r"grad: argument 0 .*2\.0, not 2"):
        adcourse.grad(anp.sin)(2)


@pytest.mark.parametrize("call, name", [
    (lambda x: np.sin(x), "numpy.sin"),
    (lambda x: np.sum(x), "numpy.sum"),
    (lambda x: np.exp(x).sum(), "numpy.exp"),
    (lambda x: np.tanh(x) @ x, "numpy.tanh"),
])
def test_plain_numpy_on_a_traced_value_names_the_function_and_its_twin(call, name):
    short = name.split(".")[1]
    with pytest.raises(TypeError, match=rf"{name} was applied to a traced value.*adcourse\.numpy\.{short}"):
        adcourse.grad(lambda x: anp.sum(call(x)))(np.ones(3))


def test_converting_a_traced_value_to_a_numpy_array():
    with pytest.raises(TypeError, match=r"plain numpy array.*anp\.stack"):
        adcourse.grad(lambda x: anp.sum(np.array([x[0], x[1]])))(np.ones(2))
    with pytest.raises(TypeError, match="float\\(\\) of a traced value"):
        adcourse.grad(lambda x: float(x))(1.0)


def test_in_place_assignment_on_a_traced_value():
    def f(x):
        x[0] = 0.0
        return anp.sum(x)
    with pytest.raises(TypeError, match=r"in-place assignment.*anp\.where"):
        adcourse.grad(f)(np.ones(3))

    def g(x):  # a traced value written into a plain numpy array
        out = np.zeros(4)
        out[:2] = x
        return anp.sum(out)
    with pytest.raises(TypeError, match=r"traced value was turned into a plain numpy array"):
        adcourse.grad(g)(np.ones(2))


def test_tangents_and_cotangents_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(2,\) but its primal has shape \(3,\)"):
        adcourse.jvp(anp.sin, (np.ones(3),), (np.ones(2),))
    with pytest.raises(TypeError, match="tuples"):
        adcourse.jvp(anp.sin, np.ones(3), np.ones(3))
    _, pullback = adcourse.vjp(anp.sin, np.ones(3))
    with pytest.raises(ValueError, match=r"cotangent 0 has shape \(4,\) but the output has shape \(3,\)"):
        pullback(np.ones(4))
    with pytest.raises(ValueError, match="not structured like"):
        adcourse.jvp(lambda x, y: x * y, (1.0, 2.0), (1.0,))


def test_bad_argnums():
    with pytest.raises(ValueError, match="argnums=2"):
        adcourse.grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)


def test_output_that_does_not_depend_on_the_input_has_zero_derivative():
    assert adcourse.grad(lambda x: 3.0)(1.0) == 0.0
    assert adcourse.jvp(lambda x: 3.0, (1.0,), (1.0,))[1] == 0.0
