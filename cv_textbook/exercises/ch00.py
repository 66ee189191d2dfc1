"""Chapter 00 exercises: getting to know Fashion-MNIST.

* ``check_count_class(count_class)`` - a function ``count_class(labels, class_name)``
  that counts the labels of one class, given the class *name*.
* ``check_normalise(normalise)`` - a function ``normalise(images)`` turning uint8 pixels
  into float32 values in [0, 1] without changing the shape.
* ``check_brightest_class(answer)`` - the name (or id) of the class whose images are,
  on average, the brightest in the training set.

The references come from the real data through :mod:`cv_textbook.data`; it is loaded
(and its SHA-256 checked) the first time a check needs it.
"""

from __future__ import annotations

import functools

import numpy as np

from cv_textbook.data import FASHION_MNIST_CLASSES, load_fashion_mnist
from cv_textbook.exercises._feedback import (
    Hint,
    a_function,
    as_whole_number,
    correct,
    describe,
    describe_error,
    exercise_check,
    first_match,
    hint,
    results_of,
    whole_number,
)

__all__ = [
    "BRIGHTEST_CLASS_QUESTION",
    "COUNT_CLASS_QUESTION",
    "NORMALISE_QUESTION",
    "check_brightest_class",
    "check_count_class",
    "check_normalise",
]

COUNT_CLASS_QUESTION = (
    "Write count_class(labels, class_name) that returns how many entries of `labels` "
    "(integer class ids) belong to the class called `class_name`, e.g. 'Bag'."
)
NORMALISE_QUESTION = (
    "Write normalise(images) that turns uint8 images (N, 28, 28) with values 0..255 into "
    "float32 values in [0, 1] (0 = black, 1 = white), keeping the shape."
)
BRIGHTEST_CLASS_QUESTION = (
    "Which class has the brightest images on average over the training set (the highest "
    "mean pixel value)? Answer with its name, e.g. 'Trouser', or its id."
)


@functools.lru_cache(maxsize=1)
def _data():
    return load_fashion_mnist()


# ---------------------------------------------------------------------------
# Exercise 1: count the images of a class
# ---------------------------------------------------------------------------


def _count_cases():
    """(labels, class name) pairs: the full training set and slices whose counts differ."""
    (_, y_train), (_, y_test) = _data()
    return [
        (y_train, "Bag"),
        (y_train[:1000], "Bag"),
        (y_test[:1000], "T-shirt/top"),
        (y_train[:2000], "Ankle boot"),
    ]


def _count(labels, class_id):
    return int(np.count_nonzero(np.asarray(labels) == class_id))


@exercise_check
def check_count_class(count_class) -> bool:
    """Check ``count_class(labels, class_name) -> int`` on real label arrays."""
    a_function(
        count_class,
        fill_in="define count_class(labels, class_name) and pass the function itself.",
        example="check_count_class(count_class)",
    )
    cases = _count_cases()
    results = results_of(
        count_class,
        cases,
        fill_in="your count_class still returns None; make it return the count.",
        on_error=lambda case, error: (
            f"count_class(labels, {case[1]!r}) raised {describe_error(error)}. Look the class id up "
            "with FASHION_MNIST_CLASSES.index(class_name), then count the labels equal to it."
        ),
    )
    ids = [FASHION_MNIST_CLASSES.index(name) for _, name in cases]
    expected = [_count(labels, class_id) for (labels, _), class_id in zip(cases, ids)]
    counts = [as_whole_number(result) for result in results]
    if counts == expected:
        return correct(
            f"{cases[0][1]!r} has id {ids[0]}; your counts match on the full training set "
            f"({expected[0]:,}) and on {len(cases) - 1} slices. Counting with a mask "
            "(labels == class_id).sum() is the NumPy way: no Python loop over 60,000 labels."
        )
    first = results[0]
    shifted = {
        shift: [_count(labels, class_id + shift) for (labels, _), class_id in zip(cases, ids)]
        for shift in (+1, -1)
    }
    mistakes = [
        (
            lambda _: isinstance(first, np.ndarray) and first.ndim >= 1,
            f"your function returns an array of shape {getattr(first, 'shape', None)}, probably the "
            "True/False mask `labels == class_id`. Count its True values: (labels == class_id).sum().",
        ),
        (
            [count / len(labels) for count, (labels, _) in zip(expected, cases)],
            "you returned the *fraction* of labels in the class (count / total). The question asks "
            "for the number of images: drop the division.",
        ),
        (
            lambda _: None in counts,
            f"count_class should return a whole number, got {describe(first)}.",
        ),
        (
            [0] * len(cases),
            "every count is 0. The labels are integer ids (0..9), not names: compare them with the "
            "id FASHION_MNIST_CLASSES.index(class_name), not with the string itself.",
        ),
        (
            [len(labels) for labels, _ in cases],
            "you counted every label, whatever the class. Keep only the labels equal to the class "
            "id: (labels == class_id).sum().",
        ),
        *(
            (
                shifted[shift],
                f"your counts are those of the class with id {'one higher' if shift > 0 else 'one lower'}. "
                "Class ids start at 0 and follow FASHION_MNIST_CLASSES in order: "
                "FASHION_MNIST_CLASSES.index(class_name) is already the right id (no +1 or -1).",
            )
            for shift in (+1, -1)
        ),
        (
            lambda _: len(set(counts)) == 1,  # the cases' expected counts all differ
            f"your function returns {counts[0]} whatever labels it gets. Does it count a global "
            "variable (y_train) instead of its `labels` argument?",
        ),
    ]
    wrong = next(i for i, (count, right) in enumerate(zip(counts, expected)) if count != right)
    labels, name = cases[wrong]
    return hint(
        first_match(results, mistakes, tolerance=1e-6)
        or f"for {len(labels):,} labels and class {name!r} your function returned {counts[wrong]}, "
        "which is not the number of labels equal to that class's id. Find the id with "
        "FASHION_MNIST_CLASSES.index(class_name) and count with (labels == class_id).sum()."
    )


