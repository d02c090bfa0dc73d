"""The benchmark suite of lalib (issue 7): lalib's kernels against NumPy's GEMM and
PyTorch.

Run it from the repository root (``make bench`` does the same)::

    .venv/bin/python -m benchmarks                 # about 5 minutes on 2 cores
    .venv/bin/python -m benchmarks --only conv     # one group: gemm is always measured
    .venv/bin/python -m benchmarks --quick         # tiny sizes: checks the harness only

It prints a markdown table and writes ``benchmarks/results/local-latest.json`` and
``.md`` (git ignores ``local-*``). ``--reference`` writes ``reference.json`` and
``reference.md`` instead: the committed results that chapter 7 plots.

PyTorch is optional: without it the torch columns stay empty and the results say why.
`benchmarks.harness` holds the measuring machinery, `benchmarks.cases` what is measured.

`benchmarks.redraw` is separate, because it needs a built book and Chromium: how long
an explorable takes to redraw after a reader's input, against one animation frame::

    .venv/bin/python -m benchmarks.redraw [SITE]       # _build/html or $BOOK_SITE

It writes ``benchmarks/results/local-redraw.json`` and ``.md``.
"""
