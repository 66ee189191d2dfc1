"""``python -m cv_textbook bench``: how fast the package trains, against what a student writes first.

For each model the benchmark trains on the same real Fashion-MNIST images, in one process and
taking turns epoch by epoch (so that whatever else the machine is doing slows every way alike):

* **baseline** — the first thing a student writes: ``model.fit`` on NumPy float32 arrays
  (``x / 255`` with a channel axis), ``compile("adam", "sparse_categorical_crossentropy",
  metrics=["accuracy"])`` and Keras's defaults otherwise (``jit_compile="auto"``, shuffling
  arrays, ``batch_size=32``). ``--baseline-batch-size`` gives the baseline another batch size,
  e.g. the recipe's, to see how much of the difference the batch size makes;
* **package** — what ``cv_textbook.train.fit`` trains with, made by the same ``train.prepare``:
  ``device.training_setup()`` precision and XLA (mixed_bfloat16 on a CPU with native bfloat16
  where the model's recipe says ``bfloat16_on_cpu``), the task's batches (the ``tf.data``
  pipeline of ``cv_textbook.data.pipeline``, ``NumpyBatches`` on other backends), the model's
  recipe (batch size, optimizer, schedule, augmentation);
* **package in the other precision** — the same with ``mixed_bfloat16`` (or float32 where the
  default is already bfloat16), to choose the CPU default by measurement.

By default every way trains for the recipe's epochs on the images ``run_experiment`` trains on
(90 % of the training set), so the accuracies compared are those of finished runs: after a few
short epochs a ResNet's test accuracy says more about how many steps it took than about how well
it learns. ``--epochs`` and ``--train-examples`` make a quicker run that measures speed alone.

Each way is timed from the start to the end of each of its epochs; the first epoch (tracing,
compilation, filling the cache) is left out and the median of the others reported as
examples per second. All models start from the same weights (same seed). After every epoch
each way is evaluated on the same test images, outside the timing; from these curves comes the
**time to accuracy**: the first epoch, and the training seconds up to its end (the first epoch
included), at which the test accuracy reaches the target (the spec's ``bench_target``: 0.91 for
LeNet-5, 0.93 for ResNet-20), for the package and for the baseline.

Also measured: the input pipeline alone (one pass over the training batches, no model).

Memory is the process's resident set: ``peak_memory_mb`` is the process's peak so far
(``getrusage``), which for TensorFlow on a CPU is all there is to measure. As the ways share
one process, the highest resident set sampled while each way trained is reported beside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np
from matplotlib.figure import Figure

from cv_textbook import config, device, models, tasks, train, viz
from cv_textbook.data import fashion_mnist

# The models whose spec names a benchmark target: lenet5 and resnet20.
DEFAULT_MODELS = tuple(spec.name for spec in models.specs() if spec.bench_target is not None)
BFLOAT16 = device.BFLOAT16
# 0.3 points: the package may not pay for its speed with more test accuracy than this against the
# baseline, nor bfloat16 against float32 (bfloat16 becomes a CPU's default only within it).
ACCURACY_TOLERANCE = 0.003
BASELINE_LABEL = "Keras defaults, NumPy arrays"
KERAS_DEFAULT_BATCH_SIZE = 32  # what model.fit uses when a student gives no batch_size


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------


def peak_rss_mb() -> float | None:
    """The process's peak resident memory so far, in MB (None where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def current_rss_mb() -> float | None:
    """The process's resident memory now, in MB (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm") as stream:
            pages = int(stream.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssSampler:
    """Samples the resident memory in a background thread and keeps, for each label, the highest
    value seen while that label was active (``with sampler.during("baseline"): ...``)."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peaks: dict[str, float] = {}
        self._label = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _record(self):
        label, rss = self._label, current_rss_mb()
        if label is not None and rss is not None:
            self.peaks[label] = max(rss, self.peaks.get(label, 0.0))

    def _run(self):
        while not self._stop.wait(self.interval):
            self._record()

    @contextlib.contextmanager
    def during(self, label: str):
        self._label = label
        self._record()
        try:
            yield
        finally:
            self._record()
            self._label = None


@contextlib.contextmanager
def _quiet_retracing_warnings():
    """Several models trained side by side trace many functions, which makes TensorFlow warn
    about "excessive retracing"; expected here, so hidden for the block."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(level)


# ---------------------------------------------------------------------------
# The ways to train
# ---------------------------------------------------------------------------


class EpochClock(keras.callbacks.Callback):
    """Seconds from the start to the end of each epoch (no validation runs in the benchmark)."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


