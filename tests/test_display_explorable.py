"""The explorables' base: the ES module bundler, the synced NumPy trait, the repr."""

import numpy as np
import pytest
import traitlets

from lalib.display import explorable
from lalib.display.explorable import JS_DIR, Array, Explorable, bundle


class _Demo(Explorable):
    _module = "lamath.js"
    W = Array((2, 2), default_value=[[1.0, 2.0], [3.0, 4.0]])
    v = Array((None,), default_value=[0.0])
    n = traitlets.Int(3).tag(sync=True)

    def describe(self):
        return f"Demo with W = {self.W.tolist()}"


def test_bundle_inlines_each_dependency_once_before_its_importers(
    tmp_path, monkeypatch
):
    (tmp_path / "a.js").write_text("export const A = 1;\n")
    (tmp_path / "b.js").write_text('import { A } from "./a.js";\nexport const B = A;\n')
    (tmp_path / "c.js").write_text(
        'import { A } from "./a.js";\nimport { B } from "./b.js";\n'
        "export default { render() { return A + B; } };\n"
    )
    monkeypatch.setattr(explorable, "JS_DIR", tmp_path)
    bundle.cache_clear()
    try:
        text = bundle("c.js")
    finally:
        bundle.cache_clear()
    assert "import" not in text
    assert text.count("export const A") == 1
    assert text.index("export const A") < text.index("export const B")
    assert text.index("export const B") < text.index("export default")


def test_bundle_keeps_only_the_declarations_it_uses_and_no_comment_lines(
    tmp_path, monkeypatch
):
    (tmp_path / "lib.js").write_text(
        "// a helper\n"
        "const SCALE = 2;\n"
        "function twice(v) {\n  return SCALE * v; // inline comments stay\n}\n"
        "/**\n * Documented.\n */\n"
        "export function used(v) {\n  return twice(v);\n}\n"
        "export function unused(v) {\n  return -v;\n}\n"
    )
    (tmp_path / "w.js").write_text(
        'import { used } from "./lib.js";\n'
        "export default { render() { return used(1); } };\n"
    )
    monkeypatch.setattr(explorable, "JS_DIR", tmp_path)
    bundle.cache_clear()
    try:
        text = bundle("w.js")
    finally:
        bundle.cache_clear()
    for kept in ("const SCALE", "function twice", "function used", "inline comments"):
        assert kept in text
    assert "unused" not in text
    assert "a helper" not in text and "Documented" not in text


def test_bundle_keeps_a_dependency_whole_when_it_is_not_only_declarations(
    tmp_path, monkeypatch
):
    (tmp_path / "lib.js").write_text(
        "export function a() { return 1; }\nconsole.log('side effect');\n"
    )
    (tmp_path / "w.js").write_text(
        'import { a } from "./lib.js";\nexport default { render() {} };\n'
    )
    monkeypatch.setattr(explorable, "JS_DIR", tmp_path)
    bundle.cache_clear()
    try:
        text = bundle("w.js")
    finally:
        bundle.cache_clear()
    assert "side effect" in text and "function a" in text


def test_bundle_refuses_imports_it_cannot_inline(tmp_path, monkeypatch):
    (tmp_path / "x.js").write_text('import * as m from "./y.js";\nexport default {};\n')
    monkeypatch.setattr(explorable, "JS_DIR", tmp_path)
    bundle.cache_clear()
    try:
        with pytest.raises(ValueError, match="single-line named imports"):
            bundle("x.js")
        with pytest.raises(ValueError, match="no explorable module 'nope.js'"):
            bundle("nope.js")
    finally:
        bundle.cache_clear()


def test_bundle_refuses_a_name_two_modules_declare(tmp_path, monkeypatch):
    """The modules share one scope in the bundle: a second top-level ``build`` would
    be a SyntaxError in the reader's browser, so bundling fails first, naming both."""
    (tmp_path / "ui.js").write_text(
        "function build(el) {\n  return el;\n}\nexport function h(t) {\n"
        "  return build(t);\n}\n"
    )
    (tmp_path / "w.js").write_text(
        'import { h } from "./ui.js";\n'
        "function build(m) {\n  return h(m);\n}\n"
        "export default { render(m) { return build(m); } };\n"
    )
    (tmp_path / "ok.js").write_text(
        'import { h } from "./ui.js";\n'
        "function make(m) {\n  function build(x) {\n    return x;\n  }\n"
        "  return h(build(m));\n}\n"
        "export default { render(m) { return make(m); } };\n"
    )
    monkeypatch.setattr(explorable, "JS_DIR", tmp_path)
    bundle.cache_clear()
    try:
        with pytest.raises(ValueError, match="w.js and ui.js both declare 'build'"):
            bundle("w.js")
        assert "function build(x)" in bundle("ok.js")  # nested: not top level
    finally:
        bundle.cache_clear()


def test_every_shipped_module_bundles_without_the_end_of_a_script_tag():
    # The bundle is stored in the page inside a <script> element: "</" would end it.
    for path in sorted(JS_DIR.glob("*.js")):
        text = bundle(path.name)
        assert "</" not in text, path.name


def test_subclass_gets_its_bundle_and_the_shared_css():
    assert _Demo._esm == bundle("lamath.js")
    assert ".la-explorable" in _Demo._css
    assert "_esm" not in Explorable.__dict__  # the base itself has no module


def test_array_trait_is_a_read_only_float_copy():
    demo = _Demo()
    source = np.array([[1, 0], [0, 1]])
    demo.W = source
    assert demo.W.dtype == np.float64
    source[0, 0] = 9
    assert demo.W[0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        demo.W[0, 0] = 5.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1.0, 2.0], r"W must have shape \(2, 2\), got \(2,\)"),
        (np.ones((3, 2)), r"W must have shape \(2, 2\), got \(3, 2\)"),
        ([[1.0, np.nan], [0.0, 1.0]], "W must be finite numbers"),
        ([["a", "b"], ["c", "d"]], r"W must be a real array of shape \(2, 2\)"),
    ],
)
def test_array_trait_names_the_shape_it_got_and_expected(value, message):
    with pytest.raises(ValueError, match=message):
        _Demo().W = value


def test_array_trait_with_a_free_size():
    demo = _Demo()
    demo.v = np.arange(5)
    assert demo.v.shape == (5,)
    with pytest.raises(ValueError, match=r"v must have shape \(n,\), got \(2, 2\)"):
        demo.v = np.eye(2)


def test_state_round_trip_is_nested_lists_in_and_arrays_out():
    demo = _Demo()
    state = demo.get_state()
    assert state["W"] == [[1.0, 2.0], [3.0, 4.0]]
    assert state["n"] == 3
    demo.set_state({"W": [[0.0, -1.0], [1.0, 0.0]]})  # as the browser sends it
    assert isinstance(demo.W, np.ndarray)
    np.testing.assert_array_equal(demo.W, [[0.0, -1.0], [1.0, 0.0]])


def test_repr_is_the_description():
    demo = _Demo()
    assert repr(demo) == "Demo with W = [[1.0, 2.0], [3.0, 4.0]]"
    assert demo._repr_mimebundle_()[0]["text/plain"] == repr(demo)
