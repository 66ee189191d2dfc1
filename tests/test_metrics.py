"""The confusion matrix and the segmentation metrics against values worked out by hand."""

import keras
import numpy as np
import pytest

from cv_textbook import metrics
from cv_textbook.metrics import SparseMeanIoU, confusion_matrix, iou_per_class, mean_iou, pixel_accuracy

# One 2×3 "image". Rows of the confusion matrix are true classes, columns predictions:
#   true 0: predicted 0, 1      -> [1, 1, 0]
#   true 1: predicted 1, 1      -> [0, 2, 0]
#   true 2: predicted 2, 0      -> [1, 0, 1]
# IoU = TP / (row + column - TP): class 0 1/(2+2-1) = 1/3, class 1 2/(2+3-2) = 2/3,
# class 2 1/(2+1-1) = 1/2; mean (1/3 + 2/3 + 1/2) / 3 = 1/2. Pixel accuracy 4/6.
Y_TRUE = np.array([[[0, 0, 1], [1, 2, 2]]])
Y_PRED = np.array([[[0, 1, 1], [1, 2, 0]]])


def _probabilities(labels, num_classes, seed=0):
    """Random probabilities whose argmax is ``labels``."""
    scores = np.random.default_rng(seed).random((*labels.shape, num_classes)).astype("float32")
    scores[..., :] *= 0.5
    np.put_along_axis(scores, labels[..., None], 1.0, axis=-1)
    return scores / scores.sum(axis=-1, keepdims=True)


def test_confusion_matrix_counts_true_rows_predicted_columns():
    # pairs (true, predicted): (0,0) (0,1) (1,1) (2,2) (2,2) (2,0)
    matrix = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    assert matrix.dtype.kind == "i"
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_one_confusion_matrix_counts_images_and_pixels_alike():
    # The 2×3 image's six pixels (hand counts at the top of the file), as a mask and as six examples.
    by_hand = [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED, 3), by_hand)
    as_examples = confusion_matrix(Y_TRUE.ravel().tolist(), Y_PRED.ravel().tolist(), 3)
    np.testing.assert_array_equal(as_examples, by_hand)
    # scores (N, classes) are reduced with argmax
    np.testing.assert_array_equal(confusion_matrix([0, 1], [[0.9, 0.1], [0.2, 0.8]], 2), [[1, 0], [0, 1]])


def test_confusion_matrix_rejects_out_of_range_class():
    with pytest.raises(ValueError, match=r"y_pred holds class 3, outside 0\.\.2 .*raise num_classes or fix"):
        confusion_matrix([0, 1], [0, 3], 3)


def test_metrics_package_reexports_every_task_module():
    from cv_textbook.metrics import classification, segmentation

    for module in (classification, segmentation):
        for name in module.__all__:
            assert name in metrics.__all__ and getattr(metrics, name) is getattr(module, name)


def test_hand_computed_values():
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED, 3), [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    np.testing.assert_allclose(iou_per_class(Y_TRUE, Y_PRED, 3), [1 / 3, 2 / 3, 1 / 2])
    assert mean_iou(Y_TRUE, Y_PRED, 3) == pytest.approx(0.5)
    assert pixel_accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)


def test_a_class_absent_from_labels_and_predictions_is_nan_and_left_out_of_the_mean():
    iou = iou_per_class(Y_TRUE, Y_PRED, 5)
    assert np.isnan(iou[3]) and np.isnan(iou[4])
    assert mean_iou(Y_TRUE, Y_PRED, 5) == pytest.approx(0.5)


def test_a_class_only_predicted_has_iou_zero():
    # true [0, 0], predicted [0, 1]: class 0 1/2, class 1 0/1 = 0 -> mean 1/4
    np.testing.assert_allclose(iou_per_class([[0, 0]], [[0, 1]], 2), [0.5, 0.0])
    assert mean_iou([[0, 0]], [[0, 1]], 2) == pytest.approx(0.25)


def test_perfect_prediction():
    assert mean_iou(Y_TRUE, Y_TRUE, 3) == 1.0 and pixel_accuracy(Y_TRUE, Y_TRUE) == 1.0


def test_probabilities_are_turned_into_classes_with_argmax():
    probabilities = _probabilities(Y_PRED, 3)
    assert mean_iou(Y_TRUE, probabilities, 3) == pytest.approx(0.5)
    assert pixel_accuracy(Y_TRUE, probabilities) == pytest.approx(4 / 6)
    # labels with a trailing channel axis, as masks often come
    assert mean_iou(Y_TRUE[..., None], probabilities, 3) == pytest.approx(0.5)
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE[..., None], Y_PRED[..., None], 3).sum(), 6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mean_iou(Y_TRUE, _probabilities(Y_PRED, 3), 4), r"3 channels on its last axis but num_classes is 4"),
        (lambda: mean_iou(Y_TRUE, Y_PRED[:, :1], 3), r"y_true has shape \(1, 2, 3\) and y_pred \(1, 1, 3\)"),
        (lambda: mean_iou(Y_TRUE, Y_PRED, 2), r"y_true holds class 2, outside 0\.\.1"),
        (lambda: mean_iou(Y_TRUE, Y_PRED + 0.5, 3), r"y_pred must hold class indices"),
        (lambda: mean_iou(Y_TRUE, Y_PRED, 1), r"num_classes must be an integer of at least 2"),
        (lambda: pixel_accuracy(np.zeros((0, 2)), np.zeros((0, 2))), r"empty"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sparse_mean_iou_is_the_builtin_keras_metric_with_argmax():
    metric = SparseMeanIoU(5)
    assert type(metric) is keras.metrics.MeanIoU
    assert metric.get_config()["sparse_y_pred"] is False and metric.name == "mean_iou"
    metric.update_state(Y_TRUE, _probabilities(Y_PRED, 5))
    assert float(metric.result()) == pytest.approx(0.5)  # classes 3, 4 absent: left out as in mean_iou


def test_sparse_mean_iou_in_compile_agrees_with_numpy_and_survives_saving(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((8, 16, 16, 1), dtype=np.float32)
    y = rng.integers(0, 3, (8, 16, 16))
    inputs = keras.Input((16, 16, 1))
    outputs = keras.layers.Conv2D(3, 3, padding="same", activation="softmax")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=[SparseMeanIoU(3)])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # builds the optimizer, so it saves whole
    result = model.evaluate(x, y, batch_size=3, verbose=0, return_dict=True)
    assert result["mean_iou"] == pytest.approx(mean_iou(y, model.predict(x, verbose=0), 3), abs=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")  # safe_mode: no custom objects needed
    again = loaded.evaluate(x, y, batch_size=3, verbose=0, return_dict=True)
    assert again["mean_iou"] == pytest.approx(result["mean_iou"], abs=1e-5)
