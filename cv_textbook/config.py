"""Run budgets and project paths: the one place that decides how much work a run does.

``CV_TEXTBOOK_SMOKE=1`` (set by the tests) means a tiny real subset and one epoch; without
it a notebook or the CLI runs its classroom budget, which takes minutes on a laptop CPU.
``CV_TEXTBOOK_FULL=1`` asks for the full budget where a chapter has one (the paper's recipe,
hours on a CPU; meant for a GPU).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

SMOKE_ENV = "CV_TEXTBOOK_SMOKE"
FULL_ENV = "CV_TEXTBOOK_FULL"

# Small enough that a notebook trains in seconds, large enough that every class appears.
SMOKE_TRAIN_EXAMPLES = 512
SMOKE_TEST_EXAMPLES = 256

# The share of the training examples every run holds out for validation (train, bench, notebooks).
VALIDATION_FRACTION = 0.1


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def is_smoke() -> bool:
    """True when ``CV_TEXTBOOK_SMOKE`` is set to a true value (1, true, yes)."""
    return _env_flag(SMOKE_ENV)


def is_full() -> bool:
    """True when ``CV_TEXTBOOK_FULL`` asks for full (paper-length) budgets and smoke mode is off."""
    return _env_flag(FULL_ENV) and not is_smoke()


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much a run trains: epochs and how many real examples it may use (None = all)."""

    epochs: int
    train_examples: int | None = None
    test_examples: int | None = None
    mode: str = "classroom"  # "smoke", "classroom" or "full"

    @property
    def smoke(self) -> bool:
        return self.mode == "smoke"

    def describe(self) -> str:
        mode = "smoke (tests)" if self.smoke else self.mode
        train = "all" if self.train_examples is None else f"{self.train_examples:,}"
        test = "all" if self.test_examples is None else f"{self.test_examples:,}"
        return f"{mode} budget: {self.epochs} epoch(s), {train} training / {test} test examples"


def budget(
    epochs: int,
    train_examples: int | None = None,
    test_examples: int | None = None,
    full_epochs: int | None = None,
) -> Budget:
    """The budget for a run whose classroom setting is ``epochs`` on the given number of examples.

    In smoke mode every caller gets the same tiny budget, whatever it asked for, so that no
    notebook can make the test suite slow by its own rule. In full mode a run with
    ``full_epochs`` gets those epochs on all the data.
    """
    for name, value in (("epochs", epochs), ("full_epochs", full_epochs)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    if is_smoke():
        return Budget(1, SMOKE_TRAIN_EXAMPLES, SMOKE_TEST_EXAMPLES, mode="smoke")
    if is_full() and full_epochs is not None:
        return Budget(full_epochs, None, None, mode="full")
    return Budget(epochs, train_examples, test_examples)


def project_root() -> Path:
    """The repository folder (the parent of the ``cv_textbook`` package)."""
    return Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The project's ``data/`` folder, where downloaded or generated datasets are cached."""
    return project_root() / "data"


def runs_dir() -> Path:
    """Where training runs write their models, metrics and plots by default."""
    return project_root() / "runs"
