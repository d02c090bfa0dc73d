"""Sphinx extension: keep every page self-contained, with no script that reaches out.

Jupyter Book 1.x always loads sphinx-thebe, which adds a "launch a Binder kernel" script
(thebe itself from unpkg.com on click) and declares its configuration once per build
pass, so the same ``const THEBE_JS_URL = ...`` body can be emitted twice and the browser
throws "Identifier 'THEBE_JS_URL' has already been declared" on every page. This book
has no live-kernel button (it stays interactive through precomputed widget state), so
the thebe scripts and stylesheet are dropped; any other script added twice is kept once.
"""

_THEBE_MARKERS = ("THEBE_JS_URL", "sphinx-thebe", "thebe_selector")


def _is_thebe(asset):
    text = " ".join(
        str(part) for part in (asset.filename, asset.attributes.get("body", ""))
    )
    return any(marker in text for marker in _THEBE_MARKERS)


def _clean_assets(app, pagename, templatename, context, doctree):
    for key in ("script_files", "css_files"):
        if key not in context:
            continue
        seen, kept = set(), []
        for asset in context[key]:
            ident = (str(asset.filename), str(asset.attributes.get("body", "")))
            if _is_thebe(asset) or ident in seen:
                continue
            seen.add(ident)
            kept.append(asset)
        context[key][:] = kept


def setup(app):
    # Run late, after every extension has added its assets to the page context.
    app.connect("html-page-context", _clean_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