@dataclasses.dataclass
class Way:
    """One way of training a model, one epoch at a time."""

    key: str  # "baseline", "package", "package_mixed_bfloat16", ...
    label: str  # for people
    model: keras.Model
    run_epoch: Callable[[int], None]
    clock: EpochClock
    precision: str
    jit_compile: bool
    test_accuracy: list[float] = dataclasses.field(default_factory=list)  # after each epoch

    def cumulative_seconds(self) -> list[float]:
        """Training seconds from the start to the end of each epoch (evaluations left out)."""
        return list(itertools.accumulate(self.clock.seconds))


def within_tolerance(difference_points: float) -> bool:
    """Whether a test accuracy ``difference_points`` (percentage points, new minus reference)
    loses no more than the 0.3 points allowed."""
    return difference_points >= -100 * ACCURACY_TOLERANCE


def steady_examples_per_second(seconds: list[float], examples: int) -> float:
    """Examples per second of the median epoch after the first (which pays for tracing and
    compilation); of the only epoch when there is one."""
    steady = seconds[1:] if len(seconds) > 1 else seconds
    return examples / statistics.median(steady)


def check_benchmarkable(model_name: str) -> None:
    """The benchmark trains the models whose spec has a benchmark target; say so for others."""
    spec = models.spec(model_name)
    if spec.bench_target is None:
        raise ValueError(
            f"{model_name} is {tasks.TASKS[spec.task].noun} without a benchmark target in its spec; the benchmark "
            f"measures {', '.join(DEFAULT_MODELS)}."
        )


def baseline_way(model_name, kwargs, x, y, batch_size, image_size, seed) -> Way:
    """What a student writes first: NumPy float32 arrays into ``model.fit``, Keras's defaults."""
    train.seed_everything(seed)
    model = models.build(model_name, **kwargs)  # Keras's default policy: float32
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    images = x.astype("float32")[..., np.newaxis] / 255.0
    if image_size is not None:  # resized once, up front, as a student would
        images = keras.ops.convert_to_numpy(keras.ops.image.resize(images, image_size))
    clock = EpochClock()

    def run_epoch(epoch):
        model.fit(images, y, batch_size=batch_size, epochs=epoch + 1, initial_epoch=epoch, verbose=0,
                  callbacks=[clock])

    return Way("baseline", BASELINE_LABEL, model, run_epoch, clock, "float32", bool(model.jit_compile))


def package_way(model_name, task, kwargs, recipe, data, epochs, setup: device.TrainingSetup, seed, key) -> Way:
    """What ``cv_textbook.train.fit`` does (``train.prepare``): the device's setup, the task's
    batches, the recipe."""
    train.seed_everything(seed)
    with device.precision_scope(setup.precision):
        model = models.build(model_name, **kwargs)
    fit_kwargs = {**recipe.fit_kwargs(), "epochs": epochs}
    prepared = train.prepare(model, data, task=task, seed=seed, setup=setup, **fit_kwargs)
    clock = EpochClock()

    def run_epoch(epoch):
        model.fit(prepared.train, epochs=epoch + 1, initial_epoch=epoch, shuffle=False, verbose=0, callbacks=[clock])

    jit_compile = bool(model.jit_compile)  # what compile chose: Keras refuses XLA to some models
    xla = "XLA" if jit_compile else "no XLA"
    return Way(key, f"cv_textbook ({setup.precision}, {xla})", model, run_epoch, clock, setup.precision, jit_compile)


def _drain(dataset) -> int:
    """Produce every batch of one epoch; return how many examples they held."""
    count = 0
    if isinstance(dataset, keras.utils.PyDataset):
        for index in range(len(dataset)):
            count += len(dataset[index][1])
        dataset.on_epoch_end()
        return count
    for _, labels in dataset:
        count += int(labels.shape[0])
    return count


def input_pipeline_examples_per_second(task, model, data, recipe, seed: int) -> float:
    """Examples per second of the package's training batches alone, after one pass to warm up."""
    dataset = task.batches(model, data, recipe.batch_size, shuffle=True, seed=seed, augment=recipe.augment,
                           image_size=recipe.image_size)
    _drain(dataset)
    start = time.perf_counter()
    count = _drain(dataset)
    return count / (time.perf_counter() - start)


