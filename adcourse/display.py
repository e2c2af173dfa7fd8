"""Numbers as a reader of the page's language expects them, in text, tables and plots.

English: 3.14, 100,663,291, 2.2 × 10⁻¹⁶, "82 times".
Russian: 3,14, 100 663 291 (thin no-break spaces), 2,2 · 10⁻¹⁶, «в 82 раза», «в 5 раз».

``set_language("ru")`` switches every output of the package at once: these helpers, the step
tables of ``adcourse.graph``, and the tick labels of matplotlib figures made afterwards.
"""
import math
import numbers

_LANGUAGES = ("en", "ru")
_language = "en"
NARROW_NBSP = "\u202f"      # the thin no-break space that groups digits in Russian
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def set_language(language):
    """The language of numbers, tables and plot ticks from now on: "en" or "ru"."""
    global _language
    if language not in _LANGUAGES:
        raise ValueError(f"set_language: {language!r} is not one of {list(_LANGUAGES)}")
    _language = language
    _localize_new_figures(language == "ru")


def language():
    """The current language, "en" or "ru"."""
    return _language


def _group(digits, separator):
    """'100663291' -> '100 663 291': groups of three, only from five digits on (1000, 10 000)."""
    if len(digits) < 5:
        return digits
    head = len(digits) % 3 or 3
    return separator.join([digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)])


def _localize(plain, lang):
    """A number as Python printed it ('-1234567.5', '2.2e-16') in the typography of ``lang``."""
    sign, plain = ("−", plain[1:]) if plain.startswith("-") else ("", plain)
    mantissa, _, exponent = plain.lower().partition("e")
    whole, dot, fraction = mantissa.partition(".")
    comma, point, times = (NARROW_NBSP, ",", "·") if lang == "ru" else (",", ".", "×")
    text = _group(whole, comma) + (point + fraction if dot else "")
    if exponent:
        power = str(int(exponent)).translate(_SUPERSCRIPT)
        text = f"10{power}" if text == "1" else f"{text} {times} 10{power}"
    return sign + text


def number(x, spec=".3g", lang=None):
    """``format(x, spec)`` in the page's typography: number(1234567.891, ",.1f") is
    '1,234,567.9' in English and '1 234 567,9' in Russian; 'e' and 'g' specs give powers of ten.

    Integers and digit-grouping need no ``,`` in the spec: five digits and more are grouped.
    Glue the string itself: ``{glue:text}`` shows a glued str without its quotes.
    """
    lang = lang or _language
    if isinstance(x, numbers.Integral) and not spec.endswith(("e", "f", "g", "%")):
        spec = "d"
    value = float(x) if not isinstance(x, numbers.Integral) else int(x)
    if isinstance(value, float) and not math.isfinite(value):
        return {"inf": "∞", "-inf": "−∞"}.get(str(value), str(value))
    percent = spec.endswith("%")
    plain = format(value, spec.replace(",", "").replace("_", ""))
    if percent:
        plain = plain[:-1]
    text = _localize(plain, lang)
    if percent:
        text += f"{NARROW_NBSP}%" if lang == "ru" else "%"
    return text


def russian_plural(n, one, few, many):
    """The form of a Russian noun that agrees with n: 1 раз, 2 раза, 5 раз, 21 раз, 12 раз.

    A number that is not whole takes the form of 'few' in the genitive singular (2,5 раза).
    """
    if not float(n).is_integer():
        return few
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def times(x, spec=".3g", lang=None):
    """A ratio as a factor in words: '82 times' / 'в 82 раза', '5 times' / 'в 5 раз'.

    The number is rounded by ``spec`` first, and the Russian plural agrees with what is shown.
    """
    lang = lang or _language
    shown = number(x, spec, lang)
    if lang == "en":
        return f"{shown} times"
    value = float(format(float(x), spec.replace(",", "")))
    return f"в {shown} {russian_plural(value, 'раз', 'раза', 'раз')}"


# -- plots ------------------------------------------------------------------------------------

_HOOK = "adcourse.display:localize_figure"


def _localize_new_figures(on):
    """Add (or remove) ``localize_figure`` to matplotlib's hooks for new pyplot figures."""
    try:
        import matplotlib
    except ImportError:  # plots are optional; numbers in text work without matplotlib
        return
    hooks = [h for h in matplotlib.rcParams["figure.hooks"] if h != _HOOK]
    matplotlib.rcParams["figure.hooks"] = hooks + [_HOOK] if on else hooks


def localize_figure(fig):
    """Make the linear axes of ``fig`` label their ticks in the current language when drawn.

    Installed for every new pyplot figure by ``set_language("ru")``; call it on a figure made
    otherwise. Only matplotlib's default number formatters are replaced: a formatter the figure
    chose itself is left as it is.
    """
    from matplotlib.ticker import ScalarFormatter

    class LocalizedScalarFormatter(ScalarFormatter):
        def __call__(self, x, pos=None):
            return _swap_separators(super().__call__(x, pos))

        def get_offset(self):
            return _swap_separators(super().get_offset())

    draw = fig.draw

    def localized_draw(renderer):
        if _language == "ru":
            for ax in fig.axes:
                for axis in (ax.xaxis, ax.yaxis):
                    formatter = axis.get_major_formatter()
                    if type(formatter) is ScalarFormatter:
                        axis.set_major_formatter(LocalizedScalarFormatter())
        return draw(renderer)

    fig.draw = localized_draw


def _swap_separators(label):
    """'0.5' -> '0,5' (outside $…$ a point between digits is a decimal point)."""
    out = []
    for i, ch in enumerate(label):
        between_digits = 0 < i < len(label) - 1 and label[i - 1].isdigit() and label[i + 1].isdigit()
        out.append("{,}" if ch == "." and between_digits and "$" in label else
                   "," if ch == "." and between_digits else ch)
    return "".join(out)


_PLAYER_RU = {  # the words of matplotlib's animation player (to_jshtml), as Russian says them
    "Decrease speed": "Медленнее", "First frame": "Первый кадр", "Increase speed": "Быстрее",
    "Last frame": "Последний кадр", "Next frame": "Следующий кадр", "Pause": "Пауза",
    "Play": "Воспроизвести", "Play backwards": "Воспроизвести назад",
    "Previous frame": "Предыдущий кадр", "Repetition mode": "Режим повтора",
    "Once": "Один раз", "Loop": "По кругу", "Reflect": "Туда и обратно",
}


def animation_html(anim, default_mode="once"):
    """The HTML player of a matplotlib animation, its buttons labelled in the page's language."""
    html = anim.to_jshtml(default_mode=default_mode)
    if _language == "ru":
        for english, russian in _PLAYER_RU.items():
            html = html.replace(f'title="{english}"', f'title="{russian}"')
            html = html.replace(f">{english}</label>", f">{russian}</label>")
    return html
