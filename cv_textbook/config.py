"""Run budgets and project paths: the one place that decides how much work a run does.

``CV_TEXTBOOK_SMOKE=1`` (set by the tests) means a tiny real subset and one epoch; without
it a notebook or the CLI runs its classroom budget, which takes minutes on a laptop CPU.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

SMOKE_ENV = "CV_TEXTBOOK_SMOKE"

# Small enough that a notebook trains in seconds, large enough that every class appears.
SMOKE_TRAIN_EXAMPLES = 512
SMOKE_TEST_EXAMPLES = 256


def is_smoke() -> bool:
    """True when ``CV_TEXTBOOK_SMOKE`` is set to a true value (1, true, yes)."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much a run trains: epochs and how many real examples it may use (None = all)."""

    epochs: int
    train_examples: int | None = None
    test_examples: int | None = None
    smoke: bool = False

    def describe(self) -> str:
        mode = "smoke (tests)" if self.smoke else "classroom"
        train = "all" if self.train_examples is None else f"{self.train_examples:,}"
        test = "all" if self.test_examples is None else f"{self.test_examples:,}"
        return f"{mode} budget: {self.epochs} epoch(s), {train} training / {test} test examples"


def budget(epochs: int, train_examples: int | None = None, test_examples: int | None = None) -> Budget:
    """The budget for a run whose classroom setting is ``epochs`` on the given number of examples.

    In smoke mode every caller gets the same tiny budget, whatever it asked for, so that no
    notebook can make the test suite slow by its own rule.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    if is_smoke():
        return Budget(
            epochs=1,
            train_examples=SMOKE_TRAIN_EXAMPLES,
            test_examples=SMOKE_TEST_EXAMPLES,
            smoke=True,
        )
    return Budget(epochs=epochs, train_examples=train_examples, test_examples=test_examples)


def project_root() -> Path:
    """The repository folder (the parent of the ``cv_textbook`` package)."""
    return Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The project's ``data/`` folder, where downloaded or generated datasets are cached."""
    return project_root() / "data"


def runs_dir() -> Path:
    """Where training runs write their models, metrics and plots by default."""
    return project_root() / "runs"
