"""One spec per model: everything the package knows about a registered model sits in its entry.

A ``ModelSpec`` names the builder, the chapter that teaches the model, the task it trains on
(``cv_textbook.tasks``), its classroom recipe and, where it has one, its full recipe
(``CV_TEXTBOOK_FULL=1``), the small arguments the tests build it with and the test accuracy the
benchmark times. The CLI, the benchmark, ``train`` and the tests read the entries; nothing else
keeps a table of model names. Adding a model is a builder function plus one entry in ``SPECS``.

Pure data: importing this module loads no framework (a builder's module is imported when the
model is built).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable

CHAPTERS = {
    0: "Setup and data",
    1: "Convolution basics",
    2: "LeNet-5",
    3: "AlexNet and ZFNet",
    4: "VGG",
    5: "GoogLeNet",
    6: "ResNet",
    7: "DenseNet",
    8: "SENet",
    9: "Xception",
    10: "U-Net, Xception-style segmentation",
    11: "Object detection",
    12: "Comparing architectures",
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a model trains: the settings ``train.fit`` takes, plus how much data and precision.

    ``train_examples`` caps the training examples (images, or canvases for segmentation and
    detection; None takes the task's default); ``loss_weights`` gives one weight per output of a
    model with auxiliary heads, the main head first (GoogLeNet: 1, 0.3, 0.3);
    ``bfloat16_on_cpu`` trains in mixed bfloat16 on CPUs that compute it natively, where
    ``python -m cv_textbook bench`` measured it faster and as accurate for this model.
    """

    epochs: int
    batch_size: int = 128
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    optimizer: str = "adam"
    warmup_epochs: float = 0
    augment: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None  # resize Fashion-MNIST for networks made for more
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    train_examples: int | None = None
    loss_weights: tuple[float, ...] | None = None
    bfloat16_on_cpu: bool = False

    def fit_kwargs(self) -> dict:
        """The arguments of ``train.fit`` this recipe sets."""
        names = ("epochs", "batch_size", "learning_rate", "schedule", "optimizer", "warmup_epochs", "augment",
                 "image_size", "loss_weights")
        return {name: getattr(self, name) for name in names}


