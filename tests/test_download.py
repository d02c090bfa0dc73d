"""Run a chapter the way a reader of the site does: from the site's own downloads.

The intro's "Run this book yourself" tells readers to download lalib's wheel and
requirements-reader.txt from the site, install them in a virtual environment, and open
a chapter saved with its page's download button. `test_a_downloaded_chapter_runs` does
that against the built site (`make build`), served over HTTP on 127.0.0.1: it follows
the links of the built pages, creates a fresh virtualenv (not the project's, no system
site-packages), pip installs the wheel with its `book` extra plus ipykernel and
nbclient (at the versions requirements-reader.txt and requirements.txt pin), and
executes the chapter with nbclient from a folder outside the checkout, so only the
installed wheel can provide lalib. pip needs PyPI or a warm pip cache. It is marked
`download` (`make download`, part of `make test`); the other tests here need no built
site and run in `make unit`.
"""

import json
import os
import re
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The built site; BOOK_SITE points the test at a build made with --path-output.
SITE = Path(os.environ.get("BOOK_SITE") or ROOT / "_build" / "html")
READER_REQUIREMENTS = ROOT / "assets" / "requirements-reader.txt"
CHAPTER = "01-layers"  # quick to run, and it uses lalib.display's widgets
WHEEL_NAME = re.compile(r"lalib-([0-9][^-\s]*)-py3-none-any\.whl")


