"""One way to train for every chapter: seeded, device-aware, resumable, logged.

Two levels:

* ``fit(model, train, validation, ...)`` compiles and trains a model you built (a notebook's
  step-by-step network), with a backup that lets an interrupted run resume, a CSV/JSON history
  and the training speed in examples per second.
* ``run_experiment(name, ...)`` is what ``python -m cv_textbook train`` does: load real
  Fashion-MNIST, build a registered model with the device's precision, fit, evaluate on the
  test set, and write ``model.keras``, ``metrics.json``, ``history.csv``/``.json`` and
  ``history.png`` into one run folder.
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

from cv_textbook import config, device, distribute
from cv_textbook.data import fashion_mnist, pipeline

BACKUP_SUBDIR = "backup"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The classroom settings a registered model trains with by default."""

    epochs: int
    batch_size: int = 128
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    optimizer: str = "adam"
    warmup_epochs: float = 0
    augment: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None  # resize Fashion-MNIST for networks made for more
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    task: str = "classification"  # or "segmentation": canvases composed from Fashion-MNIST
    train_examples: int | None = None  # None: all of Fashion-MNIST (classification)
    canvas_size: int = 128
    canvas_mode: str = "trimap"
    # mixed_bfloat16 on CPUs that compute it natively, where `python -m cv_textbook bench`
    # measured it faster and as accurate for this model (device.training_setup decides per CPU).
    bfloat16_on_cpu: bool = False


# Classroom recipes: chosen by measurement so each trains in minutes on a laptop CPU.
# LeNet-5, 15 epochs, test accuracy: constant 1e-3 at batch 128 0.896; cosine decay at
# batch 128 0.901, at batch 64 0.906. ResNet-20 (28×28×1), 10 epochs of SGD 0.1 with cosine
# decay, flips and weight decay 1e-4: 0.933 (0.929 in chapter 06) in float32, 0.930 in mixed
# bfloat16, which `bench` measured 1.44x faster on a CPU with native bfloat16 (1.04-1.08x before
# batch normalization used TensorFlow's fused kernel), within 0.3 points of float32's accuracy
# (LeNet-5: 0.99-1.16x, not consistently faster, so it stays float32).
RECIPES = {
    "lenet5": Recipe(epochs=15, batch_size=64, learning_rate=1e-3, schedule="cosine"),
    "resnet20": Recipe(
        epochs=10,
        batch_size=128,
        learning_rate=0.1,
        optimizer="sgd",
        schedule="cosine",
        augment=("flip",),
        model_kwargs={"weight_decay": 1e-4},
        bfloat16_on_cpu=True,
    ),
}
SEGMENTATION_RECIPE = Recipe(
    epochs=10, batch_size=16, learning_rate=1e-3, schedule="cosine", task="segmentation", train_examples=2000
)
RECIPES.update({name: SEGMENTATION_RECIPE for name in ("unet_xception", "unet_classic")})
DEFAULT_RECIPE = Recipe(epochs=10)

# Full recipes (CV_TEXTBOOK_FULL=1): the paper's own, meant for a GPU. He et al. (2015), §4.2:
# SGD with momentum 0.9, batch 128, learning rate 0.1 divided by 10 at 32k and 48k of 64k
# iterations (50 % and 75 %), weight decay 1e-4, flips and 4-pixel shifts; ResNet-110 warms up
# at 0.01 for about the first epoch (400 iterations).
_PAPER_CIFAR = dict(
    epochs=160,
    batch_size=128,
    learning_rate=0.1,
    optimizer="sgd",
    schedule="step",
    augment=("flip", "shift"),
    model_kwargs={"weight_decay": 1e-4},
    bfloat16_on_cpu=True,
)
# The Xception U-Net has no paper recipe: the full one is the classroom recipe on four times the
# canvases for 12 epochs, in mixed bfloat16 where the CPU computes it natively (measured on the
# 2-core AMD EPYC at batch 16: 39.9 canvases/s in float32, 55.7 in mixed bfloat16).
FULL_SEGMENTATION_RECIPE = dataclasses.replace(
    SEGMENTATION_RECIPE, epochs=12, train_examples=8000, bfloat16_on_cpu=True
)
FULL_RECIPES = {
    **{name: Recipe(**_PAPER_CIFAR) for name in ("resnet20", "resnet32", "resnet44", "resnet56")},
    "resnet110": Recipe(**_PAPER_CIFAR, warmup_epochs=1),
    "unet_xception": FULL_SEGMENTATION_RECIPE,
}


