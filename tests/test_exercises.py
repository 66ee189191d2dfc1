"""The exercise checks: the reference answer passes, typical mistakes get their own hint,
placeholders ask the student to fill in, and no wrong answer ever raises."""

import importlib
import pkgutil
import subprocess
import sys

import numpy as np
import pytest

from cv_textbook import analysis, exercises
from cv_textbook.data import FASHION_MNIST_CLASSES
from cv_textbook.exercises import ch00, ch01, ch02
from exercise_feedback import assert_correct, assert_fill_in, assert_hint

CHAPTERS = sorted(m.name for m in pkgutil.iter_modules(exercises.__path__) if m.name.startswith("ch"))


# ---------------------------------------------------------------------------
# The package
# ---------------------------------------------------------------------------


def test_package_lists_every_chapter_module():
    assert CHAPTERS == ["ch00", "ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch08", "ch09", "ch10", "ch11"]
    assert exercises.__all__ == CHAPTERS
    for name in CHAPTERS:
        assert f":mod:`~cv_textbook.exercises.{name}`" in exercises.__doc__


# Three checks per chapter, plus the build exercises added since (issue 15): ch01 check_gap_cnn,
# ch02 check_paper_features, ch06 check_residual_block and ch10 check_down_block.
CHECKS_PER_CHAPTER = {"ch01": 4, "ch02": 4, "ch06": 4, "ch10": 4}


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_all_names_its_checks_and_nothing_missing(name):
    module = importlib.import_module(f"cv_textbook.exercises.{name}")
    checks = [attribute for attribute in dir(module) if attribute.startswith("check_")]
    assert len(checks) == CHECKS_PER_CHAPTER.get(name, 3)
    assert set(checks) <= set(module.__all__)
    assert all(hasattr(module, attribute) for attribute in module.__all__)
    for check in checks:
        assert f"``{check}``" in exercises.__doc__


