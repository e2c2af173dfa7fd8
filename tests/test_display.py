"""Numbers in the typography of the page's language: adcourse.display."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from adcourse import display  # noqa: E402
from adcourse.display import NARROW_NBSP as S, number, russian_plural, times  # noqa: E402
from adcourse.graph import forward_table, set_language, trace_graph  # noqa: E402
import adcourse.numpy as anp  # noqa: E402


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    display.set_language("en")


@pytest.mark.parametrize("value,spec,en,ru", [
    (3.14159, ".2f", "3.14", "3,14"),
    (100663291, "d", "100,663,291", f"100{S}663{S}291"),
    (100000, "", "100,000", f"100{S}000"),
    (1000, "", "1000", "1000"),
    (2.2e-16, ".1e", "2.2 × 10⁻¹⁶", "2,2 · 10⁻¹⁶"),
    (1e-8, ".0e", "10⁻⁸", "10⁻⁸"),
    (-0.5, ".1f", "−0.5", "−0,5"),
    (12345.678, ".1f", "12,345.7", f"12{S}345,7"),
    (0.1234, ".1%", "12.3%", f"12,3{S}%"),
    (np.float64(0.693147), ".6g", "0.693147", "0,693147"),
    (float("inf"), ".3g", "∞", "∞"),
])
def test_numbers_in_both_languages(value, spec, en, ru):
    assert number(value, spec, "en") == en
    assert number(value, spec, "ru") == ru
    assert type(number(value, spec, "ru")) is str  # glue:text shows a str without quotes


@pytest.mark.parametrize("n,form", [(1, "раз"), (2, "раза"), (4, "раза"), (5, "раз"), (11, "раз"),
                                    (12, "раз"), (14, "раз"), (21, "раз"), (22, "раза"),
                                    (82, "раза"), (122, "раза"), (111, "раз"), (2.5, "раза")])
def test_the_plural_of_raz_agrees_with_its_number(n, form):
    assert russian_plural(n, "раз", "раза", "раз") == form


def test_times_agrees_with_the_rounded_number():
    assert times(82.4, ".0f", "ru") == "в 82 раза"
    assert times(4.96, ".0f", "ru") == "в 5 раз"
    assert times(4.5, ".1f", "ru") == "в 4,5 раза"
    assert times(139.2, ".0f", "en") == "139 times"


def test_step_tables_speak_the_page_language():
    graph = trace_graph(lambda w1, w2: w2 * anp.log(w1), 2.0, 3.0)
    set_language("ru")
    table = str(forward_table(graph, (1.0, 0.0)))
    assert "0,693147" in table and "0.693147" not in table and "Прямой режим" in table
    set_language("en")
    assert "0.693147" in str(forward_table(graph, (1.0, 0.0)))


def test_russian_plots_get_decimal_commas():
    display.set_language("ru")
    fig, ax = plt.subplots()
    ax.plot([0.0, 1.5], [0.25, 0.75])
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert any("," in label for label in labels) and not any("." in label for label in labels), labels
    plt.close(fig)
    display.set_language("en")
    fig, ax = plt.subplots()
    ax.plot([0.0, 1.5], [0.25, 0.75])
    fig.canvas.draw()
    assert any("." in t.get_text() for t in ax.get_yticklabels())
    plt.close(fig)


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="not one of"):
        display.set_language("de")


def test_animation_player_speaks_the_page_language():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import animation
    from adcourse.display import animation_html
    fig = plt.figure()
    anim = animation.FuncAnimation(fig, lambda i: None, frames=2)
    try:
        set_language("ru")
        html = animation_html(anim)
        assert 'title="Пауза"' in html and ">По кругу</label>" in html
        assert 'title="Pause"' not in html and ">Loop</label>" not in html
        set_language("en")
        assert ">Loop</label>" in animation_html(anim)
    finally:
        set_language("en")
        plt.close(fig)