# ---------------------------------------------------------------------------
# Exercise 2: normalise pixels to [0, 1]
# ---------------------------------------------------------------------------


def _normalise_cases():
    """Real training images, and the same images darkened so none reaches white (where
    stretching each image to its own range is not the same as dividing by 255)."""
    (x_train, _), _ = _data()
    bright = x_train[:64]
    dark = (x_train[64:128] // 2).astype(np.uint8)
    return [bright, dark]


def _reference_normalise(images):
    return images.astype("float32") / 255.0


def _same(values, target, atol=1e-6):
    return values.shape == target.shape and np.allclose(values, target, atol=atol)


def _per_image_min_max(images):
    flat = images.reshape(len(images), -1).astype("float64")
    low = flat.min(axis=1, keepdims=True)
    high = flat.max(axis=1, keepdims=True)
    return ((flat - low) / np.maximum(high - low, 1)).reshape(images.shape)


def _batch_min_max(images):
    images = images.astype("float64")
    return (images - images.min()) / max(images.max() - images.min(), 1)


def _normalise_error(case, error) -> str:
    message = str(error).lower()
    if "cast" in message and "ufunc" in message:
        return (
            "NumPy refused to divide in place: `images /= 255` tries to store floats in the uint8 "
            "array. Build a new float array instead: images.astype('float32') / 255."
        )
    return f"normalise raised {describe_error(error)}."


def _as_array(result):
    """The student's result as a NumPy array (np.asarray also reads the tensors of keras.ops,
    TensorFlow and JAX); Hint for what cannot be one, e.g. a list of arrays of different shapes."""
    try:
        return np.asarray(result)
    except Exception:
        raise Hint(f"normalise should return an array of numbers, got {describe(result)}.") from None


def _is_normalised(images, output) -> bool:
    return output.dtype == np.float32 and _same(output, _reference_normalise(images))


def _normalise_mistakes(images, output):
    """(predicate on the output, hint) for one case; the predicates run in order, so each may
    assume that the ones before it did not match."""
    target = _reference_normalise(images)

    def values():
        return output.astype("float64")

    def close():
        return _same(values(), target, atol=1e-3)

    return [
        (
            lambda out: out.dtype.kind not in "biuf",
            f"normalise should return an array of numbers, got {describe(output)}.",
        ),
        (
            lambda out: out.shape == images.shape + (1,),
            f"the values may be right, but you added a channel axis: {images.shape} became "
            f"{output.shape}. This function should only rescale; the channel axis is added later "
            "(data.prepare_images does both).",
        ),
        (
            lambda out: out.shape != images.shape,
            f"the output must keep the input's shape {images.shape}, got {output.shape}.",
        ),
        (
            lambda out: out.dtype.kind in "biu",
            f"the result has integer dtype {output.dtype}, so it can only hold 0 and 1: integer "
            "division `//` (or converting back to uint8) throws the fraction away. Convert to float "
            "first: images.astype('float32') / 255.",
        ),
        (
            lambda out: _same(values(), images.astype("float64")),
            "you converted the type but forgot to scale: the values still go up to 255. Divide by "
            "255 so that white becomes 1.0.",
        ),
        (
            lambda out: _same(values(), (images // 255).astype("float64")),
            "every pixel became 0 except pure white (1): that is integer division `//`, which throws "
            "away the fraction. Use true division on floats: images.astype('float32') / 255.",
        ),
        (
            lambda out: _same(values(), images / 256.0),
            "you divided by 256, so white (255) becomes 0.996 instead of 1.0. The largest uint8 "
            "value is 255: divide by 255.",
        ),
        (
            lambda out: not close()
            and any(
                _same(values(), stretched, atol=1e-3)
                for stretched in (_per_image_min_max(images), _batch_min_max(images))
            ),
            "you stretched the images to their own minimum and maximum. On darker images that "
            "changes their brightness; dividing by the fixed 255 keeps pixel values comparable "
            "across images.",
        ),
        (
            lambda out: not close() and abs(values().mean()) < 0.05 and 0.5 < values().std() < 2.0,
            "you standardised the pixels (mean 0, standard deviation 1). That is a good "
            "preprocessing too, but this exercise asks for the range [0, 1]: divide by 255.",
        ),
        (
            lambda out: close() and out.dtype != np.float32,
            f"the values are right, but the dtype is {output.dtype}. Keras layers compute in "
            "float32 (float64 doubles the memory, float16 loses precision): "
            "images.astype('float32') / 255.",
        ),
        (lambda out: close(), "the values are close but not exactly pixel / 255."),
    ]


@exercise_check
def check_normalise(normalise) -> bool:
    """Check ``normalise(images) -> float32 array in [0, 1]`` on real uint8 images."""
    a_function(
        normalise,
        fill_in="define normalise(images) and pass the function itself.",
        example="check_normalise(normalise)",
    )
    cases = _normalise_cases()
    results = results_of(
        normalise,
        [(images,) for images in cases],
        fill_in="your normalise still returns None; make it return the scaled images.",
        on_error=_normalise_error,
    )
    outputs = [_as_array(result) for result in results]
    wrong = [(images, out) for images, out in zip(cases, outputs) if not _is_normalised(images, out)]
    if not wrong:
        return correct(
            "the uint8 pixels 0..255 became float32 values 0.0..1.0 with the shape unchanged. Small, "
            "similar input ranges keep the first layer's activations and gradients in a sensible "
            "range; data.prepare_images does the same and adds the channel axis."
        )
    images, output = wrong[0]
    message = first_match(output, _normalise_mistakes(images, output))
    if message is None:
        values = output.astype("float64")
        message = (
            f"expected values from 0.0 (black) to 1.0 (white), i.e. pixel / 255; yours range from "
            f"{values.min():.3g} to {values.max():.3g}."
        )
    return hint(message)


# ---------------------------------------------------------------------------
# Exercise 3: the brightest class
# ---------------------------------------------------------------------------


def _class_brightness():
    (x_train, y_train), _ = _data()
    return np.array([x_train[y_train == c].mean() for c in range(len(FASHION_MNIST_CLASSES))])


def _brightest_single_image_class():
    (x_train, y_train), _ = _data()
    return int(y_train[x_train.reshape(len(x_train), -1).mean(axis=1).argmax()])


def _class_id(answer) -> int:
    """The id a class name (any case) or id names; raises FillIn or Hint for anything else."""
    names = FASHION_MNIST_CLASSES
    if isinstance(answer, str):
        matches = [i for i, name in enumerate(names) if name.lower() == answer.strip().lower()]
        if not matches:
            raise Hint(
                f"{answer!r} is not a class name. Spell it as in FASHION_MNIST_CLASSES: {', '.join(names)}."
            )
        return matches[0]
    if isinstance(answer, (np.ndarray, list, tuple)) and np.ndim(answer) >= 1:
        raise Hint(
            f"answer with one class name (a string) or one id (0..9), got {describe(answer)}. Did you "
            "pass the array of means? Take its argmax."
        )
    given = whole_number(
        answer,
        fill_in="replace None by a class name from FASHION_MNIST_CLASSES (or its id).",
        expected="one class name (a string) or one id (0..9)",
    )
    if not 0 <= given < len(names):
        raise Hint(f"class ids go from 0 to {len(names) - 1}, got {given}.")
    return given


@exercise_check
def check_brightest_class(answer) -> bool:
    """Check the name (or id) of the class with the highest mean pixel value."""
    given = _class_id(answer)
    names = FASHION_MNIST_CLASSES
    brightness = _class_brightness()
    best, darkest = int(brightness.argmax()), int(brightness.argmin())
    if given == best:
        return correct(
            f"{names[best]} (id {best}) has the highest mean pixel value, {brightness[best]:.1f} of "
            f"255. A bright class is one whose garments cover much of the canvas, while "
            f"{names[darkest]} images are mostly black background."
        )
    mistakes = [
        (
            darkest,
            f"{names[given]} is the *darkest* class, the lowest mean. Did you take argmin instead "
            "of argmax?",
        ),
        (
            lambda _: not isinstance(answer, str) and given == best + 1,
            f"id {given} is one above the right class. Ids start at 0: the id is the position in "
            "FASHION_MNIST_CLASSES, not a count from 1.",
        ),
        (
            _brightest_single_image_class(),
            f"{names[given]} holds the single brightest image, but the question is about the "
            "average over each class: compute x_train[y_train == c].mean() for each class c.",
        ),
    ]
    return hint(
        first_match(given, mistakes)
        or f"{names[given]} has a mean pixel value of {brightness[given]:.1f}; one class is brighter. "
        "Compute x_train[y_train == c].mean() for every class c and take the argmax."
    )
