"""Per-module table of the last mutation run (`make mutate`), from mutmut's mutants/.

mutmut 3 keeps one verdict per mutant in ``mutants/<module path>.meta`` (a JSON file of
exit codes). This script counts them per module: killed, survived, listed as equivalent
in tests/equivalent_mutants.md (a survivor no test can tell from the original), timed
out, and the rest (no test reaches the function, not run, crashed). It exits with 1
when a mutant survived without being listed, when one was not killed for another
reason, or when a listed mutant was killed or no longer exists (the list is stale);
the names follow the table. A listed mutant stopped by mutmut's CPU limit is counted
as a timeout and named, without failing. ``--markdown`` prints the table as Markdown.

    .venv/bin/python scripts/mutation_table.py [--markdown]
"""

import argparse
import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "tests" / "equivalent_mutants.md"
#: A mutant's name as mutmut writes it: module, mangled function, number.
NAME = re.compile(r"`(lalib\.[\w.ǁ]+__mutmut_\d+)`")
COLUMNS = ("mutants", "killed", "survived", "equivalent", "timeout", "other")


def modules():
    """The mutated files, from pyproject.toml's [tool.mutmut] only_mutate."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return config["only_mutate"]


def equivalent_names(path=EQUIVALENT):
    """The mutant names listed (in backticks) in tests/equivalent_mutants.md."""
    if not path.exists():
        return set()
    return set(NAME.findall(path.read_text()))


def tally(verdicts, listed):
    """Count one module's verdicts: {name: mutmut status} -> (counts, names by kind)."""
    counts = Counter(mutants=len(verdicts))
    names = {"survived": [], "other": [], "stale": [], "slow": []}
    for name, status in sorted(verdicts.items()):
        if status == "killed":
            counts["killed"] += 1
            if name in listed:
                names["stale"].append(name)
        elif status == "survived" and name in listed:
            counts["equivalent"] += 1
        elif status == "survived":
            counts["survived"] += 1
            names["survived"].append(name)
        elif status == "timeout":
            counts["timeout"] += 1
            if name in listed:
                names["slow"].append(name)
        else:
            counts["other"] += 1
            names["other"].append(f"{name} ({status})")
    return counts, names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    args = parser.parse_args(argv)

    listed = equivalent_names()
    rows, seen = [], set()
    problems = {"survived": [], "other": [], "stale": [], "slow": []}
    for path in modules():
        meta = ROOT / "mutants" / f"{path}.meta"
        if not meta.exists():
            print(f"no results for {path}: run `make mutate` first", file=sys.stderr)
            return 2
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        verdicts = {name: status_by_exit_code[code] for name, code in codes.items()}
        seen |= verdicts.keys()
        counts, names = tally(verdicts, listed)
        rows.append((path, counts))
        for kind in problems:
            problems[kind] += names[kind]
    problems["stale"] += sorted(listed - seen)  # listed, but no such mutant any more

    total = sum((counts for _, counts in rows), Counter())
    rows.append(("total", total))
    width = max(len(name) for name, _ in rows)
    if args.markdown:
        print("| module | " + " | ".join(COLUMNS) + " |")
        print("|---" * (len(COLUMNS) + 1) + "|")
        for name, counts in rows:
            cells = " | ".join(str(counts[c]) for c in COLUMNS)
            print(f"| {name} | {cells} |")
    else:
        print(f"{'module':<{width}}" + "".join(f"{c:>12}" for c in COLUMNS))
        for name, counts in rows:
            print(f"{name:<{width}}" + "".join(f"{counts[c]:>12}" for c in COLUMNS))

    messages = {
        "survived": "survived, not listed in tests/equivalent_mutants.md",
        "other": "neither killed nor survived",
        "stale": "listed in tests/equivalent_mutants.md, but killed or gone",
        "slow": "listed as equivalent, stopped by the CPU limit (counted as timeouts)",
    }
    for kind, message in messages.items():
        if problems[kind]:
            print(f"\n{len(problems[kind])} {message}:")
            print("\n".join(f"  {name}" for name in problems[kind]))
    failures = ("survived", "other", "stale")  # a slow equivalent one is no failure
    return 1 if any(problems[kind] for kind in failures) else 0


if __name__ == "__main__":
    sys.exit(main())
