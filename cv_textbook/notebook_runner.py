"""Execute chapter notebooks: in smoke mode for the tests, in classroom mode for ``make notebooks``.

``python -m cv_textbook.notebook_runner notebooks/*.ipynb`` re-executes notebooks in place so
their committed outputs come from a real classroom-budget run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from cv_textbook import config


class NotebookCellError(RuntimeError):
    """A notebook cell raised; the message names the notebook, the cell and its source."""


def execute_notebook(path, smoke: bool, timeout: int = 1800, save_to=None):
    """Run every cell of the notebook at ``path`` with the kernel started in ``notebooks/``.

    Returns the executed notebook; raises ``NotebookCellError`` naming the failing cell.
    ``save_to`` writes the executed notebook (without widget state, which GitHub cannot render).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

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
    if save_to is not None:
        nbformat.write(notebook, save_to)
    return notebook


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
        execute_notebook(path, smoke=False, save_to=path)
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
