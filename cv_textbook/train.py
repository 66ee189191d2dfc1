"""One way to train for every chapter and every task: seeded, device-aware, resumable, logged.

Two levels:

* ``fit(model, train, validation, ...)`` compiles and trains a model you built (a notebook's
  step-by-step network), with a backup that lets an interrupted run resume exactly where it
  stopped, a CSV/JSON history and the training speed in examples per second. ``task`` says what
  the model learns (classification by default; see ``cv_textbook.tasks``).
* ``run_experiment(name, ...)`` is what ``python -m cv_textbook train`` does: ask the model's
  spec for its task and recipe, load the task's real data, build the model with the device's
  precision, fit, evaluate on the test set, and write ``model.keras``, ``metrics.json``,
  ``history.csv``/``.json`` and ``history.png`` into one run folder.
"""

from __future__ import annotations

import csv
import dataclasses
import inspect
import json
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from cv_textbook import config, device, distribute, models, quiet, tasks, viz
from cv_textbook.data import pipeline
from cv_textbook.data.fashion_mnist import fashion_mnist_source
from cv_textbook.models import ModelSpec, Recipe
from cv_textbook.schedules import WarmupStepDecay

BACKUP_SUBDIR = "backup"


def recipe_for(model: str | ModelSpec) -> Recipe:
    """The settings a model trains with: its full recipe under CV_TEXTBOOK_FULL=1, if it has one,
    else its classroom recipe."""
    spec = model if isinstance(model, ModelSpec) else models.spec(model)
    if config.is_full() and spec.full_recipe is not None:
        return spec.full_recipe
    return spec.recipe


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and the backend so that a run can be repeated exactly."""
    keras.utils.set_random_seed(seed)


class Throughput(keras.callbacks.Callback):
    """Logs ``examples_per_second`` for each epoch (the first one includes compilation)."""

    def __init__(self, examples_per_epoch: int):
        super().__init__()
        self.examples_per_epoch = examples_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            # Validation is timed too: it is part of what a student waits for.
            logs["examples_per_second"] = self.examples_per_epoch / (time.perf_counter() - self._start)


def backup_epoch(run_dir: Path) -> int | None:
    """The number of epochs an interrupted run in ``run_dir`` had finished, or None."""
    metadata = Path(run_dir) / BACKUP_SUBDIR / "training_metadata.json"
    if not metadata.is_file():
        return None
    return int(json.loads(metadata.read_text())["epoch"])


def new_run_dir(model_name: str) -> Path:
    """A fresh, timestamped folder under ``runs/`` (a fresh run never resumes another)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = config.runs_dir() / f"{model_name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = config.runs_dir() / f"{model_name}-{stamp}-{suffix}"
    return path


def read_history_csv(path: Path) -> dict[str, list[float]]:
    """The per-epoch history that ``fit`` logged, including epochs before a resume."""
    with open(path, newline="") as stream:
        # An epoch logged twice (a run killed after logging it, before backing it up, repeats it
        # when it resumes) counts once: its last row.
        rows = list({row["epoch"]: row for row in csv.DictReader(stream)}.values())
    keys = [k for k in rows[0] if k != "epoch"] if rows else []
    # CSVLogger writes "NA" for a column an epoch did not log (e.g. val_* without validation data).
    columns = {key: [float("nan") if row[key] == "NA" else float(row[key]) for row in rows] for key in keys}
    return {key: values for key, values in columns.items() if not all(np.isnan(values))}


@dataclasses.dataclass
class FitResult:
    history: dict[str, list[float]]
    run_dir: Path
    examples_per_second: float
    resumed_from_epoch: int | None
    setup: device.TrainingSetup


SCHEDULES = ("constant", "cosine", "step")
OPTIMIZERS = ("adam", "sgd")