def recipe_for(model_name: str) -> Recipe:
    """The settings a model trains with: its full recipe under CV_TEXTBOOK_FULL=1, if it has one,
    else its classroom recipe."""
    if config.is_full() and model_name in FULL_RECIPES:
        return FULL_RECIPES[model_name]
    return RECIPES.get(model_name, DEFAULT_RECIPE)


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
        rows = list(csv.DictReader(stream))
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


@keras.saving.register_keras_serializable(package="cv_textbook")
class WarmupStepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The ResNet paper's schedule: an optional low warm-up rate, then the base rate divided
    by 10 at 50 % and again at 75 % of training."""

    def __init__(self, learning_rate, total_steps, warmup_steps=0, warmup_rate=None):
        self.learning_rate = float(learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.warmup_rate = float(warmup_rate) if warmup_rate is not None else self.learning_rate / 10

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        rate = keras.ops.where(step < 0.5 * self.total_steps, self.learning_rate, self.learning_rate / 10)
        rate = keras.ops.where(step < 0.75 * self.total_steps, rate, self.learning_rate / 100)
        return keras.ops.where(step < self.warmup_steps, self.warmup_rate, rate)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "warmup_rate": self.warmup_rate,
        }


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


def compile_model(model, setup: device.TrainingSetup, optimizer=None, metrics=("accuracy",)):
    """Sparse cross-entropy (per image or per pixel) and ``metrics``; Adam unless you bring an
    optimizer; XLA as the setup says, except inside a ``tf.distribute`` strategy's scope.

    Keras cannot run an XLA-compiled training step under a strategy (with two replicas the first
    step fails: one replica's step cannot read the other's variables), so there it stays off, as
    Keras's own ``jit_compile="auto"`` decides. ``model.jit_compile`` says what was chosen.
    """
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(),
        loss="sparse_categorical_crossentropy",
        metrics=list(metrics),
        jit_compile=setup.jit_compile and not distribute.in_strategy_scope(),
    )


def _as_dataset(data, batch_size, shuffle, seed, augment=(), image_size=None):
    """Accept (x, y) arrays or an already-built dataset."""
    if isinstance(data, tuple) and len(data) == 2:
        x, y = data
        dataset = pipeline.make_dataset(
            x, y, batch_size, shuffle=shuffle, seed=seed, augment=augment, image_size=image_size
        )
        return dataset, len(x)
    return data, None


def fit(
    model,
    train,
    validation=None,
    *,
    epochs: int,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    schedule: str = "constant",
    optimizer="adam",
    warmup_epochs: float = 0,
    augment: tuple[str, ...] = (),
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
    run_dir: str | Path | None = None,
    resume: bool = True,
    setup: device.TrainingSetup | None = None,
    metrics=("accuracy",),
    verbose="auto",
    callbacks=(),
) -> FitResult:
    """Compile (if needed) and train ``model``; return its whole history and speed.

    ``train`` and ``validation`` are ``(images, labels)`` arrays (uint8 or float) or datasets.
    The run writes into ``run_dir`` (a new folder under ``runs/`` if omitted). If ``run_dir``
    holds the backup of an interrupted run, training resumes from it and says so; pass
    ``resume=False`` to discard that backup and start again from epoch 1.
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

    train_ds, n_train = _as_dataset(train, batch_size, True, seed, augment, image_size)
    val_ds = _as_dataset(validation, batch_size, False, seed, (), image_size)[0] if validation is not None else None
    if n_train is None:  # a dataset brought by the caller: count it once
        batch_sizes = [int(np.shape(labels)[0]) for _, labels in train_ds]
        n_train, steps_per_epoch = sum(batch_sizes), len(batch_sizes)
    else:
        steps_per_epoch = -(-n_train // batch_size)

    if not model.compiled:
        if isinstance(optimizer, str):
            optimizer = make_optimizer(
                learning_rate,
                schedule,
                total_steps=epochs * steps_per_epoch,
                optimizer=optimizer,
                warmup_steps=int(warmup_epochs * steps_per_epoch),
            )
        compile_model(model, setup, optimizer, metrics)

    all_callbacks = [
        Throughput(n_train),
        keras.callbacks.BackupAndRestore(str(backup_dir)),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        *callbacks,
    ]
    # The dataset is already shuffled with a seed; fit must not try again.
    model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, callbacks=all_callbacks, verbose=verbose, shuffle=False
    )

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
    """Test loss and accuracy of ``model`` on raw (uint8) images and their labels.

    Images are resized to the model's input size when it differs (as in training).
    """
    side = tuple(model.input_shape[1:3])
    image_size = side if side != tuple(np.shape(images)[1:3]) else None
    dataset = pipeline.make_dataset(images, labels, batch_size, image_size=image_size)
    loss, accuracy = model.evaluate(dataset, verbose=0)[:2]
    return {"test_loss": float(loss), "test_accuracy": float(accuracy)}


