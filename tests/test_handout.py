"""Student copies of the chapters (``python -m cv_textbook handout``): no solution survives, the
exercises are blank, everything else is kept, and a copy still runs, its exercises asking politely."""

from pathlib import Path

import nbformat
import pytest

from cv_textbook import cli
from cv_textbook.notebook_runner import chapter_notebooks, execute_notebook, write_handouts

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = chapter_notebooks(ROOT / "notebooks")


def _tags(cell):
    return cell.metadata.get("tags", [])


def _solution_only_lines(notebook) -> set[str]:
    """Lines of the solution cells that no other cell of the notebook holds: what must not leak."""
    other = {line.strip() for cell in notebook.cells if "solution" not in _tags(cell)
             for line in cell.source.splitlines()}
    return {line.strip() for cell in notebook.cells if "solution" in _tags(cell)
            for line in cell.source.splitlines() if len(line.strip()) > 3 and line.strip() not in other}


def _all_text(notebook) -> str:
    """Every source and every printed or plain-text output of the notebook, as a student would see it."""
    parts = []
    for cell in notebook.cells:
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def handouts(tmp_path_factory):
    out = tmp_path_factory.mktemp("handout")
    assert cli.main(["handout", str(out), *map(str, NOTEBOOKS)]) == 0
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_solution_source_or_output_survives_in_the_copy(handouts, path):
    original = nbformat.read(path, as_version=4)
    copy_text = _all_text(nbformat.read(handouts / path.name, as_version=4))
    solution_lines = _solution_only_lines(original)
    assert len(solution_lines) >= 3, f"{path.name}: its solutions should hold lines of their own"
    leaked = sorted(line for line in solution_lines if line in copy_text)
    assert not leaked, f"{path.name}: solution lines in the student copy: {leaked[:5]}"
    assert "Correct!" not in copy_text  # what a solution cell's check printed
    assert '"solution"' not in (handouts / path.name).read_text(encoding="utf-8")  # no tag left


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_copy_keeps_every_other_cell_and_blanks_the_exercises(handouts, path):
    original = nbformat.read(path, as_version=4)
    copy = nbformat.read(handouts / path.name, as_version=4)
    kept = [cell for cell in original.cells if "solution" not in _tags(cell)]
    assert [c.source for c in copy.cells] == [c.source for c in kept]
    exercises = [c for c in copy.cells if "exercise" in _tags(c)]
    assert len(exercises) >= 3, f"{path.name}: every chapter has at least 3 exercises"
    assert all(c.outputs == [] and c.execution_count is None for c in exercises)
    others = [(c.get("outputs"), c.metadata) for c in kept if "exercise" not in _tags(c)]
    assert [(c.get("outputs"), c.metadata) for c in copy.cells if "exercise" not in _tags(c)] == others


def test_handout_refuses_to_write_over_the_notebooks_folder(capsys):
    assert cli.main(["handout", str(ROOT / "notebooks"), str(NOTEBOOKS[0])]) == 2
    assert "choose another folder" in capsys.readouterr().err


def test_a_student_copy_runs_in_smoke_mode_and_its_exercises_ask_for_an_answer(tmp_path):
    # One small chapter (the tests run every full notebook elsewhere): chapter 0 trains nothing.
    chapter0 = next(path for path in NOTEBOOKS if path.name.startswith("00_"))
    (copy_path,) = write_handouts(tmp_path, [chapter0])
    executed = execute_notebook(copy_path, smoke=True)  # raises, naming the cell, on any exception
    exercises = [cell for cell in executed.cells if "exercise" in _tags(cell)]
    assert len(exercises) == 3
    for cell in exercises:
        outputs = [o for o in cell.outputs if o.output_type == "stream"]
        text = "".join(o.text for o in outputs)
        assert "Fill in your answer" in text, text
        assert all(o.name == "stdout" for o in outputs) and "Traceback" not in text
