# The two commands a newcomer needs (see README):
#   make book   set up, then build the static book into _build/html (make serve to view it)
#   make test   set up, then run every check: ruff, lalib tests, the browser math against lalib
#               (node --test), nbval, the -W build, the browser tests of the static site, an
#               explorable driven in JupyterLab, and a reader's run of a downloaded chapter
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000

.PHONY: book serve test setup setup-test lint unit node nbval build browser lab download notebooks bench mutate clean

book: setup build
	@echo "Built _build/html (with lalib's wheel for readers). Open _build/html/index.html, or run 'make serve' for http://127.0.0.1:$(PORT)/"

serve: book
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

test: setup-test lint unit node nbval build browser lab download

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --browser --torch

# ruff: lint and format check of lalib, tests, benchmarks, scripts and the chapters' code
# cells (configuration in pyproject.toml). `.venv/bin/ruff format .` fixes the formatting.
lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# lalib's unit and property tests, plus the examples in its docstrings.
unit:
	$(PY) -m pytest tests lalib benchmarks --doctest-modules -m "not browser and not download and not lab" -q

# The explorables' browser math (lalib/display/js/lamath.js) against lalib: lalib writes
# fixtures from seeded random inputs, node's built-in test runner checks the JavaScript.
node:
	$(PY) tests/js/write_fixtures.py _build/js-fixtures
	LAMATH_FIXTURES=_build/js-fixtures node --test tests/js/

# Re-run every chapter and compare with its stored outputs (strict mode, not --nbval-lax).
nbval:
	$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with book/nbval_sanitize.cfg \
	    -p no:randomly book -q

# Render the stored outputs (no execution); any Sphinx warning fails the build. The build
# also puts lalib's wheel (pip wheel --no-deps), requirements-reader.txt and favicon.ico
# at the site's root (sphinxext/site_files.py), for readers who run the chapters.
build:
	rm -rf _build/html _build/.doctrees
	.venv/bin/jupyter-book build . --builder html -W -n --keep-going --path-output .

# Two pytest-xdist workers, each with its own Chromium (on two busy cores: 378 s, not 469 s).
browser:
	$(PY) -m pytest tests/browser -m browser -q -n 2

# JupyterLab on 127.0.0.1 driven by Chromium: run a chapter, move an explorable's control,
# read the synced value back in Python.
lab:
	$(PY) -m pytest tests/lab -m lab -q

# A reader's path (about a minute): download the wheel, requirements-reader.txt and
# chapter 1 from the built site over HTTP, install them in a fresh virtualenv (PyPI or
# the pip cache) and run the chapter there with nbclient.
download:
	$(PY) -m pytest tests/test_download.py -m download -q

# Maintainers: re-execute chapters in place after changing them (the new regression baseline).
notebooks: setup
	$(PY) scripts/execute_notebooks.py $(NB)

# Times lalib against NumPy's GEMM peak and PyTorch (see benchmarks/); about 11 minutes.
bench:
	@scripts/setup.sh --torch
	$(PY) -m benchmarks

# Mutation testing of the kernel modules (linear, conv, attention, losses, activations),
# outside `make test` (about 45 minutes on two shared cores): mutmut 3
# (requirements-mutate.txt, installed into .venv on first use; configured in
# pyproject.toml's [tool.mutmut]) changes one operator, constant or argument at a time
# and runs the tests that reach it. Every run starts afresh in mutants/ (git-ignored);
# the table counts, per module, mutants killed, survived, listed as equivalent
# (tests/equivalent_mutants.md) and timed out, and fails on a survivor that is not
# listed. `.venv/bin/mutmut show NAME` shows one mutant.
mutate: setup
	@want=$$(sha256sum requirements-mutate.txt | cut -d' ' -f1); \
	if [ "$$(cat .venv/.mutate.sha256 2>/dev/null)" != "$$want" ]; then \
	  echo "mutate: installing requirements-mutate.txt into .venv"; \
	  $(PY) -m pip install --quiet -r requirements-mutate.txt && echo "$$want" > .venv/.mutate.sha256; \
	fi
	rm -rf mutants
	nice -n 19 .venv/bin/mutmut run --max-children 2
	$(PY) scripts/mutation_table.py

clean:
	rm -rf _build