# ---------------------------------------------------------------------------
# Time to accuracy
# ---------------------------------------------------------------------------


def time_to_target(way: Way, target: float) -> dict:
    """The first epoch after which ``way`` reached ``target`` test accuracy, and its training
    seconds by then (the first epoch's compilation included, evaluations left out)."""
    for epoch, (accuracy, seconds) in enumerate(zip(way.test_accuracy, way.cumulative_seconds()), start=1):
        if accuracy >= target:
            return {"reached": True, "epochs_to_target": epoch, "seconds_to_target": seconds}
    return {"reached": False, "epochs_to_target": None, "seconds_to_target": None}


def describe_time_to_target(timing: dict, target: float, epochs: int, best: float) -> str:
    if timing["reached"]:
        return (f"reached {target:.2f} after {timing['epochs_to_target']} epoch(s), "
                f"{timing['seconds_to_target']:,.0f} s of training")
    return f"not reached in {epochs} epoch(s) (best {best:.4f})"


def time_to_accuracy_report(ways: dict[str, Way], target: float | None, epochs: int) -> dict:
    """When the package (and, beside it, the baseline) first reached ``target``."""
    if target is None:
        return {"target": None, "summary": "no target for this model (pass --target)"}
    package, baseline = ways["package"], ways["baseline"]
    timing = time_to_target(package, target)
    baseline_timing = time_to_target(baseline, target)
    best = max(package.test_accuracy)
    return {
        "target": target,
        **timing,
        "epoch_cap": epochs,
        "test_accuracy_per_epoch": package.test_accuracy,
        "training_seconds_per_epoch": package.cumulative_seconds(),  # cumulative
        "final_test_accuracy": package.test_accuracy[-1],
        "best_test_accuracy": best,
        "precision": package.precision,
        "summary": describe_time_to_target(timing, target, epochs, best),
        "baseline": {
            **baseline_timing,
            "summary": describe_time_to_target(baseline_timing, target, epochs, max(baseline.test_accuracy)),
        },
    }


# ---------------------------------------------------------------------------
# One model, all ways
# ---------------------------------------------------------------------------


def other_precision(precision: str) -> str:
    """The precision to compare with: bfloat16, or float32 where the default is bfloat16 already."""
    return "float32" if precision == BFLOAT16 else BFLOAT16


def benchmark_data(task, recipe, epochs=None, train_examples=None, seed=0):
    """The budget and the data of one model's benchmark: by default the recipe's epochs on the
    images ``run_experiment`` trains on, and the whole test set."""
    budget = config.budget(epochs or recipe.epochs, train_examples)
    return budget, task.load(recipe, budget, seed)


