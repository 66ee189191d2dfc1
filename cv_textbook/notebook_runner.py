"""Execute chapter notebooks: in smoke mode for the tests, in classroom mode for ``make notebooks``.

``python -m cv_textbook.notebook_runner notebooks/*.ipynb`` re-executes notebooks in place so
their committed outputs come from a real classroom-budget run.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from cv_textbook import config


# TensorFlow's C++ log lines ("E0000 00:00:1795.. 6046 meta_optimizer.cc:967] remapper failed: ...")
# reach the kernel's stderr whatever TF_CPP_MIN_LOG_LEVEL says; they are harmless and would only
# puzzle a student reading the committed outputs.
NATIVE_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w.]+:\d+\] ")


class NotebookCellError(RuntimeError):
    """A notebook cell raised; the message names the notebook, the cell and its source."""


def execute_notebook(path, smoke: bool, timeout: int = 1800, save_to=None):
    """Run every cell of the notebook at ``path`` with the kernel started in ``notebooks/``.

    Returns the executed notebook; raises ``NotebookCellError`` naming the failing cell.
    ``save_to`` writes the executed notebook (without widget state, which GitHub cannot render).
    """
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    env_before = os.environ.get(config.SMOKE_ENV)
    os.environ[config.SMOKE_ENV] = "1" if smoke else "0"  # the kernel inherits our environment
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        index, source = _failing_cell(notebook)
        raise NotebookCellError(f"{path.name}: cell {index} failed:\n{source}\n\n{error}") from None
    finally:
        if env_before is None:
            os.environ.pop(config.SMOKE_ENV, None)
        else:
            os.environ[config.SMOKE_ENV] = env_before
    notebook.metadata.pop("widgets", None)
    drop_native_log_lines(notebook)
    if save_to is not None:
        nbformat.write(notebook, save_to)
    return notebook


def drop_native_log_lines(notebook) -> None:
    """Remove TensorFlow's native log lines from the cells' stderr outputs (in place)."""
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = output["text"] if isinstance(output["text"], str) else "".join(output["text"])
                lines = [line for line in text.splitlines(keepends=True) if not NATIVE_LOG_LINE.match(line)]
                if not "".join(lines).strip():
                    continue
                output["text"] = "".join(lines)
            kept.append(output)
        if cell.cell_type == "code":
            cell.outputs = kept


def _failing_cell(notebook):
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, cell.source
    return -1, ""


def main(paths) -> int:
    for path in paths:
        start = time.perf_counter()
        print(f"executing {path} (classroom mode) ...", flush=True)
        # A classroom cell may train for half an hour on a busy 2-core CPU.
        execute_notebook(path, smoke=False, save_to=path, timeout=3 * 3600)
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
