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

from cv_textbook.exercises._feedback import (
    Missing,
    StudentError,
    as_whole_number,
    call,
    correct,
    describe_error,
    fill_in,
    hint,
    is_placeholder,
)

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
    from cv_textbook.data import load_fashion_mnist

    return load_fashion_mnist()


def _class_names():
    from cv_textbook.data import FASHION_MNIST_CLASSES

    return FASHION_MNIST_CLASSES


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


def check_count_class(count_class) -> bool:
    """Check ``count_class(labels, class_name) -> int`` on real label arrays."""
    if count_class is None or not callable(count_class):
        if is_placeholder(count_class):
            return fill_in("define count_class(labels, class_name) and pass the function itself.")
        return hint(
            f"pass the function itself, e.g. check_count_class(count_class), not "
            f"{type(count_class).__name__} {count_class!r}."
        )
    names = _class_names()
    cases = _count_cases()
    results = []
    for labels, name in cases:
        try:
            results.append(call(count_class, labels.copy(), name))
        except Missing:
            return fill_in("your count_class still returns None; make it return the count.")
        except StudentError as failure:
            return hint(
                f"count_class(labels, {name!r}) raised {describe_error(failure.error)}. "
                "Look the class id up with FASHION_MNIST_CLASSES.index(class_name), then "
                "count the labels equal to it."
            )
    expected = [_count(labels, names.index(name)) for labels, name in cases]

    first = results[0]
    if isinstance(first, np.ndarray) and first.ndim >= 1:
        return hint(
            f"your function returns an array of shape {first.shape}, probably the True/False "
            "mask `labels == class_id`. Count its True values: (labels == class_id).sum()."
        )
    counts = [as_whole_number(r) for r in results]
    if any(c is None for c in counts):
        totals = [len(labels) for labels, _ in cases]
        if all(
            isinstance(r, float) and np.isclose(r, e / t) for r, e, t in zip(results, expected, totals)
        ):
            return hint(
                "you returned the *fraction* of labels in the class (count / total). "
                "The question asks for the number of images: drop the division."
            )
        return hint(
            f"count_class should return a whole number, got {type(first).__name__} {first!r}."
        )
    if counts == expected:
        return correct(
            f"{cases[0][1]!r} has id {names.index(cases[0][1])}; your counts match on the full "
            f"training set ({expected[0]:,}) and on {len(cases) - 1} slices. Counting with a mask "
            "(labels == class_id).sum() is the NumPy way: no Python loop over 60,000 labels."
        )
    if all(c == 0 for c in counts):
        return hint(
            "every count is 0. The labels are integer ids (0..9), not names: compare them with "
            "the id FASHION_MNIST_CLASSES.index(class_name), not with the string itself."
        )
    if counts == [len(labels) for labels, _ in cases]:
        return hint(
            "you counted every label, whatever the class. Keep only the labels equal to the "
            "class id: (labels == class_id).sum()."
        )
    for shift in (+1, -1):
        shifted = [
            _count(labels, names.index(name) + shift) for labels, name in cases
        ]
        if counts == shifted:
            return hint(
                f"your counts are those of the class with id {'one higher' if shift > 0 else 'one lower'}. "
                "Class ids start at 0 and follow FASHION_MNIST_CLASSES in order: "
                "FASHION_MNIST_CLASSES.index(class_name) is already the right id (no +1 or -1)."
            )
    if len(set(counts)) == 1 and len(set(expected)) > 1:
        return hint(
            f"your function returns {counts[0]} whatever labels it gets. Does it count a global "
            "variable (y_train) instead of its `labels` argument?"
        )
    wrong = next(i for i, (c, e) in enumerate(zip(counts, expected)) if c != e)
    labels, name = cases[wrong]
    return hint(
        f"for {len(labels):,} labels and class {name!r} your function returned {counts[wrong]}, "
        "which is not the number of labels equal to that class's id. Find the id with "
        "FASHION_MNIST_CLASSES.index(class_name) and count with (labels == class_id).sum()."
    )


# ---------------------------------------------------------------------------
# Exercise 2: normalise pixels to [0, 1]
# ---------------------------------------------------------------------------


def _normalise_cases():
    """Real training images, and the same images darkened so none reaches white."""
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