def bench_model(model_name, *, epochs=None, train_examples=None, setup: device.TrainingSetup,
                baseline_batch_size=KERAS_DEFAULT_BATCH_SIZE, compare_precision=True, target=None, seed=0,
                log=print) -> dict:
    """Benchmark one registered model that has a benchmark target (a classifier)."""
    check_benchmarkable(model_name)
    spec = models.spec(model_name)
    recipe = train.recipe_for(spec)
    task = tasks.for_spec(spec)
    budget, data = benchmark_data(task, recipe, epochs, train_examples, seed)
    (x, y), (x_test, y_test) = data.train, data.test
    kwargs = train.builder_kwargs(spec, task.model_kwargs(data, recipe), recipe)
    length = "the recipe's length" if budget.epochs >= recipe.epochs else f"shorter than the recipe's {recipe.epochs}"
    log(f"{model_name}: {budget.epochs} epoch(s) ({length}) of {len(x):,} images each way, batch "
        f"{baseline_batch_size} (baseline) and {recipe.batch_size} (package), taking turns epoch by epoch; "
        f"test accuracy on {len(x_test):,} images after each")

    rss_before = current_rss_mb()
    ways = [
        baseline_way(model_name, kwargs, x, y, baseline_batch_size, recipe.image_size, seed),
        package_way(model_name, task, kwargs, recipe, (x, y), budget.epochs, setup, seed, "package"),
    ]
    if compare_precision:
        other = dataclasses.replace(setup, precision=other_precision(setup.precision))
        ways.append(package_way(model_name, task, kwargs, recipe, (x, y), budget.epochs, other, seed,
                                f"package_{other.precision}"))
    with RssSampler() as sampler:
        for epoch in range(budget.epochs):
            turn = epoch % len(ways)  # rotate who goes first, so no way always follows the same one
            for way in ways[turn:] + ways[:turn]:
                with sampler.during(way.key):
                    way.run_epoch(epoch)
                way.test_accuracy.append(train.evaluate(way.model, x_test, y_test)["test_accuracy"])
            log(f"  epoch {epoch + 1}/{budget.epochs}: " + "; ".join(
                f"{way.label} {len(x) / way.clock.seconds[-1]:,.0f} examples/s, test accuracy "
                f"{way.test_accuracy[-1]:.4f}" for way in ways))
    sampled = [rss for rss in sampler.peaks.values() if rss is not None]
    peak = max([rss for rss in (peak_rss_mb(), *sampled) if rss is not None], default=None)

    by_key = {way.key: way for way in ways}
    speeds = {way.key: steady_examples_per_second(way.clock.seconds, len(x)) for way in ways}
    accuracy = {way.key: way.test_accuracy[-1] for way in ways}
    difference = 100 * (accuracy["package"] - accuracy["baseline"])
    result = {
        "model": model_name,
        "examples_per_second": speeds["package"],
        "baseline_examples_per_second": speeds["baseline"],
        "speedup": speeds["package"] / speeds["baseline"],
        "test_accuracy": accuracy["package"],
        "baseline_test_accuracy": accuracy["baseline"],
        "accuracy_difference_points": difference,
        "accuracy_within_0.3_points": within_tolerance(difference),
        "peak_memory_mb": peak,
        "rss_mb_before": rss_before,
        "rss_mb_while_training": {way.key: sampler.peaks.get(way.key) for way in ways},
        "input_pipeline_examples_per_second": input_pipeline_examples_per_second(
            task, by_key["package"].model, (x, y), recipe, seed),
        "ways": {way.key: way.label for way in ways},
        "per_epoch_examples_per_second": {way.key: [len(x) / s for s in way.clock.seconds] for way in ways},
        "test_accuracy_per_epoch": {way.key: way.test_accuracy for way in ways},
        "training_seconds_per_epoch": {way.key: way.cumulative_seconds() for way in ways},  # cumulative
        "epochs": budget.epochs,
        "recipe_epochs": recipe.epochs,
        "warmup_epochs_skipped": 1 if budget.epochs > 1 else 0,
        "train_examples": len(x),
        "test_examples": len(x_test),
        "batch_size": recipe.batch_size,
        "baseline_batch_size": baseline_batch_size,
        "precision": setup.precision,
        "jit_compile": by_key["package"].jit_compile,
        "baseline_precision": "float32",
        "baseline_jit_compile": by_key["baseline"].jit_compile,
        "recipe": {"optimizer": recipe.optimizer, "learning_rate": recipe.learning_rate,
                   "schedule": recipe.schedule, "augment": list(recipe.augment)},
        "baseline_recipe": {"optimizer": "adam", "learning_rate": 1e-3, "schedule": "constant", "augment": []},
    }
    if compare_precision:
        key = f"package_{other.precision}"
        result["precision_comparison"] = {
            setup.precision: {"examples_per_second": speeds["package"], "test_accuracy": accuracy["package"]},
            other.precision: {"examples_per_second": speeds[key], "test_accuracy": accuracy[key]},
        }
        bf16, f32 = (key, "package") if other.precision == BFLOAT16 else ("package", key)
        result["precision_comparison"].update(
            bfloat16_speed_ratio=speeds[bf16] / speeds[f32],
            bfloat16_accuracy_difference_points=100 * (accuracy[bf16] - accuracy[f32]),
        )
    goal = target if target is not None else spec.bench_target
    result["time_to_accuracy"] = time_to_accuracy_report(by_key, goal, budget.epochs)
    return result


# ---------------------------------------------------------------------------
# The whole benchmark
# ---------------------------------------------------------------------------