DEFAULT_RECIPE = Recipe(epochs=10)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything about one registered model.

    ``builder`` is ``"module:function"`` inside ``cv_textbook.models`` (imported only when the
    model is built) or a function (a notebook's or a test's own model). ``task`` names a task of
    ``cv_textbook.tasks`` and ``task_options`` its settings (a segmentation model's canvas size
    and labels). ``test_kwargs`` build the same layers small and fast for the tests;
    ``quick_tests=False`` leaves a model out of the tests that build every model (ResNet-1202
    takes minutes to save). ``bench_target`` is the test accuracy whose time the benchmark reports
    (None: the benchmark does not train this model).
    """

    name: str
    builder: str | Callable
    chapter: int
    task: str = "classification"
    task_options: dict = dataclasses.field(default_factory=dict)
    recipe: Recipe = DEFAULT_RECIPE
    full_recipe: Recipe | None = None
    test_kwargs: dict = dataclasses.field(default_factory=dict)
    quick_tests: bool = True
    bench_target: float | None = None

    def build_function(self) -> Callable:
        if callable(self.builder):
            return self.builder
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(f"cv_textbook.models.{module}"), function)


# ---------------------------------------------------------------------------------------------
# Recipes, chosen by measurement so that each trains in minutes on a laptop CPU.
# ---------------------------------------------------------------------------------------------

# LeNet-5, 15 epochs, test accuracy: constant 1e-3 at batch 128 0.896; cosine decay at batch 128
# 0.901, at batch 64 0.906 (README, "Choices that were measured"). Mixed bfloat16 was not
# consistently faster (0.99-1.16x), so it stays float32.
LENET5_RECIPE = Recipe(epochs=15, batch_size=64, learning_rate=1e-3, schedule="cosine")

# ResNet-20 (28x28x1), 10 epochs of SGD 0.1 with cosine decay, flips and weight decay 1e-4: 0.933
# (0.929 in chapter 06) in float32, 0.930 in mixed bfloat16, which `bench` measured 1.44x faster on
# a CPU with native bfloat16 (1.04-1.08x before batch normalization used TensorFlow's fused
# kernel), within 0.3 points of float32's accuracy.
RESNET20_RECIPE = Recipe(
    epochs=10, batch_size=128, learning_rate=0.1, optimizer="sgd", schedule="cosine", augment=("flip",),
    model_kwargs={"weight_decay": 1e-4}, bfloat16_on_cpu=True,
)

# The paper's own recipe for the CIFAR ResNets, He et al. (2015), §4.2: SGD with momentum 0.9,
# batch 128, learning rate 0.1 divided by 10 at 32k and 48k of 64k iterations (50 % and 75 %),
# weight decay 1e-4, flips and 4-pixel shifts; ResNet-110 warms up at 0.01 for about the first
# epoch (400 iterations). Hours on a CPU: meant for a GPU.
PAPER_CIFAR_RECIPE = Recipe(
    epochs=160, batch_size=128, learning_rate=0.1, optimizer="sgd", schedule="step", augment=("flip", "shift"),
    model_kwargs={"weight_decay": 1e-4}, bfloat16_on_cpu=True,
)

# Segmentation of 128-px canvases: 2,000 training canvases, 10 epochs (chapter 10).
SEGMENTATION_RECIPE = Recipe(epochs=10, batch_size=16, learning_rate=1e-3, schedule="cosine", train_examples=2000)
# The Xception U-Net has no paper recipe: the full one is the classroom recipe on four times the
# canvases for 12 epochs, in mixed bfloat16 where the CPU computes it natively (measured on the
# 2-core AMD EPYC at batch 16: 39.9 canvases/s in float32, 55.7 in mixed bfloat16).
FULL_SEGMENTATION_RECIPE = dataclasses.replace(
    SEGMENTATION_RECIPE, epochs=12, train_examples=8000, bfloat16_on_cpu=True
)
CANVASES = {"canvas_size": 128, "labels": "trimap"}

# DenseNet-BC classroom (chapter 7): ResNet-20's recipe, so that the chapter compares concatenation
# with addition under the same training; float32 until `bench` has measured mixed bfloat16 for it.
DENSENET_CLASSROOM_RECIPE = dataclasses.replace(RESNET20_RECIPE, bfloat16_on_cpu=False)
# The paper's DenseNet-BC recipe on CIFAR (Huang et al. 2017, §4.2): batch 64, 300 epochs, learning
# rate 0.1 divided by 10 at 50 % and 75 %, weight decay 1e-4, flips and shifts; its SGD uses Nesterov
# momentum 0.9, ``train`` plain momentum 0.9. Hours on a CPU: meant for a GPU.
PAPER_DENSENET_RECIPE = dataclasses.replace(PAPER_CIFAR_RECIPE, epochs=300, batch_size=64)

# ---------------------------------------------------------------------------------------------
# The models, by chapter.
# ---------------------------------------------------------------------------------------------

_IMAGENET_SMALL = {"input_shape": (32, 32, 3), "num_classes": 10}  # the same layers at a small size
_FASHION_SIZE = {"input_shape": (28, 28, 1)}


def _cifar_resnets() -> list[ModelSpec]:
    specs = []
    for depth in (20, 32, 44, 56, 110, 1202):
        full = None
        if depth in (20, 32, 44, 56):
            full = PAPER_CIFAR_RECIPE
        elif depth == 110:
            full = dataclasses.replace(PAPER_CIFAR_RECIPE, warmup_epochs=1)
        specs.append(ModelSpec(
            f"resnet{depth}", f"resnet:resnet{depth}", chapter=6, test_kwargs=_FASHION_SIZE,
            recipe=RESNET20_RECIPE if depth == 20 else DEFAULT_RECIPE, full_recipe=full,
            bench_target=0.93 if depth == 20 else None, quick_tests=depth != 1202,
        ))
    specs += [ModelSpec(f"plain{depth}", f"resnet:plain{depth}", chapter=6, test_kwargs=_FASHION_SIZE)
              for depth in (20, 32, 44, 56, 110)]
    return specs


SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in [
    # Chapter 2
    ModelSpec("lenet5", "lenet:lenet5", chapter=2, recipe=LENET5_RECIPE, bench_target=0.91),
    # Chapter 6: the ImageNet layout (built at 224x224, checked against the paper and keras.applications)
    *[ModelSpec(name, f"resnet:{name}", chapter=6, test_kwargs=_IMAGENET_SMALL)
      for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "plain18", "plain34")],
    # Chapter 6: the CIFAR layout, trained on Fashion-MNIST
    *_cifar_resnets(),
    ModelSpec("resnet_cifar", "resnet:resnet_cifar", chapter=6, test_kwargs=_FASHION_SIZE),
    # Chapter 7: DenseNet (ImageNet layout = keras.applications'; DenseNet-BC: the paper's CIFAR layout)
    # DenseNet-169/201 are DenseNet-121's layers in longer blocks: saving them took 2-4 minutes each.
    *[ModelSpec(name, f"densenet:{name}", chapter=7, test_kwargs=_IMAGENET_SMALL,
                quick_tests=name == "densenet121")
      for name in ("densenet121", "densenet169", "densenet201")],
    ModelSpec("densenet_bc", "densenet:densenet_bc", chapter=7, full_recipe=PAPER_DENSENET_RECIPE,
              test_kwargs={"depth": 40, **_FASHION_SIZE}),
    ModelSpec("densenet_classroom", "densenet:densenet_classroom", chapter=7,
              recipe=DENSENET_CLASSROOM_RECIPE),
    # Chapter 8: SE-ResNet (ResNet with a squeeze-and-excitation block in every residual block)
    *[ModelSpec(name, f"senet:{name}", chapter=8, test_kwargs=_IMAGENET_SMALL)
      for name in ("se_resnet18", "se_resnet34", "se_resnet50", "se_resnet101", "se_resnet152")],
    # SE-ResNet-20 trains with ResNet-20's recipe: chapter 8 compares the two under the same training.
    # SE-ResNet-110 (SE-ResNet-56's layers, 3 minutes to save) stays out of the every-model tests.
    *[ModelSpec(f"se_resnet{depth}", f"senet:se_resnet{depth}", chapter=8, test_kwargs=_FASHION_SIZE,
                recipe=RESNET20_RECIPE if depth == 20 else DEFAULT_RECIPE, quick_tests=depth != 110,
                full_recipe=dataclasses.replace(PAPER_CIFAR_RECIPE, warmup_epochs=1 if depth == 110 else 0))
      for depth in (20, 32, 44, 56, 110)],
    # Chapter 10
    ModelSpec("unet_xception", "unet:unet_xception", chapter=10, task="segmentation", task_options=CANVASES,
              recipe=SEGMENTATION_RECIPE, full_recipe=FULL_SEGMENTATION_RECIPE, test_kwargs={"input_shape": (32, 32, 1)}),
    ModelSpec("unet_classic", "unet:unet_classic", chapter=10, task="segmentation", task_options=CANVASES,
              recipe=SEGMENTATION_RECIPE, test_kwargs={"input_shape": (32, 32, 1), "padding": "same"}),
]}