def check_normalise(normalise) -> bool:
    """Check ``normalise(images) -> float32 array in [0, 1]`` on real uint8 images."""
    if normalise is None or not callable(normalise):
        if is_placeholder(normalise):
            return fill_in("define normalise(images) and pass the function itself.")
        return hint(
            f"pass the function itself, e.g. check_normalise(normalise), not "
            f"{type(normalise).__name__}."
        )
    cases = _normalise_cases()
    outputs = []
    for images in cases:
        try:
            result = call(normalise, images.copy())
        except Missing:
            return fill_in("your normalise still returns None; make it return the scaled images.")
        except StudentError as failure:
            message = str(failure.error)
            if "cast" in message.lower() and "ufunc" in message.lower():
                return hint(
                    "NumPy refused to divide in place: `images /= 255` tries to store floats "
                    "in the uint8 array. Build a new float array instead: "
                    "images.astype('float32') / 255."
                )
            return hint(f"normalise raised {describe_error(failure.error)}.")
        try:
            import keras  # tensors from keras.ops are accepted too

            result = np.asarray(keras.ops.convert_to_numpy(result))
        except Exception:
            result = np.asarray(result)
        outputs.append(result)

    for images, result in zip(cases, outputs):
        target = _reference_normalise(images)
        if result.shape != images.shape:
            if result.shape == images.shape + (1,):
                return hint(
                    f"the values may be right, but you added a channel axis: {images.shape} "
                    f"became {result.shape}. This function should only rescale; the channel "
                    "axis is added later (data.prepare_images does both)."
                )
            return hint(
                f"the output must keep the input's shape {images.shape}, got {result.shape}."
            )
        if np.issubdtype(result.dtype, np.integer) or result.dtype == bool:
            return hint(
                f"the result has integer dtype {result.dtype}, so it can only hold 0 and 1: "
                "integer division `//` (or converting back to uint8) throws the fraction away. "
                "Convert to float first: images.astype('float32') / 255."
            )
        values = result.astype("float64")
        if _same(values, images.astype("float64")):
            return hint(
                "you converted the type but forgot to scale: the values still go up to 255. "
                "Divide by 255 so that white becomes 1.0."
            )
        if _same(values, (images // 255).astype("float64")):
            return hint(
                "every pixel became 0 except pure white (1): that is integer division `//`, "
                "which throws away the fraction. Use true division on floats: "
                "images.astype('float32') / 255."
            )
        if _same(values, images / 256.0):
            return hint(
                "you divided by 256, so white (255) becomes 0.996 instead of 1.0. The largest "
                "uint8 value is 255: divide by 255."
            )
        if not _same(values, target, atol=1e-3):
            if _same(values, _per_image_min_max(images), atol=1e-3) or _same(
                values, _batch_min_max(images), atol=1e-3
            ):
                return hint(
                    "you stretched the images to their own minimum and maximum. On darker "
                    "images that changes their brightness; dividing by the fixed 255 keeps "
                    "pixel values comparable across images."
                )
            if abs(values.mean()) < 0.05 and 0.5 < values.std() < 2.0:
                return hint(
                    "you standardised the pixels (mean 0, standard deviation 1). That is a good "
                    "preprocessing too, but this exercise asks for the range [0, 1]: divide by 255."
                )
            return hint(
                f"expected values from 0.0 (black) to 1.0 (white), i.e. pixel / 255; yours range "
                f"from {values.min():.3g} to {values.max():.3g}."
            )
        if result.dtype != np.float32:
            return hint(
                f"the values are right, but the dtype is {result.dtype}. Keras layers compute in "
                "float32 (float64 doubles the memory, float16 loses precision): "
                "images.astype('float32') / 255."
            )
        if not _same(values, target):
            return hint("the values are close but not exactly pixel / 255.")
    return correct(
        "the uint8 pixels 0..255 became float32 values 0.0..1.0 with the shape unchanged. Small, "
        "similar input ranges keep the first layer's activations and gradients in a sensible "
        "range; data.prepare_images does the same and adds the channel axis."
    )


# ---------------------------------------------------------------------------
# Exercise 3: the brightest class
# ---------------------------------------------------------------------------


def _class_brightness():
    (x_train, y_train), _ = _data()
    return np.array([x_train[y_train == c].mean() for c in range(len(_class_names()))])


def _brightest_single_image_class():
    (x_train, y_train), _ = _data()
    return int(y_train[x_train.reshape(len(x_train), -1).mean(axis=1).argmax()])


def check_brightest_class(answer) -> bool:
    """Check the name (or id) of the class with the highest mean pixel value."""
    if is_placeholder(answer):
        return fill_in("replace None by a class name from FASHION_MNIST_CLASSES (or its id).")
    names = _class_names()
    if isinstance(answer, str):
        matches = [i for i, n in enumerate(names) if n.lower() == answer.strip().lower()]
        if not matches:
            return hint(
                f"{answer!r} is not a class name. Spell it as in FASHION_MNIST_CLASSES: "
                f"{', '.join(names)}."
            )
        given = matches[0]
    else:
        given = as_whole_number(answer)
        if given is None:
            return hint(
                f"answer with one class name (a string) or one id (0..9), got "
                f"{type(answer).__name__}. Did you pass the array of means? Take its argmax."
            )
        if not 0 <= given < len(names):
            return hint(f"class ids go from 0 to {len(names) - 1}, got {given}.")

    brightness = _class_brightness()
    best = int(brightness.argmax())
    if given == best:
        return correct(
            f"{names[best]} (id {best}) has the highest mean pixel value, "
            f"{brightness[best]:.1f} of 255. A bright class is one whose garments cover "
            f"much of the canvas, while {names[int(brightness.argmin())]} images are mostly black background."
        )
    if given == int(brightness.argmin()):
        return hint(
            f"{names[given]} is the *darkest* class, the lowest mean. Did you take argmin "
            "instead of argmax?"
        )
    if not isinstance(answer, str) and given == best + 1:
        return hint(
            f"id {given} is one above the right class. Ids start at 0: the id is the position "
            "in FASHION_MNIST_CLASSES, not a count from 1."
        )
    if given == _brightest_single_image_class():
        return hint(
            f"{names[given]} holds the single brightest image, but the question is about the "
            "average over each class: compute x_train[y_train == c].mean() for each class c."
        )
    return hint(
        f"{names[given]} has a mean pixel value of {brightness[given]:.1f}; one class is "
        "brighter. Compute x_train[y_train == c].mean() for every class c and take the argmax."
    )
