"""Chapter notebooks as files: execute them, keep their template up to date, hand them out.

``python -m cv_textbook.notebook_runner notebooks/*.ipynb`` re-executes notebooks in place so
their committed outputs come from a real classroom-budget run; the tests execute them in smoke mode.

``python -m cv_textbook.notebook_runner --refresh notebooks/*.ipynb`` rewrites what the lesson
template generates (``cv_textbook.notebook``): the navigation block of the title cell, the first
code cell (the bootstrap) and the collapsed state of the solutions; ``--check`` only reports what
is out of date. Nothing else in a notebook is touched.

How exercises and solutions are recognised (cell metadata ``tags``, as JupyterLab's property
inspector and nbconvert's TagRemovePreprocessor read them):

* ``exercise``: the code cell a student fills in. It holds a ``# TODO`` line and calls a check from
  ``cv_textbook.exercises``, which answers "Fill in your answer" while the placeholder is there.
* ``solution``: the code cell that answers it, and the markdown cell that introduces it
  ("**Solution** to Exercise N ..."). Solution code cells are collapsed (source and outputs).

``notebook_problems`` reports a ``# TODO`` cell without the ``exercise`` tag, a "**Solution**"
cell or the code cell after it without the ``solution`` tag, and a cell tagged both; a handout
(``make_handout``: solutions removed, exercise outputs cleared) refuses a notebook with any of
them, so that a forgotten tag cannot leak a solution to the students.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from cv_textbook import config, notebook as template


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


# ---------------------------------------------------------------------------
# Exercises and solutions
# ---------------------------------------------------------------------------

EXERCISE_TAG = "exercise"
SOLUTION_TAG = "solution"
TODO_LINE = re.compile(r"^\s*# TODO\b", re.MULTILINE)
SOLUTION_INTRO = re.compile(r"^\s*\*\*Solution\b")  # markdown: "**Solution** to Exercise 2. ..."


def cell_tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def is_solution(cell) -> bool:
    return SOLUTION_TAG in cell_tags(cell)


def is_exercise(cell) -> bool:
    return EXERCISE_TAG in cell_tags(cell)


def exercise_problems(notebook) -> list[str]:
    """Cells whose tags disagree with what they hold (see the module's docstring)."""
    problems = []
    cells = notebook.cells
    for index, cell in enumerate(cells):
        if is_solution(cell) and is_exercise(cell):
            problems.append(f"cell {index} is tagged both {EXERCISE_TAG!r} and {SOLUTION_TAG!r}")
        if cell.cell_type == "code" and TODO_LINE.search(cell.source) and not is_exercise(cell):
            problems.append(f"cell {index} has a '# TODO' line but no {EXERCISE_TAG!r} tag")
        if cell.cell_type == "markdown" and SOLUTION_INTRO.match(cell.source):
            if not is_solution(cell):
                problems.append(f"cell {index} introduces a solution but has no {SOLUTION_TAG!r} tag")
            following = cells[index + 1] if index + 1 < len(cells) else None
            if following is None or following.cell_type != "code" or not is_solution(following):
                problems.append(f"cell {index + 1}, after the solution's introduction, is not a code cell "
                                f"tagged {SOLUTION_TAG!r}")
    return problems


def collapse_solutions(notebook) -> None:
    """Hide the source and the outputs of every solution code cell in JupyterLab (in place)."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and is_solution(cell):
            cell.metadata.setdefault("jupyter", {}).update(source_hidden=True, outputs_hidden=True)


def _is_collapsed(cell) -> bool:
    hidden = cell.metadata.get("jupyter", {})
    return hidden.get("source_hidden") is True and hidden.get("outputs_hidden") is True


def make_handout(notebook):
    """A student copy: solution cells removed, exercise cells without outputs, the rest as it was.

    Raises ValueError, listing the cells, if the notebook's tags are inconsistent.
    """
    problems = exercise_problems(notebook)
    if problems:
        raise ValueError("cannot hand out a notebook whose exercises are not tagged consistently: "
                         + "; ".join(problems) + ".")
    handout = copy.deepcopy(notebook)
    handout.cells = [cell for cell in handout.cells if not is_solution(cell)]
    for cell in handout.cells:
        if is_exercise(cell):
            cell.outputs, cell.execution_count = [], None
    return handout


def write_handouts(out_dir, paths) -> list[Path]:
    """Write the student copy of each notebook in ``paths`` to ``out_dir`` (same file names)."""
    out_dir = Path(out_dir)
    paths = [Path(path) for path in paths]
    for path in paths:
        if not path.is_file():
            raise ValueError(f"{path} is not a notebook file: pass paths such as notebooks/02_lenet5.ipynb.")
        if path.resolve().parent == out_dir.resolve():
            raise ValueError(f"the handout folder {out_dir} holds the notebooks themselves: choose another "
                             "folder, e.g. handout/, so that the solutions are not overwritten.")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        handout = make_handout(nbformat.read(path, as_version=4))
        nbformat.write(handout, out_dir / path.name)
        written.append(out_dir / path.name)
    return written


def chapter_notebooks(folder=None) -> list[Path]:
    """The chapter notebooks (``NN_name.ipynb``) of ``folder`` (default: the repository's notebooks/)."""
    folder = Path(folder) if folder is not None else config.project_root() / template.NOTEBOOKS_DIR
    return sorted(path for path in folder.glob("[0-9][0-9]_*.ipynb"))


# ---------------------------------------------------------------------------
# The generated parts: navigation, bootstrap, collapsed solutions
# ---------------------------------------------------------------------------


def _bootstrap_index(notebook) -> int | None:
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            return index if template.BOOTSTRAP_IMPORT in cell.source else None
    return None


def refreshed(notebook, path):
    """A copy of ``notebook`` (read from ``path``) with its generated parts up to date.

    The title cell (cell 0, markdown) gets the navigation block; the first code cell becomes the
    bootstrap (inserted after the title cell when the first code cell is not one, so nothing is
    lost); solution cells are collapsed.
    """
    path = Path(path)
    chapter = template.chapter_of(path.name)
    notebook = copy.deepcopy(notebook)
    if not notebook.cells or notebook.cells[0].cell_type != "markdown":
        raise ValueError(f"{path.name}: cell 0 must be the markdown title cell "
                         f"('# Chapter {chapter} — ...').")
    filenames = {template.chapter_of(p.name): p.name for p in chapter_notebooks(path.parent)}
    filenames[chapter] = path.name
    headings = template.section_headings(c.source for c in notebook.cells[1:] if c.cell_type == "markdown")
    navigation = template.navigation_markdown(chapter, filenames, headings)
    notebook.cells[0].source = template.with_navigation(notebook.cells[0].source, navigation)
    bootstrap = template.bootstrap_source(chapter)
    index = _bootstrap_index(notebook)
    if index is None:
        notebook.cells.insert(1, nbformat.v4.new_code_cell(bootstrap))
    else:
        notebook.cells[index].source = bootstrap
    collapse_solutions(notebook)
    return notebook


def refresh_notebook(path) -> bool:
    """Bring the generated parts of the notebook at ``path`` up to date; True if the file changed."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    updated = refreshed(notebook, path)
    if updated == notebook:
        return False
    nbformat.write(updated, path)
    return True


def notebook_problems(path) -> list[str]:
    """What is out of date or inconsistent in the notebook at ``path`` (empty when all is well)."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    problems = [f"{path.name}: {problem}" for problem in exercise_problems(notebook)]
    try:
        expected = refreshed(notebook, path)
    except ValueError as error:
        return problems + [str(error)]
    if expected.cells[0].source != notebook.cells[0].source:
        problems.append(f"{path.name}: the title cell's navigation is out of date")
    index = _bootstrap_index(notebook)
    if index is None:
        problems.append(f"{path.name}: the first code cell is not the bootstrap")
    elif notebook.cells[index].source != expected.cells[index].source:
        problems.append(f"{path.name}: the bootstrap cell differs from the template")
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and is_solution(cell) and not _is_collapsed(cell):
            problems.append(f"{path.name}: solution cell {index} is not collapsed")
    return problems


def execute_all(paths) -> int:
    for path in paths:
        start = time.perf_counter()
        print(f"executing {path} (classroom mode) ...", flush=True)
        # A classroom cell may train for half an hour on a busy 2-core CPU.
        execute_notebook(path, smoke=False, save_to=path, timeout=3 * 3600)
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cv_textbook.notebook_runner",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--refresh", action="store_true",
                        help="rewrite the generated navigation, first cell and collapsed solutions; "
                             "execute nothing")
    action.add_argument("--check", action="store_true",
                        help="report what --refresh would change; execute nothing")
    args = parser.parse_args(argv)
    if args.refresh:
        for path in args.notebooks:
            print(f"{path}: {'refreshed' if refresh_notebook(path) else 'up to date'}")
        return 0
    if args.check:
        problems = [problem for path in args.notebooks for problem in notebook_problems(path)]
        print("\n".join(problems) or "all up to date")
        return 1 if problems else 0
    return execute_all(args.notebooks)


if __name__ == "__main__":
    sys.exit(main())
