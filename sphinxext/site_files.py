"""Sphinx extension: the files at the site's root that make the site self-sufficient.

A reader who downloads a chapter (each page's download button gives its .ipynb) needs
lalib to run it. On every HTML build this extension puts at the root of the site:

- lalib's wheel, built with ``pip wheel --no-deps`` from a copy of the package sources
  (so the checkout gets no ``build/`` or ``*.egg-info`` directory); the wheel ships
  ``benchmarks/results/reference.*`` as package data (see pyproject.toml);
- ``requirements-reader.txt`` (from assets/): NumPy, Matplotlib, ipywidgets,
  scikit-learn, threadpoolctl and JupyterLab, pinned to the versions the book is tested
  with;
- ``favicon.ico`` (from assets/), for clients that ask for /favicon.ico without reading
  a page (pages name ``_static/favicon.svg``, see ``html.favicon`` in _config.yml).

It also adds the role ``{site-file}`name``` (or ``{site-file}`text <name>```), a link
from any page to one of those files; a name the build did not produce is a warning, so
the ``-W`` build fails instead of shipping a dead link. Finally it gives the search page
``search-snippets.js`` (from assets/), which shows math in the result snippets as
readable text instead of raw TeX.

Building the wheel takes a few seconds; it happens in every HTML build, including a
plain ``jupyter-book build`` with ``--path-output``, so every built site can be run.
"""

import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from docutils import nodes, utils
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.nodes import split_explicit_title

logger = logging.getLogger(__name__)

ASSETS = "assets"
COPIED = ("requirements-reader.txt", "favicon.ico")  # from assets/ to the site root
SEARCH_JS = "search-snippets.js"  # in assets/, served from _static/


def build_wheel(project: Path, dest: Path) -> Path:
    """Build the project's wheel into `dest` and return its path.

    The sources are copied first (pyproject.toml, the readme and the top-level packages
    that ``[tool.setuptools.packages.find] include`` names), so setuptools' build
    directories land in a temporary folder, not in the checkout.
    ``--no-build-isolation`` uses the running environment's setuptools: nothing is
    downloaded, so the build works offline.
    """
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    name = meta["project"]["name"]
    include = meta["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted({pattern.split(".")[0] for pattern in include})
    files = ["pyproject.toml", meta["project"].get("readme")]
    with tempfile.TemporaryDirectory(prefix=f"{name}-wheel-") as tmp:
        tree, dist = Path(tmp) / "src", Path(tmp) / "dist"
        tree.mkdir()
        for file in filter(None, files):
            shutil.copy2(project / file, tree / file)
        for package in packages:
            shutil.copytree(
                project / package,
                tree / package,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "local-*"),
            )
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps"]
        command += ["--no-build-isolation", "--quiet", "-w", str(dist), str(tree)]
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = sorted(dist.glob("*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            raise ExtensionError(
                f"building {name}'s wheel failed ({' '.join(command)}):\n"
                f"{proc.stdout}{proc.stderr}"
            )
        for stale in dest.glob(f"{name}-*.whl"):
            stale.unlink()
        return Path(shutil.copy2(wheels[0], dest / wheels[0].name))


def _make_site_files(app):
    """builder-inited: put the wheel and the copied assets at the output's root."""
    if app.builder.format != "html":
        return
    project, outdir = Path(app.srcdir), Path(app.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    served = {build_wheel(project, outdir).name}
    for name in COPIED:
        shutil.copy2(project / ASSETS / name, outdir / name)
        served.add(name)
    app.site_files = served
    logger.info(f"site files: {', '.join(sorted(served))}")


def site_file_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{site-file}`lalib-0.1.0-py3-none-any.whl``` -> a link to that file at the
    site's root, relative to the page (so it works from a file:// copy too)."""
    env = inliner.document.settings.env
    _, title, target = split_explicit_title(utils.unescape(text))
    served = getattr(env.app, "site_files", None)
    if served is not None and target not in served:
        logger.warning(
            f"site-file: {target!r} is not served at the site root "
            f"(the build made: {', '.join(sorted(served))})",
            location=(env.docname, lineno),
        )
    uri = "../" * env.docname.count("/") + target
    label = nodes.literal(title, title) if title == target else nodes.Text(title)
    node = nodes.reference(rawtext, "", label, refuri=uri, classes=["site-file"])
    return [node], []


def _search_page_js(app, pagename, templatename, context, doctree):
    """html-page-context: search-snippets.js on the search page only."""
    if pagename == "search":
        # The builder's method adds it to this page alone (app.add_js_file would also
        # register it for builders created later).
        app.builder.add_js_file(SEARCH_JS, priority=500)


def setup(app):
    app.connect("builder-inited", _make_site_files)
    app.connect("html-page-context", _search_page_js)
    app.add_role("site-file", site_file_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