def bfloat16_verdict(report: dict) -> dict:
    """What the measurements say about bfloat16 on this CPU, model by model: recommended where the
    CPU supports it, and with it the model trains faster with a test accuracy within 0.3 points
    of float32's. A recipe turns it on with ``bfloat16_on_cpu=True``."""
    comparisons = {name: m.get("precision_comparison") for name, m in report["models"].items()}
    measured = {name: c for name, c in comparisons.items() if c}
    within = {name: within_tolerance(c["bfloat16_accuracy_difference_points"]) for name, c in measured.items()}
    faster = {name: c["bfloat16_speed_ratio"] > 1.0 for name, c in measured.items()}
    eligible = report["device_kind"] == "cpu" and report["cpu_supports_bfloat16"]
    per_model = {name: bool(eligible and within[name] and faster[name]) for name in measured}
    return {
        "cpu_supports_bfloat16": report["cpu_supports_bfloat16"],
        "accuracy_within_0.3_points": within,
        "faster": faster,
        "recommend_per_model": per_model,
        "recommend_bfloat16_default": bool(per_model) and all(per_model.values()),  # for every model measured
        "recipes_with_bfloat16_on_cpu": {name: train.recipe_for(name).bfloat16_on_cpu for name in measured},
        "note": "accuracies compared after the benchmark's epochs: with fewer than the recipe's (--epochs), "
                "batch normalization's running averages may still lag and a ResNet's test accuracy scatters by "
                "several points, so confirm with full-length runs before changing a recipe",
    }


def run_benchmark(models_to_run=None, *, epochs=None, train_examples=None, precision=None,
                  baseline_batch_size=KERAS_DEFAULT_BATCH_SIZE, compare_precision=True, target=None, seed=0,
                  json_path=None, log=print) -> dict:
    """Benchmark each model (default: lenet5 and resnet20); write ``json_path`` and a bar chart
    beside it (same name, ``.png``) when given. Returns the report."""
    names = list(dict.fromkeys(models_to_run or DEFAULT_MODELS))  # each once, in order
    for name in names:
        check_benchmarkable(name)
    started = time.perf_counter()
    device.configure_gpus()
    setup = device.training_setup(precision=precision)  # the general default; each model's recipe may differ
    log(f"Benchmark on {setup.description}, Keras {keras.__version__} ({keras.backend.backend()} backend), "
        f"Fashion-MNIST from {fashion_mnist.fashion_mnist_source()}")
    report = {
        "device": setup.description,
        "device_kind": setup.device,
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "budget": "smoke" if config.is_smoke() else "classroom",
        "cpu_supports_bfloat16": device.cpu_supports_bfloat16(),
        "precision": setup.precision,
        "jit_compile": setup.jit_compile,
        "models": {},
    }
    with _quiet_retracing_warnings():
        for name in names:
            model_setup = device.training_setup(
                precision=precision, bfloat16_on_cpu=train.recipe_for(name).bfloat16_on_cpu
            )
            report["models"][name] = bench_model(
                name, epochs=epochs, train_examples=train_examples, setup=model_setup,
                baseline_batch_size=baseline_batch_size,
                compare_precision=compare_precision, target=target, seed=seed, log=log,
            )
            if compare_precision:
                report["bfloat16"] = bfloat16_verdict(report)
            report["seconds"] = time.perf_counter() - started
            report["complete"] = len(report["models"]) == len(names)
            if json_path is not None:  # after each model: a run cut short keeps what it measured
                write_report(report, json_path)
    return report


# ---------------------------------------------------------------------------
# Detection: the R-CNN family side by side (`bench --task detection`)
# ---------------------------------------------------------------------------

# Mask R-CNN is Faster R-CNN plus a mask branch: the benchmark times the three detectors of the story.
DETECTORS = ("rcnn", "fast_rcnn", "faster_rcnn")
# Test seconds per image on the papers' GPUs, and how much of it the proposals took. R-CNN and Fast R-CNN with
# VGG-16, excluding selective search (Girshick 2015, Table 4: 47.0 s and 0.32 s); selective search
# itself took 1.51 s a image on a CPU and Faster R-CNN (VGG-16, RPN included) 0.198 s, 10 ms of it for the
# proposals (Ren et al. 2015, Table 5).
PAPER_TIMES = {
    "rcnn": {"seconds": 47.0 + 1.51, "proposal_seconds": 1.51},
    "fast_rcnn": {"seconds": 0.32 + 1.51, "proposal_seconds": 1.51},
    "faster_rcnn": {"seconds": 0.198, "proposal_seconds": 0.010},
}


