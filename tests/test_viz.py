"""Tests for cv_textbook.viz: every plot on tiny data, rendered off-screen."""

import matplotlib

matplotlib.use("Agg")  # off-screen rendering; must precede any pyplot import

import io  # noqa: E402
import os  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cv_textbook import metrics, viz  # noqa: E402
from cv_textbook.viz import classification, common, detection, segmentation  # noqa: E402

layers = keras.layers
CLASSES = ["cat", "dog", "bird"]


def _texts(figure):
    """Every piece of text drawn on the figure's axes, titles included."""
    found = []
    for ax in figure.axes:
        found += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        found += [text.get_text() for text in ax.texts]
    return found


def _renders(figure):
    """True once the figure has been drawn to PNG without errors."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def tiny_cnn():
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(6, 3, padding="same", name="conv")(inputs)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(3, name="head")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


# --- learning curves --------------------------------------------------------


HISTORY = {
    "loss": [1.0, 0.6, 0.4],
    "val_loss": [1.1, 0.8, 0.7],
    "accuracy": [0.5, 0.7, 0.8],
    "val_accuracy": [0.4, 0.6, 0.65],
}


def test_learning_curves_one_panel_per_metric_with_train_and_validation():
    figure = viz.plot_learning_curves(HISTORY, title="run 1")
    assert _renders(figure)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 2
    loss_ax = figure.axes[0]
    assert [line.get_label() for line in loss_ax.lines] == ["train", "validation"]
    assert list(loss_ax.lines[0].get_xdata()) == [1, 2, 3]  # epochs start at 1
    assert list(loss_ax.lines[1].get_ydata()) == HISTORY["val_loss"]
    assert (loss_ax.get_xlabel(), loss_ax.get_ylabel()) == ("epoch", "loss")
    assert figure.get_suptitle() == "run 1"


def test_learning_curves_draw_a_target_on_its_metrics_panel_only():
    figure = viz.plot_learning_curves(HISTORY, targets={"accuracy": 0.91})
    loss_ax, accuracy_ax = figure.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train", "validation"]
    assert [line.get_label() for line in accuracy_ax.lines] == ["train", "validation", "target 0.91"]
    assert list(accuracy_ax.lines[2].get_ydata()) == [0.91, 0.91]


def test_learning_curves_accept_keras_history_without_validation():
    history = keras.callbacks.History()
    history.history = {"loss": [0.9, 0.5]}
    figure = viz.plot_learning_curves(history, metrics="loss")
    assert len(figure.axes) == 1
    assert [line.get_label() for line in figure.axes[0].lines] == ["train"]


def test_learning_curves_skip_missing_metric_with_warning():
    with pytest.warns(UserWarning, match="top5"):
        figure = viz.plot_learning_curves(HISTORY, metrics=("loss", "top5"))
    assert len(figure.axes) == 1


def test_learning_curves_name_available_metrics_when_none_match():
    with pytest.raises(ValueError, match="`metrics` .* has .*'accuracy', 'loss'"):
        viz.plot_learning_curves(HISTORY, metrics=("auc",))


# --- bar charts -------------------------------------------------------------


def test_plot_bar_labels_each_bar_in_engineering_units():
    values = {"LeNet": 61706, "VGG16": 138_357_544, "ResNet50": 25_636_712}
    figure = viz.plot_bar(values, "parameters", "count")
    assert _renders(figure)
    ax = figure.axes[0]
    assert [patch.get_height() for patch in ax.patches] == list(values.values())
    assert [tick.get_text() for tick in ax.get_xticklabels()] == list(values)
    assert "138.4 M" in _texts(figure)
    assert (ax.get_title(), ax.get_ylabel()) == ("parameters", "count")


def test_plot_bar_log_scale_draws_into_given_axes():
    host = Figure()
    ax = host.add_subplot()
    figure = viz.plot_bar({"a": 10, "b": 1e6}, "MACs", "MACs", log=True, ax=ax)
    assert figure is host
    assert ax.get_yscale() == "log"


def test_class_balance_bar_heights_are_counts():
    figure = viz.plot_class_balance(np.array([0, 1, 1, 2, 2, 2]), CLASSES)
    assert _renders(figure)
    ax = figure.axes[0]
    assert [patch.get_height() for patch in ax.patches] == [1, 2, 3]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == CLASSES


def test_class_balance_rejects_labels_beyond_class_names():
    with pytest.raises(ValueError, match="`labels` range from 0 to 5"):
        viz.plot_class_balance([0, 5], CLASSES)


# --- image grid -------------------------------------------------------------


def test_image_grid_one_axes_per_image_titled_by_class_name():
    images = np.random.default_rng(0).integers(0, 256, (5, 6, 6), dtype=np.uint8)
    figure = viz.plot_image_grid(images, labels=[0, 1, 2, 0, 1], class_names=CLASSES, n_cols=2)
    assert _renders(figure)
    assert len(figure.axes) == 5
    assert [ax.get_title() for ax in figure.axes] == ["cat", "dog", "bird", "cat", "dog"]
    assert figure.axes[4].get_subplotspec().get_geometry()[:2] == (3, 2)


def test_image_grid_colours_predictions_green_when_right_red_when_wrong():
    images = np.random.default_rng(0).random((3, 4, 4, 3), dtype=np.float32)
    probabilities = np.eye(3)[[0, 2, 2]]  # scores are reduced with argmax
    figure = viz.plot_image_grid(
        images, labels=[0, 1, 2], class_names=CLASSES, predictions=probabilities
    )
    titles = [ax.title for ax in figure.axes]
    assert [t.get_text() for t in titles] == ["cat (cat)", "bird (dog)", "bird (bird)"]
    assert [t.get_color() for t in titles] == ["green", "red", "green"]


def test_image_grid_shows_single_channel_and_0_255_floats():
    images = np.full((2, 4, 4, 1), 200.0, dtype=np.float32)
    colour = np.full((2, 4, 4, 3), 200.0, dtype=np.float32)
    grey_figure = viz.plot_image_grid(images)
    colour_figure = viz.plot_image_grid(colour)
    assert grey_figure.axes[0].images[0].get_array().shape == (4, 4)
    # Colour floats in [0, 255] are rescaled instead of being clipped to white.
    assert np.allclose(colour_figure.axes[0].images[0].get_array(), 200 / 255)


def test_image_grid_rejects_empty_input():
    with pytest.raises(ValueError, match="`images` gives nothing to plot"):
        viz.plot_image_grid(np.zeros((0, 4, 4)))


def test_image_grid_predictions_need_labels():
    with pytest.raises(ValueError, match="`predictions` need `labels`"):
        viz.plot_image_grid(np.zeros((1, 4, 4)), predictions=[0])


# --- confusion matrix -------------------------------------------------------


def test_viz_confusion_matrix_is_the_one_in_metrics():
    # The notebooks call viz.confusion_matrix; tests/test_metrics.py checks its counts.
    assert viz.confusion_matrix is metrics.confusion_matrix


def test_plot_confusion_matrix_rejects_out_of_range_class():
    with pytest.raises(ValueError, match=r"y_pred holds class 3, outside 0\.\.2"):
        viz.plot_confusion_matrix([0, 1], [0, 3], CLASSES)


def test_plot_confusion_matrix_takes_one_hot_labels_and_scores():
    one_hot = np.eye(3)[[0, 0, 1]]
    scores = np.array([[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])  # argmax 0, 0, 2
    figure = viz.plot_confusion_matrix(one_hot, scores, CLASSES, normalize=False)
    cells = [text.get_text() for text in figure.axes[0].texts]
    assert cells == ["2", "0", "0", "0", "0", "1", "0", "0", "0"]


def test_plot_confusion_matrix_row_normalised_annotations():
    figure = viz.plot_confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], CLASSES)
    assert _renders(figure)
    ax = figure.axes[0]
    cells = [text.get_text() for text in ax.texts]
    assert len(cells) == 9
    assert cells[:3] == ["0.50", "0.50", "0.00"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert [tick.get_text() for tick in ax.get_yticklabels()] == CLASSES


def test_plot_confusion_matrix_raw_counts():
    figure = viz.plot_confusion_matrix([0, 0, 1], [0, 0, 2], CLASSES, normalize=False)
    cells = [text.get_text() for text in figure.axes[0].texts]
    assert cells == ["2", "0", "0", "0", "0", "1", "0", "0", "0"]


# --- inside the network -----------------------------------------------------


def test_feature_maps_shows_each_channel_of_the_layer(tiny_cnn):
    image = np.random.default_rng(0).random((8, 8), dtype=np.float32)  # no channel axis
    figure = viz.plot_feature_maps(tiny_cnn, "conv", image, n_cols=4, max_maps=5)
    assert _renders(figure)
    assert len(figure.axes) == 5
    assert figure.axes[0].images[0].get_array().shape == (8, 8)
    assert figure.get_suptitle() == "conv: 5 of 6 maps"


def test_feature_maps_work_for_sequential_models_and_rgb_images():
    model = keras.Sequential(
        [keras.Input((6, 6, 3)), layers.Conv2D(3, 3, name="c"), layers.MaxPooling2D(name="pool")]
    )
    figure = viz.plot_feature_maps(model, "pool", np.zeros((6, 6, 3), dtype=np.uint8))
    assert len(figure.axes) == 3
    assert figure.axes[0].images[0].get_array().shape == (2, 2)


def test_feature_maps_reject_non_spatial_layer(tiny_cnn):
    with pytest.raises(ValueError, match="`layer_name` 'head' outputs shape"):
        viz.plot_feature_maps(tiny_cnn, "head", np.zeros((8, 8, 1)))


def test_plot_filters_one_panel_per_rgb_kernel():
    conv = layers.Conv2D(5, 3)
    conv.build((None, 8, 8, 3))
    figure = viz.plot_filters(conv, n_cols=3)
    assert _renders(figure)
    assert len(figure.axes) == 5
    pixels = figure.axes[0].images[0].get_array()
    assert pixels.shape == (3, 3, 3)
    assert pixels.min() == pytest.approx(0) and pixels.max() == pytest.approx(1)


def test_plot_filters_accepts_grey_kernel_array():
    figure = viz.plot_filters(np.random.default_rng(0).normal(size=(5, 5, 1, 4)))
    assert len(figure.axes) == 4


def test_plot_filters_rejects_deep_kernels():
    with pytest.raises(ValueError, match="`layer_or_kernel` .* cin 1 or 3"):
        viz.plot_filters(np.zeros((3, 3, 16, 4)))


def test_new_figures_are_not_left_open_in_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    viz.plot_bar({"a": 1}, "t", "y")
    viz.plot_image_grid(np.zeros((2, 4, 4)))
    assert plt.get_fignums() == before


# --- model diagram ----------------------------------------------------------


def test_plot_model_writes_png_with_graphviz(tiny_cnn, tmp_path):
    target = tmp_path / "tiny.png"
    result = viz.plot_model(tiny_cnn, to_file=target)
    assert result == str(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_model_returns_ipython_image_inside_jupyter(tiny_cnn, tmp_path, monkeypatch):
    from IPython.display import Image

    monkeypatch.setattr(common, "_in_ipython", lambda: True)
    result = viz.plot_model(tiny_cnn, to_file=tmp_path / "tiny.png")
    assert isinstance(result, Image)
    assert result.filename == str(tmp_path / "tiny.png")


def test_plot_model_falls_back_to_summary_without_graphviz(
    tiny_cnn, tmp_path, monkeypatch, capsys
):
    def missing_graphviz(*args, **kwargs):
        raise ImportError("You must install pydot")

    monkeypatch.setattr(keras.utils, "plot_model", missing_graphviz)
    result = viz.plot_model(tiny_cnn, to_file=tmp_path / "tiny.png")
    printed = capsys.readouterr().out
    assert result is None
    assert "Graphviz is not installed" in printed
    assert "sudo apt-get install graphviz" in printed
    assert "tiny_cnn" in printed and "Total params" in printed  # the summary


def test_plot_model_falls_back_when_dot_program_is_missing(tiny_cnn, monkeypatch, capsys):
    monkeypatch.setattr(common.shutil, "which", lambda name: None)
    assert viz.plot_model(tiny_cnn) is None
    assert "Graphviz is not installed" in capsys.readouterr().out


def test_plot_model_without_to_file_writes_a_temporary_png(tiny_cnn):
    path = viz.plot_model(tiny_cnn, show_layer_names=True)
    try:
        with open(path, "rb") as image:
            assert image.read(8) == b"\x89PNG\r\n\x1a\n"
        assert "tiny_cnn" in path
    finally:
        os.remove(path)


# --- segmentation -----------------------------------------------------------


def _masks():
    true = np.zeros((3, 6, 6), dtype=np.uint8)
    true[:, 2:4, 2:4] = 1
    true[:, 0, :] = 2
    predicted = true.copy()
    predicted[1, 2, 2] = 0  # one wrong pixel in the second image
    return true, predicted


def test_segmentation_overlays_one_row_of_three_panels_per_image():
    true, predicted = _masks()
    images = np.random.default_rng(0).integers(0, 256, (3, 6, 6, 1), dtype=np.uint8)
    figure = viz.plot_segmentation_overlays(images, true, predicted, CLASSES, n=2)
    assert _renders(figure)
    assert len(figure.axes) == 6
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[:2] == ["image", "true mask"]
    assert titles[2] == "predicted: acc 1.00, mIoU 1.00"
    assert titles[5].startswith("predicted: acc 0.97")  # 35 of 36 pixels right
    legend = figure.legends[0]
    assert [text.get_text() for text in legend.get_texts()] == CLASSES


def test_segmentation_overlays_colour_each_class_and_accept_scores():
    true, predicted = _masks()
    scores = np.eye(3)[predicted]  # (N, H, W, classes), reduced with argmax
    images = np.full((3, 6, 6, 3), 255, dtype=np.uint8)  # white colour images
    figure = viz.plot_segmentation_overlays(images, true[..., None], scores, CLASSES, n=5)
    assert len(figure.axes) == 9  # n larger than the data: all 3 images
    image = figure.axes[1].images[0].get_array()
    assert image.shape == (6, 6, 3)
    # Pixels of different classes get different colours; the same class the same colour.
    assert not np.allclose(image[2, 2], image[5, 5])
    assert np.allclose(image[2, 2], image[3, 3])
    assert np.allclose(figure.axes[0].images[0].get_array(), 1.0)


def test_segmentation_overlays_reject_mismatched_inputs():
    true, predicted = _masks()
    images = np.zeros((3, 6, 6))
    with pytest.raises(ValueError, match="as many items"):
        viz.plot_segmentation_overlays(images[:2], true, predicted, CLASSES)
    with pytest.raises(ValueError, match="images' height and width"):
        viz.plot_segmentation_overlays(np.zeros((3, 8, 8)), true, predicted, CLASSES)
    with pytest.raises(ValueError, match="class 2 outside 0..1"):
        viz.plot_segmentation_overlays(images, true, predicted, CLASSES[:2])
    with pytest.raises(ValueError, match="4 scores per pixel"):
        viz.plot_segmentation_overlays(images, true, np.zeros((3, 6, 6, 4)), CLASSES)
    with pytest.raises(ValueError, match="`n` must be an integer of at least 1"):
        viz.plot_segmentation_overlays(images, true, predicted, CLASSES, n=0)


def test_iou_per_class_bars_labels_and_mean_line():
    figure = viz.plot_iou_per_class([0.9, 0.5, np.nan], CLASSES)
    assert _renders(figure)
    ax = figure.axes[0]
    assert [patch.get_height() for patch in ax.patches] == [0.9, 0.5, 0.0]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == CLASSES
    texts = _texts(figure)
    assert "0.90" in texts and "0.50" in texts and "n/a" in texts
    mean_line = ax.lines[0]
    assert list(mean_line.get_ydata()) == [0.7, 0.7]  # NaN left out of the mean
    assert ax.get_legend().get_texts()[0].get_text() == "mean IoU 0.700"
    assert ax.get_title() == "IoU per class"


def test_iou_per_class_draws_into_given_axes_and_checks_lengths():
    host = Figure()
    ax = host.add_subplot()
    assert viz.plot_iou_per_class(np.array([0.2, 0.4, 0.6]), CLASSES, title="run", ax=ax) is host
    assert ax.get_title() == "run"
    with pytest.raises(ValueError, match="2 values but there are 3 class_names"):
        viz.plot_iou_per_class([0.1, 0.2], CLASSES)
    with pytest.raises(ValueError, match="between 0 and 1"):
        viz.plot_iou_per_class([0.1, 2.0, 0.3], CLASSES)


# --- detection --------------------------------------------------------------


def _rectangles(ax):
    """(x, y, width, height, linestyle) of every box drawn on the axes."""
    from matplotlib.patches import Rectangle

    return [
        (patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height(), patch.get_linestyle())
        for patch in ax.patches
        if isinstance(patch, Rectangle)
    ]


def _legend_texts(legend):
    return [text.get_text() for text in legend.get_texts()]


def test_plot_boxes_draws_pixel_corner_boxes_with_class_and_score_labels():
    image = np.zeros((20, 30, 3), dtype=np.uint8)  # H 20, W 30
    boxes = [[2, 3, 12, 8], [0, 0, 30, 20]]  # (x1, y1, x2, y2); the second frames the whole image
    figure = viz.plot_boxes(image, boxes, classes=[1, 0], scores=[0.87, 0.5], class_names=CLASSES)
    assert _renders(figure)
    ax = figure.axes[0]
    # Pixel corners on whole coordinates: the image spans x 0..30, y 0..20 (y down).
    assert list(ax.images[0].get_extent()) == [0, 30, 20, 0]
    assert _rectangles(ax) == [(2, 3, 10, 5, "-"), (0, 0, 30, 20, "-")]
    assert [text.get_text() for text in ax.texts] == ["dog 0.87", "cat 0.50"]
    assert ax.get_title() == "2 predicted"
    assert _legend_texts(ax.get_legend()) == CLASSES  # only predictions: no line-style entries


def test_plot_boxes_tells_ground_truth_from_predictions():
    image = np.zeros((20, 20))
    figure = viz.plot_boxes(
        image, [[1, 1, 9, 9]], classes=[2], scores=[0.9], class_names=CLASSES,
        true_boxes=[[2, 2, 10, 10]], true_classes=[2],
    )  # fmt: skip
    ax = figure.axes[0]
    assert sorted(_rectangles(ax), key=lambda r: r[4]) == [(1, 1, 8, 8, "-"), (2, 2, 8, 8, "--")]
    truth, prediction = ax.patches  # ground truth first, so predictions are drawn on top
    assert truth.get_edgecolor() == prediction.get_edgecolor()  # same class, same colour
    assert sorted(text.get_text() for text in ax.texts) == ["bird", "bird 0.90"]
    assert _legend_texts(ax.get_legend())[:2] == ["predicted", "ground truth"]
    assert ax.get_title() == "1 predicted, 1 true"


def test_plot_boxes_skips_padding_and_low_scores():
    boxes = [[0, 0, 4, 4], [1, 1, 5, 5], [2, 2, 6, 6]]
    classes, scores = [0, -1, 1], [0.9, 0.9, 0.2]
    figure = viz.plot_boxes(np.zeros((8, 8)), boxes, classes=classes, scores=scores, min_score=0.5)
    assert _rectangles(figure.axes[0]) == [(0, 0, 4, 4, "-")]  # class -1 is Keras's padding


def test_plot_boxes_converts_other_box_formats_with_keras():
    image = np.zeros((20, 30))
    for boxes, box_format in (
        ([[3, 2, 8, 12]], "yxyx"),
        ([[2, 3, 10, 5]], "xywh"),
        ([[2 / 30, 3 / 20, 12 / 30, 8 / 20]], "rel_xyxy"),
    ):
        (x, y, width, height, _), = _rectangles(viz.plot_boxes(image, boxes, box_format=box_format).axes[0])
        np.testing.assert_allclose([x, y, width, height], [2, 3, 10, 5], atol=1e-5)


def test_plot_boxes_draws_into_given_axes():
    host = common._new_figure((3, 3))
    ax = host.add_subplot()
    assert viz.plot_boxes(np.zeros((8, 8)), [[1, 1, 3, 3]], ax=ax) is host
    assert len(_rectangles(ax)) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"boxes": [1, 2, 3, 4]}, r"`boxes` must have shape \(K, 4\).*\[box\]"),
        ({"boxes": [[5, 1, 2, 3]]}, r"x1 <= x2 and y1 <= y2; for \(y1, x1, y2, x2\) pass box_format='yxyx'"),
        ({"boxes": [[0, 0, 1, 1]], "classes": [0, 1]}, r"`classes` has 2 values for 1 boxes"),
        ({"boxes": [[0, 0, 1, 1]], "classes": [3], "class_names": CLASSES}, r"class 3 but there are 3"),
        ({"boxes": [[0, 0, 1, 1]], "image": np.zeros((2, 8, 8, 3))}, r"for a batch use plot_boxes_grid"),
    ],
)
def test_plot_boxes_rejects_bad_input_with_a_remedy(kwargs, message):
    arguments = {"image": np.zeros((8, 8))} | kwargs
    with pytest.raises(ValueError, match=message):
        viz.plot_boxes(**arguments)


def test_plot_boxes_grid_one_panel_per_image_ragged_or_padded():
    images = np.zeros((3, 16, 16, 3), dtype=np.uint8)
    predicted = [[[1, 1, 8, 8]], np.zeros((0, 4)), [[2, 2, 6, 6], [3, 3, 9, 9]]]  # 1, 0 and 2 boxes
    padded_truth = np.array([[[1, 1, 9, 9], [0, 0, 0, 0]]] * 3)  # one real box each, then padding
    figure = viz.plot_boxes_grid(
        images, predicted, classes=[[0], [], [1, 2]], scores=[[0.9], [], [0.8, 0.7]], class_names=CLASSES,
        true_boxes=padded_truth, true_classes=[[0, -1]] * 3, n_cols=2,
    )  # fmt: skip
    assert _renders(figure)
    assert len(figure.axes) == 3
    assert [ax.get_title() for ax in figure.axes] == [
        "0: 1 predicted, 1 true",
        "1: 0 predicted, 1 true",
        "2: 2 predicted, 1 true",
    ]
    assert [len(_rectangles(ax)) for ax in figure.axes] == [2, 1, 3]
    assert _legend_texts(figure.legends[0]) == ["predicted", "ground truth", *CLASSES]


def test_plot_boxes_grid_needs_one_entry_per_image():
    with pytest.raises(ValueError, match="`boxes` has 1 entries for 2 images"):
        viz.plot_boxes_grid(np.zeros((2, 8, 8)), [[[0, 0, 1, 1]]])
    with pytest.raises(ValueError, match="pass `boxes`"):
        viz.plot_boxes_grid(np.zeros((2, 8, 8)))


def test_precision_recall_draws_each_curve_and_the_envelope_whose_area_is_the_ap():
    # tests/test_detection_metrics.py's hand-worked class: recall 1/3, 1/3, 2/3, 2/3 at precision 1, 1/2,
    # 2/3, 1/2: envelope 1, 2/3, 2/3, 1/2, AP 1/3 * 1 + 1/3 * 2/3 = 5/9 = 0.556. Class 1 has no boxes (None);
    # class 2 has a box and no detection: AP 0. mAP (5/9 + 0) / 2 = 0.278.
    ground_truth = [([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10], [60, 60, 70, 70]], [0, 0, 0, 2])]
    detections = [([[0, 0, 10, 10], [100, 100, 110, 110], [22, 0, 32, 10], [0, 0, 10, 10]], [0, 0, 0, 0],
                   [0.9, 0.8, 0.7, 0.6])]
    curves = metrics.precision_recall_curves(ground_truth, detections, num_classes=3)
    figure = viz.plot_precision_recall(curves, CLASSES)
    assert _renders(figure)
    ax = figure.axes[0]
    assert _legend_texts(ax.get_legend()) == ["cat (AP 0.556)", "bird (AP 0.000)"]
    assert ax.get_title() == "Precision-recall, mAP 0.278"
    raw, envelope = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(raw.get_ydata(), [1, 1 / 2, 2 / 3, 1 / 2])
    np.testing.assert_allclose(envelope.get_xdata(), [0, 1 / 3, 1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(envelope.get_ydata(), [1, 1, 2 / 3, 2 / 3, 1 / 2])
    assert envelope.get_drawstyle() == "steps-pre"


def test_precision_recall_draws_into_given_axes_and_needs_a_curve():
    curves = metrics.precision_recall_curves([([[0, 0, 10, 10]], [0])], [([[0, 0, 10, 10]], [0], [0.9])])
    figure = common._new_figure((4, 3))
    ax = figure.add_subplot()
    assert viz.plot_precision_recall(curves, ax=ax, title="one box") is figure
    assert ax.get_title() == "one box" and _legend_texts(ax.get_legend()) == ["0 (AP 1.000)"]
    with pytest.raises(ValueError, match=r"curves must hold at least one curve"):
        viz.plot_precision_recall([None, None])


# --- the package ------------------------------------------------------------


def test_viz_reexports_every_plot_of_every_task_module():
    for module in (common, classification, segmentation, detection):
        for name in module.__all__:
            assert name in viz.__all__ and getattr(viz, name) is getattr(module, name), name
    assert {"plot_segmentation_overlays", "plot_iou_per_class", "plot_boxes"} <= set(viz.__all__)