def make_optimizer(
    learning_rate: float = 1e-3,
    schedule: str = "constant",
    total_steps: int | None = None,
    optimizer: str = "adam",
    warmup_steps: int = 0,
    momentum: float = 0.9,
):
    """Adam or SGD with momentum, with a constant, cosine or step (÷10 at 50 % and 75 %) rate.

    ``warmup_steps`` trains that many first steps at a tenth of the rate (the ResNet paper's
    warm-up for its 110-layer network; a linear ramp with the cosine schedule).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}.")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS} or a keras optimizer, got {optimizer!r}.")
    if schedule != "constant" and not total_steps:
        raise ValueError(f"a {schedule} schedule needs total_steps (epochs × batches per epoch).")
    rate = learning_rate
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            learning_rate / 10 if warmup_steps else learning_rate,
            decay_steps=max(1, total_steps - warmup_steps),
            warmup_target=learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    elif schedule == "step":
        rate = WarmupStepDecay(learning_rate, total_steps, warmup_steps)
    if optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=momentum)
    return keras.optimizers.Adam(rate)


def compile_model(model, setup: device.TrainingSetup, optimizer=None, metrics=None, *, task=None,
                  loss_weights=None):
    """Compile for ``task`` (classification by default: sparse cross-entropy per image, or per
    output with ``loss_weights``) with ``metrics``; Adam unless you bring an optimizer; XLA as the
    setup says, except inside a ``tf.distribute`` strategy's scope.

    Keras cannot run an XLA-compiled training step under a strategy (with two replicas the first
    step fails: one replica's step cannot read the other's variables), so there it stays off, as
    Keras's own ``jit_compile="auto"`` decides. ``model.jit_compile`` says what was chosen.
    """
    task = task or tasks.ClassificationTask()
    task.compile(model, optimizer or keras.optimizers.Adam(), loss_weights=loss_weights, metrics=metrics,
                 jit_compile=setup.jit_compile and not distribute.in_strategy_scope())
    # Smoke mode trains a few steps, for which tracing a deep network's graph costs more than it
    # saves (densenet_classroom, one epoch of 512 images on the loaded 2-core CPU: 155 s traced,
    # 82 s eager), so there the steps run eagerly; classroom and full runs are traced as always.
    # Not under a strategy: its replicas' eager steps do not line up their gradient reductions.
    model.run_eagerly = config.is_smoke() and not distribute.in_strategy_scope()


@dataclasses.dataclass
class Prepared:
    """What ``prepare`` made for a run: its batches, how many examples an epoch holds, its steps."""

    train: object
    validation: object | None
    examples: int
    steps_per_epoch: int


def _batches(task, model, data, batch_size, **kwargs):
    """A task's batches from ``(inputs, targets)`` arrays; a dataset brought by the caller as it is."""
    if isinstance(data, tuple) and len(data) == 2:
        return task.batches(model, data, batch_size, **kwargs), tasks.examples(data)
    return data, None