def run_detection_benchmark(models_to_run=None, *, epochs=None, train_examples=None, seed=0, json_path=None,
                            log=print) -> dict:
    """Train and test each detector (default: R-CNN, Fast R-CNN, Faster R-CNN) as ``train`` does, on the same
    canvases: mAP@0.5, COCO mAP, seconds per test canvas and the share of selective search in it, with the
    papers' times beside them. Writes ``json_path`` (after each detector) when given."""
    names = list(dict.fromkeys(models_to_run or DETECTORS))
    for name in names:
        if models.spec(name).task != "detection":
            raise ValueError(f"{name} is not a detector; bench --task detection takes {', '.join(DETECTORS)}.")
    # The same canvases for every detector: the number of training canvases decides the test set too.
    train_examples = train_examples or train.recipe_for(names[0]).train_examples
    started = time.perf_counter()
    setup = device.training_setup()
    log(f"Detection benchmark on {setup.description}, Keras {keras.__version__} ({keras.backend.backend()})")
    report = {"device": setup.description, "backend": keras.backend.backend(),
              "budget": "smoke" if config.is_smoke() else "classroom", "models": {}}
    with _quiet_retracing_warnings(), tempfile.TemporaryDirectory() as folder:
        for name in names:
            log(f"{name}: training")
            metrics = train.run_experiment(name, epochs=epochs, train_examples=train_examples, seed=seed,
                                           out=Path(folder) / name, verbose=0)
            seconds, proposals = metrics["test_seconds_per_image"], metrics["test_proposal_seconds_per_image"]
            report["models"][name] = {
                "map_50": metrics["test_map_50"], "coco_map": metrics["test_coco_map"],
                "seconds_per_image": seconds, "proposal_seconds_per_image": proposals,
                "proposal_share": proposals / seconds if seconds else None,
                "training_examples_per_second": metrics["examples_per_second"], "epochs": metrics["epochs"],
                "train_examples": metrics["train_examples"], "test_examples": metrics["test_examples"],
                "paper": PAPER_TIMES.get(name),
            }
            report["seconds"] = time.perf_counter() - started
            if json_path is not None:
                Path(json_path).write_text(json.dumps(report, indent=2))
    return report


def format_detection_report(report: dict) -> str:
    """The detectors side by side, with each one's speed-up over the slowest, here and in the papers."""
    lines = [f"Detectors on {report['device']} ({report['backend']} backend, {report['budget']} budget)", ""]
    header = (f"{'model':12s} {'mAP@0.5':>8s} {'COCO mAP':>9s} {'s/image':>8s} {'proposals':>10s} "
              f"{'speed-up':>9s} {'paper s/image':>14s} {'paper speed-up':>15s}")
    lines += [header, "-" * len(header)]
    results = report["models"]
    slowest = max(result["seconds_per_image"] for result in results.values())
    paper_slowest = max((result["paper"]["seconds"] for result in results.values() if result["paper"]), default=None)
    for name, result in results.items():
        paper = result["paper"]
        paper_text = f"{paper['seconds']:14.3f} {paper_slowest / paper['seconds']:14.1f}×" if paper else ""
        lines.append(f"{name:12s} {result['map_50']:8.4f} {result['coco_map']:9.4f} {result['seconds_per_image']:8.3f} "
                     f"{result['proposal_share']:9.0%} {slowest / result['seconds_per_image']:8.1f}× {paper_text}")
    lines.append("(proposals: selective search's share of the time; Faster R-CNN's RPN runs inside the network. "
                 f"Papers: VGG-16 on their GPUs, selective search on a CPU; {report['seconds']:,.0f} s in all)")
    return "\n".join(lines)


def chart_path(json_path) -> Path:
    return Path(json_path).with_suffix(".png")


def way_labels(result: dict) -> dict[str, str]:
    """Short labels for a chart: the baseline, and each cv_textbook way by its precision."""
    labels = {"baseline": "Keras defaults\n(NumPy arrays)", "package": f"cv_textbook\n{result['precision']}"}
    for key in result["ways"]:
        if key.startswith("package_"):
            labels[key] = f"cv_textbook\n{key.removeprefix('package_')}"
    return labels


def _way_speed(result: dict, key: str) -> float:
    if key == "baseline":
        return result["baseline_examples_per_second"]
    if key == "package":
        return result["examples_per_second"]
    return result["precision_comparison"][key.removeprefix("package_")]["examples_per_second"]