def predict_classes(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The most probable class of each (uint8) image."""
    probabilities = model.predict(pipeline.prepare_images(images), batch_size=batch_size, verbose=0)
    return np.argmax(probabilities, axis=-1)


def _experiment_data(recipe: Recipe, budget: config.Budget, seed: int) -> dict:
    """Training, validation and test arrays for a recipe's task, within the budget."""
    if recipe.task == "segmentation":
        from cv_textbook.data import segmentation

        # A 128×128 canvas has about 20× the pixels of a 28×28 image: an eighth as many canvases
        # as the budget's images keeps a budget's cost about the same.
        n_train = min(recipe.train_examples, budget.train_examples // 8) if budget.train_examples else recipe.train_examples
        n_test = budget.test_examples // 8 if budget.test_examples else max(1, n_train // 4)
        canvases = {
            split: segmentation.make_fashion_canvases(
                split, n, size=recipe.canvas_size, mode=recipe.canvas_mode, seed=seed
            )
            for split, n in (("train", n_train), ("validation", max(1, n_train // 10)), ("test", n_test))
        }
        classes = (
            segmentation.CANVAS_CLASSES_TRIMAP if recipe.canvas_mode == "trimap" else segmentation.CANVAS_CLASSES_SEMANTIC
        )
        return dict(
            train=canvases["train"], validation=canvases["validation"], test=canvases["test"], classes=classes,
            dataset=f"fashion_mnist_canvases_{recipe.canvas_mode}_{recipe.canvas_size}px",
        )
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_fashion_mnist()
    x_train, y_train = pipeline.subset(x_train, y_train, budget.train_examples or recipe.train_examples, seed)
    train_split, validation_split = pipeline.split_validation(x_train, y_train, 0.1, seed)
    return dict(
        train=train_split, validation=validation_split,
        test=pipeline.subset(x_test, y_test, budget.test_examples, seed),
        classes=fashion_mnist.FASHION_MNIST_CLASSES, dataset="fashion_mnist",
    )


def evaluate_segmentation(model, images: np.ndarray, masks: np.ndarray, batch_size: int = 32) -> dict:
    """Test loss, pixel accuracy, mean IoU and per-class IoU of a segmentation model.

    One pass of predictions, a chunk of canvases at a time (all the probabilities of a test set
    at once can take gigabytes), so the model need not be compiled.
    """
    from cv_textbook import metrics

    num_classes = int(model.output_shape[-1])
    masks = np.asarray(masks)
    predicted = np.empty(masks.shape, dtype=np.int32)
    cross_entropy = 0.0
    chunk = 8 * batch_size
    for start in range(0, len(images), chunk):
        probabilities = model.predict(
            pipeline.prepare_images(images[start : start + chunk]), batch_size=batch_size, verbose=0
        ).astype(np.float64)
        truth = masks[start : start + chunk].astype(np.int64)
        of_truth = np.take_along_axis(probabilities, truth[..., None], axis=-1)
        # Clipped as Keras's sparse cross-entropy clips, so the loss matches the training log's.
        cross_entropy -= np.log(np.clip(of_truth, keras.config.epsilon(), 1.0)).sum()
        predicted[start : start + chunk] = np.argmax(probabilities, axis=-1)
    return {
        "test_loss": float(cross_entropy / masks.size),
        "test_pixel_accuracy": float(np.mean(predicted == masks)),
        "test_mean_iou": metrics.mean_iou(masks, predicted, num_classes),
        "test_iou_per_class": [float(v) for v in metrics.iou_per_class(masks, predicted, num_classes)],
    }


def run_experiment(
    model_name: str,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    resume: bool = True,
    model_kwargs: dict | None = None,
    labels: str | None = None,
    verbose="auto",
) -> dict:
    """Train a registered model on real Fashion-MNIST data and save everything about the run.

    Classifiers train on Fashion-MNIST itself; segmentation models on canvases composed from
    its images (``cv_textbook.data.segmentation``), labelled ``"trimap"`` (the default) or
    ``"semantic"`` as ``labels`` says. Returns the metrics that are also written to
    ``out/metrics.json``.
    """
    from cv_textbook import metrics as segmentation_metrics
    from cv_textbook import models, viz
    from cv_textbook.data import segmentation

    models.check_name(model_name)
    recipe = recipe_for(model_name)
    if labels is not None:
        if recipe.task != "segmentation":
            raise ValueError(
                f"labels={labels!r} is for segmentation models; {model_name} is a classifier and trains "
                "on Fashion-MNIST's 10 classes. Leave labels out."
            )
        if labels not in segmentation.MODES:
            raise ValueError(f"labels must be one of {segmentation.MODES}, got {labels!r}.")
        recipe = dataclasses.replace(recipe, canvas_mode=labels)
    full = FULL_RECIPES.get(model_name)
    budget = config.budget(epochs or recipe.epochs, full_epochs=(epochs or full.epochs) if full else None)
    batch_size = batch_size or recipe.batch_size
    learning_rate = learning_rate or recipe.learning_rate
    source = fashion_mnist.fashion_mnist_source()
    print(f"{model_name}: {budget.describe()}; Fashion-MNIST from {source}")
    data = _experiment_data(recipe, budget, seed)
    (x_fit, y_fit), (x_val, y_val), (x_test, y_test) = data["train"], data["validation"], data["test"]

    setup = device.training_setup(bfloat16_on_cpu=recipe.bfloat16_on_cpu)
    device.configure_gpus()
    strategy = distribute.choose_strategy()  # None on one device
    replicas = distribute.replicas(strategy)
    (x_fit, y_fit), (x_val, y_val), (x_test, y_test) = (
        distribute.even_split(x, y, replicas) for x, y in ((x_fit, y_fit), (x_val, y_val), (x_test, y_test))
    )
    seed_everything(seed)
    side = recipe.image_size or x_fit.shape[1:3]
    # The data's shape and classes, unless the recipe or the caller says otherwise.
    kwargs = {"input_shape": (*side, 1), "num_classes": len(data["classes"])}
    accepted = inspect.signature(models.builder(model_name)).parameters
    kwargs = {key: value for key, value in kwargs.items() if key in accepted}
    kwargs.update(recipe.model_kwargs, **(model_kwargs or {}))
    with distribute.scope(strategy), device.precision_scope(setup.precision):
        model = models.build(model_name, **kwargs)

    segmenting = recipe.task == "segmentation"
    run_dir = Path(out) if out is not None else new_run_dir(model_name)
    # Inside the strategy's scope fit creates the optimizer and the metrics and compiles: their
    # variables then live on every replica.
    with distribute.scope(strategy):
        result = fit(
            model,
            (x_fit, y_fit),
            (x_val, y_val),
            epochs=budget.epochs,
            batch_size=batch_size * replicas,  # the global batch: batch_size per replica
            learning_rate=learning_rate,
            schedule=recipe.schedule,
            optimizer=recipe.optimizer,
            warmup_epochs=recipe.warmup_epochs,
            augment=recipe.augment,
            image_size=recipe.image_size,
            seed=seed,
            run_dir=run_dir,
            resume=resume,
            setup=setup,
            metrics=["accuracy", segmentation_metrics.SparseMeanIoU(len(data["classes"]))] if segmenting else ["accuracy"],
            verbose=verbose,
        )
    test = evaluate_segmentation(model, x_test, y_test) if segmenting else evaluate(model, x_test, y_test)
    model.save(run_dir / "model.keras")
    metrics = {
        "model": model_name,
        "task": recipe.task,
        **test,
        "epochs": len(result.history.get("loss", [])),
        "batch_size": batch_size,
        "replicas": replicas,
        "global_batch_size": batch_size * replicas,
        "learning_rate": learning_rate,
        "schedule": recipe.schedule,
        "optimizer": recipe.optimizer,
        "budget": budget.mode,
        "examples_per_second": result.examples_per_second,
        "device": setup.description,
        "precision": setup.precision,
        "jit_compile": bool(model.jit_compile),  # what ran: off under a strategy or where a layer forbids it
        "dataset": data["dataset"],
        "dataset_source": source,
        "classes": list(data["classes"]),
        **({"canvas_size": recipe.canvas_size, "canvas_mode": recipe.canvas_mode} if segmenting else {}),
        "train_examples": len(x_fit),
        "validation_examples": len(x_val),
        "test_examples": len(x_test),
        "input": f"float32 pixels scaled to [0, 1], shape {tuple(model.input_shape[1:])}",
        "smoke": budget.smoke,
        "seed": seed,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    curves = ("loss", "accuracy", "mean_iou") if segmenting else ("loss", "accuracy")
    figure = viz.plot_learning_curves(result.history, metrics=curves, title=f"{model_name} on {data['dataset']}")
    figure.savefig(run_dir / "history.png", dpi=100, bbox_inches="tight")
    metrics["run_dir"] = str(run_dir)
    return metrics
