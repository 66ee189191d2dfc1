"""What every task has: its data, how its batches are made, its losses and metrics, how it is
evaluated and what a run records. ``train``, ``cli`` and ``bench`` only ever ask a task; none of
them compares a task's name.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import keras
import numpy as np

from cv_textbook.data import pipeline


@dataclasses.dataclass
class TaskData:
    """A task's data for one run: ``(inputs, targets)`` for each split, and what it is."""

    train: tuple
    validation: tuple
    test: tuple
    classes: tuple[str, ...]
    dataset: str  # a name for metrics.json and plot titles

    def sizes(self) -> dict:
        return {f"{split}_examples": examples(getattr(self, split)) for split in ("train", "validation", "test")}


def examples(split) -> int:
    """How many examples an ``(inputs, targets)`` split holds."""
    return len(split[0])


class Task(abc.ABC):
    """The interface of a task; see ``ClassificationTask`` for the simplest one.

    A task object carries its options (``OPTIONS``: name -> default), e.g. a segmentation task's
    canvas size and labels; ``record()`` is what ``metrics.json`` keeps of it, from which
    ``cv_textbook.tasks.from_record`` makes the same task again.
    """

    name: ClassVar[str]
    noun: ClassVar[str]  # "a classifier": for messages
    plural: ClassVar[str]  # "classifiers"
    OPTIONS: ClassVar[dict] = {}

    def __init__(self, **options):
        unknown = [key for key in options if key not in self.OPTIONS]
        if unknown:
            raise ValueError(f"the {self.name} task has no option {', '.join(unknown)}; "
                             f"its options: {', '.join(self.OPTIONS) or 'none'}.")
        self.options = {**self.OPTIONS, **options}

    def record(self) -> dict:
        return {"task": self.name, **self.options}

    # --- data ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def load(self, recipe, budget, seed: int = 0) -> TaskData:
        """The training, validation and test splits of a run within ``budget``."""

    @abc.abstractmethod
    def model_kwargs(self, data: TaskData, recipe) -> dict:
        """The builder arguments the data decides (input shape, number of classes)."""

    @abc.abstractmethod
    def batches(self, model, split, batch_size: int, *, shuffle=False, seed=0, augment=(), image_size=None,
                start_epoch=0):
        """The batches ``model.fit`` trains on: a tf.data.Dataset, or a PyDataset on other backends."""

    @abc.abstractmethod
    def load_test(self, record: dict) -> tuple:
        """The test split a finished run was measured on, made again from its metrics.json."""

    # --- training -----------------------------------------------------------------------------
    @abc.abstractmethod
    def compile(self, model, optimizer, *, loss_weights=None, jit_compile=False, metrics=None) -> None:
        """``model.compile`` with this task's losses (one per output, weighted) and metrics."""

    @abc.abstractmethod
    def curves(self, model) -> tuple[str, ...]:
        """The history entries a run plots."""

    def inference_model(self, model):
        """The model that is saved and evaluated; the trained model itself unless a task drops
        outputs used in training only (a classifier's auxiliary heads)."""
        return model

    # --- evaluation ---------------------------------------------------------------------------
    @abc.abstractmethod
    def evaluate(self, model, split) -> dict:
        """Named test metrics (``test_...``) of the inference model on a split."""

    @abc.abstractmethod
    def headline(self, result: dict) -> str:
        """The one line a person reads first, e.g. "test accuracy 0.9059"."""

    @abc.abstractmethod
    def describe_test(self, count: int) -> str:
        """What ``count`` test examples are, e.g. "all 10,000 Fashion-MNIST test images"."""


def canvas_counts(recipe, budget, default: int) -> dict[str, int]:
    """How many canvases each split of a composed dataset gets: the recipe's number (or the
    budget's, or ``default``) for training, a tenth of it for validation, a quarter for the test.
    In smoke mode, an eighth of the smoke budget's images: a 128×128 canvas has about 20× the
    pixels of a 28×28 image, so the smoke budget's cost stays about the same."""
    if budget.smoke:
        train = min(recipe.train_examples or budget.train_examples, budget.train_examples // 8)
        test = budget.test_examples // 8
    else:
        train = budget.train_examples or recipe.train_examples or default
        test = budget.test_examples or max(1, train // 4)
    return {"train": train, "validation": max(1, train // 10), "test": test}


def check_loss_weights(model, loss_weights):
    """None, or one number per output of ``model``."""
    if loss_weights is None:
        return None
    weights = tuple(loss_weights)
    if len(weights) != len(model.outputs):
        raise ValueError(
            f"loss_weights has {len(weights)} entries but {model.name} has {len(model.outputs)} output(s) "
            f"({', '.join(output.name for output in model.outputs)}): give one weight per output, the main "
            "head first."
        )
    return list(weights)


def predict_in_chunks(model, images, batch_size: int):
    """Yield ``(start, predictions)`` for raw (uint8) images, a chunk at a time: scaled to [0, 1]
    and resized to the model's input where it differs (as in training); the predictions as
    ``model.predict`` gives them (an array, or one per output), in float64. The probabilities of
    a whole test set (gigabytes for segmentation) are never held at once."""
    side = tuple(model.input_shape[1:3])
    chunk = 8 * batch_size
    for start in range(0, len(images), chunk):
        prepared = pipeline.prepare_images(images[start : start + chunk])
        if tuple(prepared.shape[1:3]) != side:
            prepared = keras.ops.convert_to_numpy(keras.ops.image.resize(prepared, side))
        predictions = model.predict(prepared, batch_size=batch_size, verbose=0)
        yield start, keras.tree.map_structure(lambda array: np.asarray(array, np.float64), predictions)


def cross_entropy_sum(probabilities, truth) -> float:
    """The summed sparse cross-entropy, clipped as Keras clips it so that it matches a training log."""
    of_truth = np.take_along_axis(probabilities, truth.astype(np.int64)[..., None], axis=-1)
    return float(-np.log(np.clip(of_truth, keras.config.epsilon(), 1.0)).sum())