def _pins(path):
    """{normalised name: version} of the `name==version` lines of a requirements
    file."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"{path.name}: {line!r} is not pinned with =="
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# --------------------------------------------------------------- no built site needed


def test_reader_pins_are_the_tested_versions():
    reader, tested = _pins(READER_REQUIREMENTS), _pins(ROOT / "requirements.txt")
    assert "jupyterlab" in reader, "readers open the chapters in JupyterLab"
    for name, version in reader.items():
        assert tested.get(name) == version, (
            f"requirements-reader.txt pins {name}=={version}, "
            f"requirements.txt {tested.get(name)}"
        )


def test_reader_pins_cover_lalib_and_its_book_extra():
    reader = _pins(READER_REQUIREMENTS)
    project = _pyproject()["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["book"]
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
        assert re.sub(r"[-_.]+", "-", name).lower() in reader, (
            f"lalib[book] needs {name}: pin it in requirements-reader.txt"
        )


def test_the_intro_names_the_wheel_the_build_makes():
    version = _pyproject()["project"]["version"]
    intro = (ROOT / "book" / "intro.md").read_text()
    assert f"{{site-file}}`lalib-{version}-py3-none-any.whl`" in intro
    assert "{site-file}`requirements-reader.txt`" in intro
    for path in (ROOT / "book" / "intro.md", READER_REQUIREMENTS):
        named = set(WHEEL_NAME.findall(path.read_text()))
        assert named == {version}, f"{path.name} names lalib {named}, not {version}"


def test_the_wheel_ships_chapter_7s_reference_results():
    data = _pyproject()["tool"]["setuptools"]["package-data"]["benchmarks"]
    for name in ("results/reference.json", "results/reference.md"):
        assert name in data and (ROOT / "benchmarks" / name).is_file()


# ------------------------------------------------------------ the reader's whole path


class _Links(HTMLParser):
    """Every <a href> of a page, with its classes."""

    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append((attrs["href"], (attrs.get("class") or "").split()))


def _links(url):
    parser = _Links()
    parser.feed(_get(url).decode("utf-8"))
    return [(urljoin(url, href), classes) for href, classes in parser.links]


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200, url
        return response.read()


def _download(url, folder):
    path = folder / Path(urlparse(url).path).name
    path.write_bytes(_get(url))
    return path


def _one(urls, what):
    urls = sorted(set(urls))
    assert len(urls) == 1, f"expected one link to {what}, found {urls}"
    return urls[0]


@pytest.fixture(scope="module")
def site(served_book):
    return served_book  # tests/conftest.py serves the built book


# Run inside the reader's virtualenv: execute the chapter as downloaded, then one more
# cell that reports which Python and which lalib the kernel used.
RUNNER = """
import json, sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
n_chapter = len(nb.cells)
nb.cells.append(nbformat.v4.new_code_cell(
    "import sys, lalib\\nprint(sys.prefix)\\nprint(lalib.__file__)"))
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": "."}}).execute()
code = [c for c in nb.cells[:n_chapter] if c.cell_type == "code"]
print(json.dumps({
    "code_cells": len(code),
    "executed": sum(c.execution_count is not None for c in code),
    "errors": [o["ename"] for c in code for o in c.outputs if o.output_type == "error"],
    "probe": nb.cells[-1].outputs[0]["text"].split(),
}))
"""


@pytest.mark.download
def test_a_downloaded_chapter_runs(site, tmp_path):
    timings, start = {}, time.perf_counter()

    # 1. The downloads, found as a reader finds them: the intro's links, and the
    #    chapter page's download button.
    intro = _links(f"{site}/book/intro.html")
    wheel_url = _one([u for u, _ in intro if u.endswith(".whl")], "lalib's wheel")
    reqs_url = _one(
        [u for u, _ in intro if u.endswith("/requirements-reader.txt")],
        "requirements-reader.txt",
    )
    page = _links(f"{site}/book/{CHAPTER}.html")
    nb_url = _one(
        [u for u, c in page if "btn-download-source-button" in c and ".ipynb" in u],
        f"{CHAPTER}.ipynb from the download button",
    )
    home = tmp_path / "reader"  # the reader's folder: not the checkout
    home.mkdir()
    wheel = _download(wheel_url, home)
    reqs = _download(reqs_url, home)
    chapter = _download(nb_url, home)
    assert chapter.name == f"{CHAPTER}.ipynb"
    assert WHEEL_NAME.fullmatch(wheel.name), wheel.name
    shipped = zipfile.ZipFile(wheel).namelist()
    for name in (
        "lalib/__init__.py",
        "lalib/display/__init__.py",
        "benchmarks/report.py",
        "benchmarks/results/reference.json",  # chapter 7 reads it
        "benchmarks/results/reference.md",
    ):
        assert name in shipped, f"{wheel.name} lacks {name}"
    timings["download"] = time.perf_counter() - start

    # 2. A fresh virtualenv with the wheel and its book extra, at the reader's pins
    #    (and requirements.txt's for everything else, so the run is reproducible).
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_PATH")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    venv = tmp_path / "venv"
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        # Kernels, config and caches from this test's folders only: the kernel is the
        # venv's own python3 (ipykernel's spec in the venv comes first).
        JUPYTER_PREFER_ENV_PATH="1",
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        IPYTHONDIR=str(tmp_path / "ipython"),
        MPLCONFIGDIR=str(tmp_path / "matplotlib"),
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    # --no-compile: no .pyc for all of SciPy and scikit-learn up front (seconds saved;
    # the kernel compiles what it imports).
    install = [str(python), "-m", "pip", "install", "--quiet", "--no-compile"]
    install += [f"{wheel}[book]", "ipykernel", "nbclient"]
    install += ["-c", str(reqs), "-c", str(ROOT / "requirements.txt")]
    proc = subprocess.run(install, env=env, cwd=home, capture_output=True, text=True)
    assert proc.returncode == 0, f"pip install failed:\n{proc.stdout}\n{proc.stderr}"
    timings["install"] = time.perf_counter() - start - timings["download"]

    # 3. Execute the downloaded chapter in that venv, from the reader's folder.
    runner = home / "run_chapter.py"
    runner.write_text(RUNNER)
    proc = subprocess.run(
        [str(python), runner.name, chapter.name],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=900,
    )
    timings["execute"] = (
        time.perf_counter() - start - timings["download"] - timings["install"]
    )
    assert proc.returncode == 0, f"{chapter.name} failed:\n{proc.stderr[-4000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["code_cells"] > 0
    assert result["executed"] == result["code_cells"]
    prefix, lalib_file = result["probe"]
    assert Path(prefix).resolve() == venv.resolve(), f"the kernel ran in {prefix}"
    assert Path(lalib_file).resolve().is_relative_to(venv.resolve()), lalib_file
    print("timings (s):", {k: round(v, 1) for k, v in timings.items()})