def test_importing_the_chapter_modules_loads_no_framework():
    code = (
        "import sys\n"
        f"import {', '.join('cv_textbook.exercises.' + name for name in CHAPTERS)}\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------------------
# Chapter 00
# ---------------------------------------------------------------------------


def count_class_reference(labels, class_name):
    return int((labels == FASHION_MNIST_CLASSES.index(class_name)).sum())


def test_ch00_count_class_reference(capsys):
    assert_correct(capsys, ch00.check_count_class, count_class_reference)


def _ignores_labels(labels, class_name):
    return 6000  # what a student who counts the global y_train would return


@pytest.mark.parametrize(
    "answer, expected",
    [
        (lambda labels, name: int((labels == FASHION_MNIST_CLASSES.index(name) + 1).sum()), "one higher"),
        (lambda labels, name: int((labels == FASHION_MNIST_CLASSES.index(name) - 1).sum()), "one lower"),
        (lambda labels, name: labels == FASHION_MNIST_CLASSES.index(name), "mask"),
        (lambda labels, name: int(np.sum(labels == name)), "not names"),
        (lambda labels, name: len(labels), "counted every label"),
        (
            lambda labels, name: float((labels == FASHION_MNIST_CLASSES.index(name)).mean()),
            "fraction",
        ),
        (_ignores_labels, "global variable"),
        (lambda labels, name: int(labels[5000]), "raised IndexError"),
        (lambda labels, name: len(labels) // 10, "not the number of labels"),
        ("6000", "pass the function itself"),
    ],
)
def test_ch00_count_class_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch00.check_count_class, answer, expected)


def test_ch00_count_class_fill_in(capsys):
    assert_fill_in(capsys, ch00.check_count_class, None)
    assert_fill_in(capsys, ch00.check_count_class, lambda labels, name: None)


def _divide_in_place(images):
    images /= 255
    return images


def _not_implemented(images):
    raise NotImplementedError


def test_ch00_normalise_reference(capsys):
    assert_correct(capsys, ch00.check_normalise, lambda images: images.astype("float32") / 255)


@pytest.mark.parametrize(
    "answer, expected",
    [
        (lambda images: images // 255, "integer division"),
        (lambda images: (images // 255).astype("float32"), "integer division"),
        (lambda images: images.astype("float32"), "forgot to scale"),
        (lambda images: images.astype("float32") / 256, "divided by 256"),
        (lambda images: images / 255, "float64"),
        (lambda images: (images / 255).astype("float16"), "float16"),
        (_divide_in_place, "in place"),
        (
            lambda images: ((images - images.min()) / (images.max() - images.min())).astype("float32"),
            "own minimum and maximum",
        ),
        (lambda images: ((images - images.mean()) / images.std()).astype("float32"), "standardised"),
        (lambda images: images[..., None].astype("float32") / 255, "channel axis"),
        (lambda images: images.astype("float32") / 128, "expected values from 0.0"),
        (lambda images: "done", "array of numbers"),
        (lambda images: [images[0], images[0, :3]], "array of numbers"),
    ],
)
def test_ch00_normalise_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch00.check_normalise, answer, expected)


def test_ch00_normalise_fill_in(capsys):
    assert_fill_in(capsys, ch00.check_normalise, None)
    assert_fill_in(capsys, ch00.check_normalise, _not_implemented)


def _class_means():
    from cv_textbook.data import load_fashion_mnist

    (x_train, y_train), _ = load_fashion_mnist()
    return np.array([x_train[y_train == c].mean() for c in range(10)])


def test_ch00_brightest_class(capsys):
    means = _class_means()
    best, worst = int(means.argmax()), int(means.argmin())
    assert_correct(capsys, ch00.check_brightest_class, FASHION_MNIST_CLASSES[best])
    assert_correct(capsys, ch00.check_brightest_class, FASHION_MNIST_CLASSES[best].upper())
    assert_correct(capsys, ch00.check_brightest_class, np.int64(best))
    assert_hint(capsys, ch00.check_brightest_class, FASHION_MNIST_CLASSES[worst], "argmin")
    if best + 1 < 10 and best + 1 != worst:
        assert_hint(capsys, ch00.check_brightest_class, best + 1, "ids start at 0")
    assert_hint(capsys, ch00.check_brightest_class, "Jacket", "not a class name")
    assert_hint(capsys, ch00.check_brightest_class, means, "argmax")
    assert_fill_in(capsys, ch00.check_brightest_class, None)


def test_ch00_brightest_single_image(capsys):
    from cv_textbook.data import load_fashion_mnist

    (x_train, y_train), _ = load_fashion_mnist()
    single = int(y_train[x_train.reshape(len(x_train), -1).mean(axis=1).argmax()])
    means = _class_means()
    if single in (int(means.argmax()), int(means.argmin()), int(means.argmax()) + 1):
        pytest.skip("the brightest image's class coincides with another recognised answer")
    assert_hint(capsys, ch00.check_brightest_class, FASHION_MNIST_CLASSES[single], "single brightest")


# ---------------------------------------------------------------------------
# Chapter 01
# ---------------------------------------------------------------------------


def output_size_reference(input_size, kernel_size, stride, padding):
    return (input_size + 2 * padding - kernel_size) // stride + 1


def test_ch01_output_size_reference(capsys):
    assert_correct(capsys, ch01.check_output_size, output_size_reference)


def test_ch01_output_size_cases_match_keras():
    """The analysis formula the check relies on agrees with Keras on every case it uses."""
    import keras

    for n, k, s, p in ch01.OUTPUT_SIZE_CASES:
        inputs = keras.Input((n, n, 1))
        x = keras.layers.ZeroPadding2D(p)(inputs)
        x = keras.layers.Conv2D(1, k, strides=s)(x)
        assert x.shape[1] == analysis.conv_output_size(n, k, s, p)


@pytest.mark.parametrize(
    "answer, expected",
    [
        (lambda n, k, s, p: (n + 2 * p - k) // s, "forgot the +1"),
        (lambda n, k, s, p: (n + p - k) // s + 1, "both"),
        (lambda n, k, s, p: n + 2 * p - k + 1, "ignores the stride"),
        (lambda n, k, s, p: (n + 2 * p - k) / s + 1, "floor division"),
        (lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1, "rounded up"),
        (lambda n, k, s, p: (n + 2 * p - k + 1) // s, "outside the division"),
        (lambda n, k, s, p: (n - k) // s + 1, "ignores the padding"),
        (lambda n, k, s, p: float((n + 2 * p - k) // s + 1), "they are floats"),
        (lambda n, k, s, p: str((n + 2 * p - k) // s + 1), "should return a number, got str"),
        (lambda n, k: n - k + 1, "raised TypeError"),
        (lambda n, k, s, p: 7, "pad first"),
    ],
)
def test_ch01_output_size_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch01.check_output_size, answer, expected)


def test_ch01_output_size_fill_in(capsys):
    assert_fill_in(capsys, ch01.check_output_size, None)
    assert_fill_in(capsys, ch01.check_output_size, lambda n, k, s, p: None)


def _param_keras():
    import keras

    q = ch01.PARAM_QUESTION
    inputs = keras.Input((q["height"], q["width"], q["in_channels"]))
    layer = keras.layers.Conv2D(q["filters"], q["kernel_size"], padding="same")
    layer(inputs)
    return layer


def test_ch01_param_count(capsys):
    layer = _param_keras()
    q = ch01.PARAM_QUESTION
    k, c_in, c_out = q["kernel_size"], q["in_channels"], q["filters"]
    positions = q["height"] * q["width"]
    # 64 filters of 3x3x32 plus 64 biases; Keras counts the same.
    assert layer.count_params() == 3 * 3 * 32 * 64 + 64 == 18_496
    assert_correct(capsys, ch01.check_param_count, 18_496)
    assert_correct(capsys, ch01.check_param_count, 18_496.0)
    mistakes = [
        (k * k * c_in * c_out, "forgot the bias"),
        (k * k * c_out + c_out, "spans all"),
        (k * k * c_in * c_out + c_in, "per *filter*"),
        (k * k * c_in + 1, "one filter"),
        (k * c_in * c_out + c_out, "not k"),
        (positions * k * k * c_in * c_out, "multiply-accumulates"),
        (positions * (k * k * c_in * c_out + c_out), "shared by all positions"),
        (positions * c_out, "output values"),
        (12345, "which of these factors"),
        ("18k", "whole number"),
    ]
    for answer, expected in mistakes:
        assert_hint(capsys, ch01.check_param_count, answer, expected)
    assert_fill_in(capsys, ch01.check_param_count, None)


def test_ch01_receptive_field(capsys):
    windows = [(k, s) for _, k, s in ch01.RECEPTIVE_FIELD_STACK]
    # The reference by the recurrence written out here, independently of analysis.
    rf, jump = 1, 1
    for k, s in windows:
        rf, jump = rf + (k - 1) * jump, jump * s
    assert_correct(capsys, ch01.check_receptive_field, rf)
    assert_correct(capsys, ch01.check_receptive_field, (rf, rf))
    product = int(np.prod([k for k, _ in windows]))
    conv_only = 1 + sum(k - 1 for name, k, _ in ch01.RECEPTIVE_FIELD_STACK if name.startswith("conv"))
    mistakes = [
        (1 + sum(k - 1 for k, _ in windows), "ignored the strides"),
        (sum(k for k, _ in windows), "overlap"),
        (product, "not multiplication"),
        (conv_only, "skipped the pooling"),
        (rf - 1, "one short"),
        (rf + 100, "start with r = 1"),
        ("big", "whole number"),
    ]
    values = [value for value, _ in mistakes[:5]]
    assert len(set(values + [rf])) == len(values) + 1, "each mistake must give its own number"
    for answer, expected in mistakes:
        assert_hint(capsys, ch01.check_receptive_field, answer, expected)
    assert_fill_in(capsys, ch01.check_receptive_field, None)


# ---------------------------------------------------------------------------
# Chapter 02
# ---------------------------------------------------------------------------


def test_ch02_s4_shape(capsys):
    # LeNet-5 with C1 padding='same' at 28x28: C1 keeps 28x28x6, S2 halves it to 14x14x6, C3 (5x5,
    # 'valid', 16 filters) gives 10x10x16 and S4 halves it to 5x5x16 - the 16@5x5 of S4 in LeCun et
    # al. 1998, Fig. 2, where the 32x32 input and a 'valid' C1 lead to the same sizes.
    s4 = (5, 5, 16)
    assert_correct(capsys, ch02.check_s4_shape, s4)
    assert_correct(capsys, ch02.check_s4_shape, (None, 5, 5, 16))
    assert_correct(capsys, ch02.check_s4_shape, [5, 5, 16])
    assert_correct(capsys, ch02.check_s4_shape, (np.int64(5), 5.0, 16))
    mistakes = [
        ((4, 4, 16), "padding='valid'"),  # 28 -C1 valid-> 24 -S2-> 12 -C3-> 8 -S4-> 4
        ((10, 10, 16), "C3's output"),
        ((7, 7, 16), "no padding"),  # S2's 14 halved, as if C3 kept the size
        ((5, 5, 6), "pooling never changes"),  # C1's 6 channels
        ((16, 5, 5), "channels-last"),
        ((14, 14, 6), "S2's output"),
        (5 * 5 * 16, "after Flatten"),  # the 400 inputs of C5
        ((3, 3, 16), "layer by layer"),
        ((5, 5), "three numbers"),
        ("5x5x16", "tuple of whole numbers"),
    ]
    for answer, expected in mistakes:
        assert_hint(capsys, ch02.check_s4_shape, answer, expected)
    assert_fill_in(capsys, ch02.check_s4_shape, None)


def test_ch02_c3_params(capsys):
    # C3 connected to all 6 maps of S2: 16 filters of 5x5x6 plus 16 biases, 5*5*6*16 + 16 = 2,416
    # (LeCun et al. 1998, Fig. 2, with a full connection instead of the paper's Table I).
    assert_correct(capsys, ch02.check_c3_params, 2416)
    assert_correct(capsys, ch02.check_c3_params, 2416.0)
    k, c_in, c_out = 5, 6, 16
    mistakes = [
        (k * k * c_in * c_out, "forgot the bias"),
        (k * k * 1 * c_out + c_out, "not the 1-channel image"),
        (k * k * c_out * c_out + c_out, "own 16 filters"),
        (k * k * c_in * c_out + c_in, "one bias per filter"),
        (1516, "sparse connection table"),  # the paper's C3 (Table I connections): 1,516 parameters
        (10 * 10 * k * k * c_in * c_out, "multiply-accumulates"),  # C3's output is 10x10
        (5 * 5 * 1 * 6 + 6, "C1's parameter count"),  # C1: 6 filters of 5x5 on the 1-channel image
        (k * c_in * c_out + c_out, "not 5"),
        (999, "k*k*C_in weights per filter"),
        ("2416", "one whole number"),
    ]
    for answer, expected in mistakes:
        assert_hint(capsys, ch02.check_c3_params, answer, expected)
    assert_fill_in(capsys, ch02.check_c3_params, None)


def test_ch02_paper_c3_table():
    # The 1998 paper's C3: 16 maps, and 1,516 trainable parameters in its Table I.
    assert len(ch02.PAPER_C3_INPUTS) == 16
    assert sum(ch02.PAPER_C3_INPUTS) * 25 + 16 == 1516


def test_ch02_modern_change(capsys):
    assert_correct(capsys, ch02.check_modern_change, "c")
    assert_correct(capsys, ch02.check_modern_change, " C) ")
    mistakes = [
        ("a", "pooling layers too"),
        ("b", "activations too"),
        ("d", "BatchNormalization"),
        ("e", "parameters"),
        ("f", "simplification"),
        ("z", "one letter"),
        (3, "one letter"),
    ]
    for answer, expected in mistakes:
        assert_hint(capsys, ch02.check_modern_change, answer, expected)
    assert_fill_in(capsys, ch02.check_modern_change, None)