def plot_report(report: dict):
    """One column per model: steady-state training speed of each way (bars) above its test
    accuracy against training seconds (one point per epoch), with the target accuracy."""
    names = list(report["models"])
    figure = Figure(figsize=(4.6 * len(names), 7.4), layout="constrained")
    axes = figure.subplots(2, len(names), squeeze=False)
    for column, name in enumerate(names):
        result = report["models"][name]
        labels = way_labels(result)
        viz.plot_bar({labels[key]: _way_speed(result, key) for key in result["ways"]},
                     title=f"{name}: {result['speedup']:.2f}× the baseline", ylabel="training examples/s",
                     ax=axes[0, column])
        curves = axes[1, column]
        for key in result["ways"]:
            curves.plot(result["training_seconds_per_epoch"][key], result["test_accuracy_per_epoch"][key],
                        marker="o", markersize=3, label=labels[key].replace("\n", " "))
        target = result["time_to_accuracy"].get("target")
        if target is not None:
            curves.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target:.2f}")
        curves.set(xlabel="training seconds (evaluation left out)", ylabel="test accuracy",
                   title=f"after each of {result['epochs']} epoch(s)")
        curves.grid(alpha=0.3)
        curves.legend(fontsize=7, loc="lower right")
    steady = all(result["warmup_epochs_skipped"] for result in report["models"].values())
    figure.suptitle(f"{'Steady-state t' if steady else 'T'}raining speed on {report['device']}", fontsize=10)
    return figure


def write_report(report: dict, json_path) -> Path:
    """Write the report as JSON and its bar chart beside it; return the chart's path."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2))
    png = chart_path(json_path)
    plot_report(report).savefig(png, dpi=100, bbox_inches="tight")
    return png


def _number(value, spec=",.0f") -> str:
    return "-" if value is None else format(value, spec)


def format_report(report: dict) -> str:
    """The report as a table for a terminal."""
    lines = [f"Training speed on {report['device']} ({report['backend']} backend, {report['budget']} budget)", ""]
    header = f"{'model':10s} {'way':36s} {'examples/s':>11s} {'test acc':>9s} {'RSS MB':>8s}"
    lines += [header, "-" * len(header)]
    for name, result in report["models"].items():
        for index, (key, label) in enumerate(result["ways"].items()):
            accuracy = result["test_accuracy_per_epoch"][key][-1]
            lines.append(f"{name if index == 0 else '':10s} {label:36s} {_number(_way_speed(result, key)):>11s} "
                         f"{accuracy:9.4f} {_number(result['rss_mb_while_training'].get(key)):>8s}")
        within = "within" if result["accuracy_within_0.3_points"] else "NOT within"
        lines.append(f"{'':10s} speed-up {result['speedup']:.2f}×; test accuracy "
                     f"{result['accuracy_difference_points']:+.2f} points against the baseline ({within} 0.3)")
        lines.append(f"{'':10s} input pipeline alone {_number(result['input_pipeline_examples_per_second'])} "
                     f"examples/s; process peak RSS {_number(result['peak_memory_mb'])} MB")
        warmup = " (the first left out of the speeds)" if result["warmup_epochs_skipped"] else ""
        lines.append(f"{'':10s} {result['epochs']} epoch(s){warmup} of {result['train_examples']:,} images "
                     f"(the recipe has {result['recipe_epochs']}), batch {result['baseline_batch_size']} (baseline) "
                     f"and {result['batch_size']} (package); test on {result['test_examples']:,} images")
        tta = result["time_to_accuracy"]
        if tta.get("target") is None:
            lines.append(f"{'':10s} time to accuracy: {tta['summary']}")
        else:
            lines.append(f"{'':10s} time to {tta['target']:.2f} test accuracy: cv_textbook {tta['summary']}; "
                         f"baseline {tta['baseline']['summary']}")
    verdict = report.get("bfloat16")
    if verdict:
        lines += ["", f"bfloat16 on this CPU (native support: {verdict['cpu_supports_bfloat16']}):"]
        for name, recommended in verdict["recommend_per_model"].items():
            in_recipe = verdict["recipes_with_bfloat16_on_cpu"][name]
            lines.append(f"  {name:10s} faster {verdict['faster'][name]}, accuracy within 0.3 points "
                         f"{verdict['accuracy_within_0.3_points'][name]} -> "
                         f"{'recommended' if recommended else 'not recommended'}; the recipe has it "
                         f"{'on' if in_recipe else 'off'}")
        short = [name for name, result in report["models"].items() if result["epochs"] < result["recipe_epochs"]]
        if short:
            lines.append(f"  ({', '.join(short)}: shorter than the recipe; confirm with full-length runs "
                         "before editing a recipe)")
    lines.append(f"({report['seconds']:,.0f} s in all)")
    return "\n".join(lines)
