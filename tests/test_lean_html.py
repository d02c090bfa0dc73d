"""sphinxext/lean_html.py drops only token spans that change nothing on screen, and
embeds the widget state compactly (the same value in fewer bytes)."""

import configparser
import importlib.util
import json
from pathlib import Path

import pydata_sphinx_theme
import pytest
from pygments.styles import get_style_by_name
from pygments.token import Name, Punctuation, Text, Whitespace

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "lean_html", ROOT / "sphinxext" / "lean_html.py"
)
lean_html = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lean_html)

TOKENS = {"n": Name, "p": Punctuation, "w": Whitespace}


def _theme_styles():
    conf = configparser.ConfigParser()
    conf.read(
        Path(pydata_sphinx_theme.__file__).parent
        / "theme"
        / "pydata_sphinx_theme"
        / "theme.conf"
    )
    return [conf["options"][k] for k in ("pygments_light_style", "pygments_dark_style")]


@pytest.mark.parametrize("style_name", _theme_styles())
def test_the_stripped_tokens_are_drawn_in_the_text_colour(style_name):
    style = get_style_by_name(style_name)
    text = style.style_for_token(Text)
    assert set(lean_html.PLAIN) == set(TOKENS)
    for cls, token in TOKENS.items():
        drawn = style.style_for_token(token)
        assert (drawn["color"], drawn["bold"], drawn["italic"]) == (
            text["color"],
            text["bold"],
            text["italic"],
        ), f"{style_name}: .{cls} is styled unlike plain code text"


def test_strip_plain_spans_keeps_text_and_coloured_tokens():
    html = (
        '<p><span class="n">prose</span></p>'
        '<div class="highlight"><pre><span></span>'
        '<span class="n">y</span><span class="w"> </span><span class="o">=</span>'
        '<span class="w"> </span><span class="n">W</span><span class="w"> </span>'
        '<span class="o">@</span><span class="w"> </span><span class="n">x</span>'
        '<span class="p">(</span><span class="mi">1</span><span class="p">)</span>'
        '<span class="s2">&quot;a b&quot;</span>\n</pre></div>'
    )
    out = lean_html.strip_plain_spans(html)
    assert out == (
        '<p><span class="n">prose</span></p>'  # outside code blocks: untouched
        '<div class="highlight"><pre><span></span>'
        'y <span class="o">=</span> W <span class="o">@</span> x'
        '(<span class="mi">1</span>)<span class="s2">&quot;a b&quot;</span>\n'
        "</pre></div>"
    )


def test_widget_state_is_embedded_compactly_with_the_same_value():
    state = {
        "state": {
            "m": {
                "_esm": 'const s = "λ₁ − x"; // </script><!--',
                "W": [[1.0, -0.5], [0.25, 2.0]],
            }
        }
    }
    # as myst-nb embeds it: json.dumps' spaces and \u escapes, </script> escaped
    body = json.dumps(state).replace("</script>", r"<\/script>")
    lean = lean_html.compact_json(body)
    assert json.loads(lean) == state
    assert "</" not in lean and "λ₁ − x" in lean and ", " not in lean
    assert len(lean.encode()) < len(body.encode())
