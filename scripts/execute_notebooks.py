"""Re-execute chapter notebooks in place: their stored outputs are the regression
baseline.

    python scripts/execute_notebooks.py [book/01-layers.ipynb ...]
    # default: every book/*.ipynb

Each notebook runs top to bottom in a fresh kernel (the one of this virtualenv) with
book/ as its working directory; outputs and the ipywidgets state are stored, so the
static book can show widgets without a kernel. Volatile details are then normalised so
that re-running an unchanged notebook gives a byte-identical file:

- widget model ids (random UUIDs) become ids derived from the notebook name and order;
- execution timing metadata is not recorded; execution counts are renumbered 1, 2, ...
- consecutive stream outputs of one name are merged (a loaded kernel may split one
  print into several messages, which would change the file but not the text).
"""

import hashlib
import json
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
# Stored in every chapter, so a reader's Jupyter opens it with Python 3 without asking.
KERNELSPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def stable_widget_ids(nb, name):
    """Replace each widget model id by a hash of (notebook name, position)."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    text = json.dumps(nb, sort_keys=False)
    ids = list(state)
    # Ids that appear in outputs but whose model was closed have no state: keep them
    # mapped too, so no random id is left behind.
    ids += [
        i for i in re.findall(r'"model_id": "([0-9a-f]{32})"', text) if i not in state
    ]
    for k, old in enumerate(dict.fromkeys(ids)):
        new = hashlib.sha1(f"{name}:{k}".encode()).hexdigest()[:32]
        text = text.replace(old, new)
    return nbformat.from_dict(json.loads(text))


def merge_streams(outputs):
    """Join consecutive stdout (or stderr) outputs into one, as a reader sees them."""
    merged = []
    for out in outputs:
        if (
            out.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1]["name"] == out["name"]
        ):
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    return merged


def execute(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=False,
    )
    client.execute()
    for n, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        cell.execution_count = n
        cell.outputs = merge_streams(cell.get("outputs", []))
        for out in cell.outputs:
            if "execution_count" in out:
                out["execution_count"] = n
        cell.metadata.pop("execution", None)
    nb = stable_widget_ids(nb, path.name)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nbformat.validate(nb)
    nbformat.write(nb, path)


def main(argv):
    paths = [Path(p) for p in argv] or sorted((ROOT / "book").glob("*.ipynb"))
    for path in paths:
        start = time.perf_counter()
        execute(path.resolve())
        print(f"executed {path} in {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