def prepare(
    model,
    train,
    validation=None,
    *,
    task=None,
    epochs: int,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    schedule: str = "constant",
    optimizer="adam",
    warmup_epochs: float = 0,
    augment: tuple[str, ...] = (),
    image_size: tuple[int, int] | None = None,
    loss_weights=None,
    seed: int = 0,
    setup: device.TrainingSetup | None = None,
    metrics=None,
    start_epoch: int = 0,
) -> Prepared:
    """The batches of a run and, unless ``model`` is compiled already, its compilation: what
    ``fit`` trains with, and what ``bench`` times as "the package". ``start_epoch`` gives the
    batches of a run resumed after that many epochs."""
    task = task or tasks.ClassificationTask()
    setup = setup or device.training_setup()
    train_batches, examples = _batches(task, model, train, batch_size, shuffle=True, seed=seed, augment=augment,
                                       image_size=image_size, start_epoch=start_epoch)
    validation_batches = None
    if validation is not None:
        validation_batches = _batches(task, model, validation, batch_size, image_size=image_size)[0]
    if examples is None:  # a dataset brought by the caller: count it once
        batch_sizes = [int(np.shape(keras.tree.flatten(targets)[0])[0]) for _, targets in train_batches]
        examples, steps = sum(batch_sizes), len(batch_sizes)
    else:
        steps = -(-examples // batch_size)
    if not model.compiled:
        if isinstance(optimizer, str):
            optimizer = make_optimizer(learning_rate, schedule, total_steps=epochs * steps, optimizer=optimizer,
                                       warmup_steps=int(warmup_epochs * steps))
        compile_model(model, setup, optimizer, metrics, task=task, loss_weights=loss_weights)
    return Prepared(train_batches, validation_batches, examples, steps)


def fit(
    model,
    train,
    validation=None,
    *,
    task=None,
    epochs: int,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    schedule: str = "constant",
    optimizer="adam",
    warmup_epochs: float = 0,
    augment: tuple[str, ...] = (),
    image_size: tuple[int, int] | None = None,
    loss_weights=None,
    seed: int = 0,
    run_dir: str | Path | None = None,
    resume: bool = True,
    setup: device.TrainingSetup | None = None,
    metrics=None,
    verbose="auto",
    callbacks=(),
) -> FitResult:
    """Compile (if needed) and train ``model``; return its whole history and speed.

    ``train`` and ``validation`` are ``(inputs, targets)`` arrays (uint8 or float images) or
    datasets; ``task`` says what they mean (default: classification, labels per image). The run
    writes into ``run_dir`` (a new folder under ``runs/`` if omitted). If ``run_dir`` holds the
    backup of an interrupted run, training resumes from it and says so, with the weights, the
    optimizer's state and the order of the batches the uninterrupted run would have had; pass
    ``resume=False`` to discard that backup and start again from epoch 1. ``loss_weights`` gives
    one weight per output of a model with auxiliary heads, the main head first.
    """
    setup = setup or device.training_setup()
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(model.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    backup_dir = run_dir / BACKUP_SUBDIR
    history_csv = run_dir / "history.csv"

    resumed_from = backup_epoch(run_dir)
    if resumed_from is not None and not resume:
        shutil.rmtree(backup_dir)
        resumed_from = None
    if resumed_from is None:
        history_csv.unlink(missing_ok=True)  # a fresh run starts a fresh log
    else:
        print(f"Resuming the interrupted run in {run_dir} after epoch {resumed_from} of {epochs}.")

    prepared = prepare(
        model, train, validation, task=task, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        schedule=schedule, optimizer=optimizer, warmup_epochs=warmup_epochs, augment=augment, image_size=image_size,
        loss_weights=loss_weights, seed=seed, setup=setup, metrics=metrics, start_epoch=resumed_from or 0,
    )
    all_callbacks = [
        Throughput(prepared.examples),
        # The log first: a run killed between the two writes repeats the epoch, and the reader
        # keeps its last row. Two backups: one cut short while writing falls back to the other.
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True),
        *callbacks,
    ]
    # The batches are already shuffled with a seed; fit must not try again.
    model.fit(prepared.train, validation_data=prepared.validation, epochs=epochs, callbacks=all_callbacks,
              verbose=verbose, shuffle=False)

    history = read_history_csv(history_csv) if history_csv.is_file() else {}
    (run_dir / "history.json").write_text(json.dumps(history, indent=2))
    speeds = history.get("examples_per_second", [])
    # Leave out the first epoch, which pays for tracing and compilation, when there are more.
    steady = speeds[1:] if len(speeds) > 1 else speeds
    return FitResult(
        history=history,
        run_dir=run_dir,
        examples_per_second=float(np.median(steady)) if steady else float("nan"),
        resumed_from_epoch=resumed_from,
        setup=setup,
    )


def evaluate(model, images: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> dict[str, float]:
    """Test loss and accuracy of a classifier (its main head) on raw (uint8) images and their
    labels. Images are resized to the model's input size when it differs (as in training)."""
    with quiet.python_warnings_of("tensorflow"):  # its retracing warning: each new model traces its own step
        return tasks.ClassificationTask().evaluate(model, (images, labels), batch_size=batch_size)


@dataclasses.dataclass
class SavedRun:
    """A classifier's run folder as ``train`` wrote it, measured again (``remeasure_run``)."""

    run_dir: Path
    claimed: dict  # metrics.json, as the run wrote it
    history: dict[str, list[float]]  # history.csv, one value per epoch
    measured: dict[str, float]  # test loss and accuracy measured now
    test_examples: int  # how many test images `measured` is on

    @property
    def training_minutes(self) -> float:
        """Minutes of training and validation, from the epochs' logged speeds."""
        return sum(self.claimed["train_examples"] / speed for speed in self.history["examples_per_second"]) / 60

    @property
    def on_the_same_test_set(self) -> bool:
        return self.test_examples == self.claimed["test_examples"]

    def describe(self) -> str:
        """One sentence: what the run trained, how long it took, and its test accuracy measured now."""
        c = self.claimed
        on = (f"all {self.test_examples:,} test images (its metrics.json: {c['test_accuracy']:.4f})"
              if self.on_the_same_test_set else
              f"the first {self.test_examples:,} test images (its metrics.json, on all {c['test_examples']:,}: "
              f"{c['test_accuracy']:.4f})")
        return (f"`{c['model']}` trained with its {c['budget']} recipe ({c['epochs']} epochs of {c['optimizer']} "
                f"at batch {c['batch_size']} on {c['train_examples']:,} images, seed {c['seed']}, "
                f"{c['precision']}; {self.training_minutes:.1f} min at a median {c['examples_per_second']:,.0f} "
                f"examples/s on {c['device']}) measures a test accuracy of "
                f"{self.measured['test_accuracy']:.4f} now on {on}")


def remeasure_run(run_dir, images: np.ndarray, labels: np.ndarray) -> SavedRun:
    """Load the model a ``train --out DIR`` run saved and measure it again on ``images``.

    Notebooks quote a long run this way rather than copying its number: raises AssertionError when
    the measurement on the run's whole test set differs from its metrics.json by more than 0.002
    (a handful of images: another CPU may round differently).
    """
    run_dir = Path(run_dir)
    missing = [name for name in ("model.keras", "metrics.json", "history.csv") if not (run_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{run_dir.resolve()} lacks {', '.join(missing)}: pass the folder of a "
                                "`python -m cv_textbook train NAME --out DIR` run")
    run = SavedRun(run_dir, json.loads((run_dir / "metrics.json").read_text()),
                   read_history_csv(run_dir / "history.csv"),
                   evaluate(models.load_model(run_dir / "model.keras"), images, labels), len(images))
    if run.on_the_same_test_set:
        difference = abs(run.measured["test_accuracy"] - run.claimed["test_accuracy"])
        assert difference < 0.002, f"{run_dir}: measured {run.measured['test_accuracy']:.4f}, " \
                                   f"metrics.json says {run.claimed['test_accuracy']:.4f}: the model changed"
    return run


def remeasure_committed(name: str, images: np.ndarray, labels: np.ndarray, results_folder="results") -> SavedRun | None:
    """``remeasure_run`` on the run committed as ``results_folder/name`` (notebooks/results/ as seen from a
    notebook, which Jupyter starts in its own folder), or None after saying how to make the run where the
    folder is not there (a notebook opened outside the repository, e.g. on Colab)."""
    run_dir = Path(results_folder) / name
    if not (run_dir / "model.keras").is_file():
        print(f"{run_dir.resolve()} is not here (a notebook outside the repository, e.g. on Colab): make the run "
              "with the command above (`python -m cv_textbook train MODEL --out DIR`) and pass "
              "results_folder= the folder that holds DIR.")
        return None
    return remeasure_run(run_dir, images, labels)


def evaluate_segmentation(model, images: np.ndarray, masks: np.ndarray, batch_size: int = 32) -> dict:
    """Test loss, pixel accuracy, mean IoU and per-class IoU of a segmentation model."""
    return tasks.SegmentationTask().evaluate(model, (images, masks), batch_size=batch_size)


def predict_classes(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The most probable class of each (uint8) image."""
    probabilities = model.predict(pipeline.prepare_images(images), batch_size=batch_size, verbose=0)
    return np.argmax(probabilities, axis=-1)


def builder_kwargs(spec: ModelSpec, data_kwargs: dict, recipe: Recipe, overrides: dict | None = None) -> dict:
    """The builder arguments of a run: what the data decides (input shape, classes) where the
    builder takes them, then the recipe's, then the caller's."""
    accepted = inspect.signature(spec.build_function()).parameters
    kwargs = {key: value for key, value in data_kwargs.items() if key in accepted}
    return {**kwargs, **recipe.model_kwargs, **(overrides or {})}


def run_experiment(
    model: str | ModelSpec,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    resume: bool = True,
    train_examples: int | None = None,
    model_kwargs: dict | None = None,
    labels: str | None = None,
    task_options: dict | None = None,
    verbose="auto",
    callbacks=(),
) -> dict:
    """Train a model (a registered name, or a ``ModelSpec``) on its task's real data and save
    everything about the run.

    Classifiers train on Fashion-MNIST itself; segmentation models on canvases composed from its
    images, labelled ``"trimap"`` (the default) or ``"semantic"`` as ``labels`` says.
    ``train_examples`` caps the training examples for a quicker run. Returns the metrics that
    are also written to ``out/metrics.json``.
    """
    spec = model if isinstance(model, ModelSpec) else models.spec(model)
    options = dict(task_options or {}, **({"labels": labels} if labels is not None else {}))
    task = tasks.for_spec(spec, **options)
    recipe = recipe_for(spec)
    full = spec.full_recipe
    budget = config.budget(epochs or recipe.epochs, train_examples,
                           full_epochs=(epochs or full.epochs) if full else None)
    batch_size = batch_size or recipe.batch_size
    learning_rate = learning_rate or recipe.learning_rate
    source = fashion_mnist_source()
    print(f"{spec.name}: {budget.describe()}; Fashion-MNIST from {source}")
    data = task.load(recipe, budget, seed)

    setup = device.training_setup(bfloat16_on_cpu=recipe.bfloat16_on_cpu)
    device.configure_gpus()
    strategy = distribute.choose_strategy()  # None on one device
    replicas = distribute.replicas(strategy)
    data = dataclasses.replace(data, **{split: distribute.even_split(getattr(data, split), replicas)
                                        for split in ("train", "validation", "test")})
    seed_everything(seed)
    kwargs = builder_kwargs(spec, task.model_kwargs(data, recipe), recipe, model_kwargs)
    with distribute.scope(strategy), device.precision_scope(setup.precision):
        network = models.build_spec(spec, **kwargs)

    run_dir = Path(out) if out is not None else new_run_dir(spec.name)
    # Inside the strategy's scope fit creates the optimizer and the metrics and compiles: their
    # variables then live on every replica.
    with distribute.scope(strategy):
        result = fit(
            network, data.train, data.validation, task=task,
            **{**recipe.fit_kwargs(), "epochs": budget.epochs, "learning_rate": learning_rate,
               "batch_size": batch_size * replicas},  # the global batch: batch_size per replica
            seed=seed, run_dir=run_dir, resume=resume, setup=setup, verbose=verbose, callbacks=callbacks,
        )
    test = task.evaluate(network, data.test)
    task.inference_model(network).save(run_dir / "model.keras")
    metrics = {
        "model": spec.name,
        **task.record(),
        **test,
        "epochs": len(result.history.get("loss", [])),
        "batch_size": batch_size,
        "replicas": replicas,
        "global_batch_size": batch_size * replicas,
        "learning_rate": learning_rate,
        "schedule": recipe.schedule,
        "optimizer": recipe.optimizer,
        "loss_weights": list(recipe.loss_weights) if recipe.loss_weights else None,
        "budget": budget.mode,
        "examples_per_second": result.examples_per_second,
        "device": setup.description,
        "precision": setup.precision,
        "jit_compile": bool(network.jit_compile),  # what ran: off under a strategy or where a layer forbids it
        "dataset": data.dataset,
        "dataset_source": source,
        "classes": list(data.classes),
        **data.sizes(),
        "input": f"float32 pixels scaled to [0, 1], shape {tuple(network.input_shape[1:])}",
        "smoke": budget.smoke,
        "seed": seed,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    figure = viz.plot_learning_curves(result.history, metrics=task.curves(network),
                                      title=f"{spec.name} on {data.dataset}")
    figure.savefig(run_dir / "history.png", dpi=100, bbox_inches="tight")
    metrics["run_dir"] = str(run_dir)
    return metrics
