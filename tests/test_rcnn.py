"""The R-CNN family: losses and in-graph targets by hand, Faster R-CNN trains, saves, loads and runs from the CLI."""

import dataclasses
import json
import math

import keras
import numpy as np
import pytest

from cv_textbook import cli, models, tasks
from cv_textbook.data.detection import make_detection_canvases
from cv_textbook.detection import CANVAS_ANCHORS, anchors, label_anchors
from cv_textbook.detection.losses import fast_rcnn_losses, rpn_losses, smooth_l1
from cv_textbook.detection.targets import anchor_targets, detections, roi_targets


def numpy(x):
    return keras.ops.convert_to_numpy(x)


# --------------------------------------------------------------------------- losses by hand


def test_smooth_l1_is_quadratic_below_one_and_linear_above():
    # Girshick 2015, eq. 3: 0.5 x^2 for |x| < 1, |x| - 0.5 otherwise.
    np.testing.assert_allclose(numpy(smooth_l1(np.array([-2.0, -0.5, 0.0, 0.5, 2.0], "float32"))),
                               [1.5, 0.125, 0.0, 0.125, 1.5])
    np.testing.assert_allclose(numpy(smooth_l1(np.array([0.05, 1.0], "float32"), beta=0.1)), [0.0125, 0.95])


def test_rpn_losses_by_hand():
    # Three anchors: a positive with logit 0 (-log sigmoid(0) = ln 2), a negative with logit ln 3
    # (-log(1 - 3/4) = ln 4), one not sampled (left out whatever it predicts): objectness (ln 2 + ln 4) / 2.
    # Box: only the positive, deltas (0.5, -2, 0, 0) against 0: 0.125 + 1.5 = 1.625, over 2 samples.
    logits = np.array([[0.0, math.log(3), 7.0]], "float32")
    deltas = np.array([[[0.5, -2, 0, 0], [9, 9, 9, 9], [9, 9, 9, 9]]], "float32")
    objectness, box = rpn_losses(logits, deltas, np.array([[1, 0, -1]]), np.zeros((1, 3, 4), "float32"))
    assert float(objectness) == pytest.approx((math.log(2) + math.log(4)) / 2, rel=1e-6)
    assert float(box) == pytest.approx(1.625 / 2, rel=1e-6)


def test_fast_rcnn_losses_use_the_labelled_class_deltas_only():
    # K = 2 classes. RoI 0: class 2 (label 2), uniform logits: -log(1/3) = ln 3. RoI 1: background,
    # logits (ln 2, 0, 0): p = 2/4, -log = ln 2. RoI 2: not a sample. Classification (ln 3 + ln 2) / 2.
    # Box: RoI 0's class-2 deltas (1, 0, 0, 3) against (0, 0, 0, 1): differences 1 and 2 -> 0.5 + 1.5 = 2,
    # over 2 samples; its class-1 deltas (99s) and the background RoI's do not count.
    logits = np.array([[[0, 0, 0], [math.log(2), 0, 0], [5, 5, 5]]], "float32")
    deltas = np.array([[[99, 99, 99, 99, 1, 0, 0, 3], [9] * 8, [9] * 8]], "float32")
    targets = np.array([[[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]], "float32")
    classification, box = fast_rcnn_losses(logits, deltas, np.array([[2, 0, -1]]), targets)
    assert float(classification) == pytest.approx((math.log(3) + math.log(2)) / 2, rel=1e-6)
    assert float(box) == pytest.approx(1.0, rel=1e-6)


# --------------------------------------------------------------------------- targets in the graph


def test_anchor_labels_in_the_graph_equal_label_anchors():
    # Without sampling (more samples allowed than anchors) the in-graph labels are the NumPy labelling's.
    canvases = make_detection_canvases("train", 4, progress=False)
    every_anchor = anchors((16, 16), CANVAS_ANCHORS["stride"], CANVAS_ANCHORS["sizes"], CANVAS_ANCHORS["ratios"])
    uniform = np.random.default_rng(0).random((4, len(every_anchor)), dtype=np.float32)
    labels, deltas = anchor_targets(every_anchor, canvases.boxes, canvases.valid, uniform,
                                    num_samples=2 * len(every_anchor), positive_fraction=0.5)
    for image in range(4):
        expected, matches = label_anchors(every_anchor, canvases.boxes[image], canvases.valid[image])
        np.testing.assert_array_equal(numpy(labels)[image], expected)
        # Ren et al. eq. 2 for the positives, written out: tx = (x - xa) / wa, tw = log(w / wa).
        positive = expected == 1
        anchor, box = every_anchor[positive], canvases.boxes[image][matches[positive]]
        size_a, size = anchor[:, 2:] - anchor[:, :2], box[:, 2:] - box[:, :2]
        centre_a, centre = anchor[:, :2] + size_a / 2, box[:, :2] + size / 2
        by_hand = np.concatenate([(centre - centre_a) / size_a, np.log(size / size_a)], axis=1)
        np.testing.assert_allclose(numpy(deltas)[image][positive], by_hand, atol=1e-5)
        assert not numpy(deltas)[image][~positive].any()


def test_anchor_sampling_keeps_at_most_half_positives_and_fills_with_negatives():
    canvases = make_detection_canvases("train", 4, progress=False)
    every_anchor = anchors((16, 16), CANVAS_ANCHORS["stride"], CANVAS_ANCHORS["sizes"], CANVAS_ANCHORS["ratios"])
    uniform = np.random.default_rng(1).random((4, len(every_anchor)), dtype=np.float32)
    labels = numpy(anchor_targets(every_anchor, canvases.boxes, canvases.valid, uniform, num_samples=8)[0])
    for image in range(4):
        full, _ = label_anchors(every_anchor, canvases.boxes[image], canvases.valid[image])
        positives = labels[image] == 1
        assert positives.sum() == min(4, (full == 1).sum())  # 8 samples, at most half positive
        assert (labels[image] >= 0).sum() == 8  # negatives fill the rest
        assert (full[positives] == 1).all() and (full[labels[image] == 0] == 0).all()


def test_roi_sampling_by_hand():
    # Box (0, 0, 10, 10) of class 3; proposals with IoU 1, 0.5, 0.25 and 0 (worked out in test_sampling),
    # and a padding slot. 4 samples, at most half foreground: of the three candidates with IoU >= 0.5 (two
    # proposals and the box itself) two, labelled 3 + 1 = 4; then the two background proposals, label 0.
    proposals = np.array([[[0, 0, 10, 10], [0, 0, 10, 20], [0, 0, 10, 40], [50, 50, 60, 60], [0, 0, 0, 0]]],
                         "float32")
    proposal_valid = np.array([[True, True, True, True, False]])
    gt_boxes, gt_classes, valid = np.array([[[0, 0, 10, 10]]], "float32"), np.array([[3]]), np.array([[True]])
    uniform = np.random.default_rng(0).random((1, 6), dtype=np.float32)
    rois, labels, deltas = roi_targets(proposals, proposal_valid, gt_boxes, gt_classes, valid, uniform,
                                       num_samples=4, foreground_fraction=0.5)
    assert numpy(labels).tolist() == [[4, 4, 0, 0]]
    assert sorted(map(tuple, numpy(rois)[0, 2:].tolist())) == [(0, 0, 10, 40), (50, 50, 60, 60)]
    assert {tuple(roi) for roi in numpy(rois)[0, :2].tolist()} <= {(0, 0, 10, 10), (0, 0, 10, 20)}
    # (0, 0, 10, 20) onto (0, 0, 10, 10): ty = (5 - 10) / 20 = -0.25, th = log(1/2), divided by (0.1, 0.2).
    for roi, delta in zip(numpy(rois)[0, :2], numpy(deltas)[0, :2]):
        expected = [0, 0, 0, 0] if roi[3] == 10 else [0, -2.5, 0, math.log(0.5) / 0.2]
        np.testing.assert_allclose(delta, expected, atol=1e-5)
    assert not numpy(deltas)[0, 2:].any()


def test_detections_decode_each_class_and_keep_both_classes_of_one_roi():
    # One RoI (10, 10, 30, 30), probabilities background 0.1, class 0 0.2, class 1 0.7. Class 1's deltas
    # (1, 0, 0, 0) with variance 0.1 move it 0.1 * 20 = 2 px right; per-class NMS keeps both classes.
    rois = np.array([[[10, 10, 30, 30]]], "float32")
    probabilities = np.array([[[0.1, 0.2, 0.7]]], "float32")
    deltas = np.array([[[0, 0, 0, 0, 1, 0, 0, 0]]], "float32")
    boxes, scores, classes, counts = detections(rois, np.array([[True]]), probabilities, deltas, (100, 100),
                                                max_detections=3)
    assert numpy(counts).tolist() == [2]
    np.testing.assert_allclose(numpy(scores)[0], [0.7, 0.2, 0.0], atol=1e-6)
    assert numpy(classes)[0].tolist() == [1, 0, -1]
    np.testing.assert_allclose(numpy(boxes)[0, :2], [[12, 10, 32, 30], [10, 10, 30, 30]], atol=1e-4)


# --------------------------------------------------------------------------- the model

TINY = {"input_shape": (64, 64, 1), "roi": "align", "rpn_channels": 16, "head_units": 32, "pool_size": 4,
        "train_proposals": 32, "test_proposals": 16}


@pytest.fixture(scope="module")
def tiny_canvases():
    canvases = make_detection_canvases("train", 8, size=64, max_objects=2, progress=False)
    return canvases.images, {"boxes": canvases.boxes, "classes": canvases.classes, "valid": canvases.valid}


def test_faster_rcnn_parts_and_shapes():
    model = models.build("faster_rcnn", **TINY)
    # 64 px read at 32 by ResNet-8 (stride 4): an 8 x 8 map of 64 channels, 9 anchors a position.
    assert model.backbone.output_shape == (None, 8, 8, 64) and model.anchors.shape == (8 * 8 * 9, 4)
    assert [layer.name for layer in model.rpn.layers[1:4]] == ["rpn_conv", "rpn_objectness", "rpn_deltas"]
    assert model.head.get_layer("cls_score").units == 11 and model.head.get_layer("bbox_pred").units == 40
    # rpn_conv 3*3*64*16 + 16, objectness 16*9 + 9, deltas 16*36 + 36
    assert model.rpn.count_params() == 9232 + 153 + 612
    found = model(np.zeros((2, 64, 64, 1), "float32"))
    assert found["boxes"].shape == (2, 100, 4) and found["classes"].shape == (2, 100)


def test_a_tiny_faster_rcnn_trains_and_its_four_losses_fall(tiny_canvases, tmp_path):
    from cv_textbook import train

    keras.utils.set_random_seed(0)
    model = models.build("faster_rcnn", **TINY)
    task = tasks.DetectionTask(canvas_size=64, max_objects=2)
    result = train.fit(model, tiny_canvases, epochs=6, batch_size=4, learning_rate=3e-3, task=task,
                       run_dir=tmp_path, verbose=0)
    history = result.history
    for name in ("rpn_objectness_loss", "rpn_box_loss", "detection_class_loss", "detection_box_loss"):
        assert name in history, name
    assert history["loss"][-1] < 0.7 * history["loss"][0], history["loss"]
    assert history["rpn_objectness_loss"][-1] < history["rpn_objectness_loss"][0]
    assert history["detection_class_loss"][-1] < history["detection_class_loss"][0]


def test_faster_rcnn_saves_and_loads_in_safe_mode_with_the_same_detections(tmp_path):
    model = models.build("faster_rcnn", **{**TINY, "roi": "pool"})
    path = tmp_path / "faster_rcnn.keras"
    model.save(path)
    loaded = models.load_model(path)  # default safe_mode: no Lambda anywhere
    assert isinstance(loaded.roi_layer, type(model.roi_layer)) and loaded.pool_size == 4
    images = np.random.default_rng(0).random((2, 64, 64, 1), dtype=np.float32)
    before, after = model.predict(images, verbose=0), loaded.predict(images, verbose=0)
    for name in ("boxes", "scores", "classes", "counts"):
        np.testing.assert_allclose(before[name], after[name], atol=1e-5)


def test_train_and_evaluate_faster_rcnn_through_the_cli(tmp_path, monkeypatch, capsys):
    spec = models.spec("faster_rcnn")
    tiny = dataclasses.replace(
        spec, task_options={"canvas_size": 64, "max_objects": 2},
        recipe=models.Recipe(epochs=1, batch_size=4, train_examples=16,
                             model_kwargs={key: value for key, value in TINY.items() if key != "input_shape"}),
    )
    monkeypatch.setitem(models.registry.SPECS, "faster_rcnn", tiny)
    monkeypatch.setenv("CV_TEXTBOOK_SMOKE", "1")
    assert cli.main(["train", "faster_rcnn", "--out", str(tmp_path)]) == 0
    claimed = json.loads((tmp_path / "metrics.json").read_text())
    assert 0 <= claimed["test_map_50"] <= 1 and 0 <= claimed["test_coco_map"] <= claimed["test_map_50"]
    history = json.loads((tmp_path / "history.json").read_text())
    assert {"rpn_objectness_loss", "rpn_box_loss", "detection_class_loss", "detection_box_loss"} <= set(history)
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert f"mAP@0.5 {claimed['test_map_50']:.4f}" in printed.splitlines()[0]


# --------------------------------------------------------------------------- bad inputs


def test_bad_ground_truth_and_empty_inputs_get_clear_errors(tiny_canvases):
    model = models.build("faster_rcnn", **TINY)
    task = tasks.DetectionTask(canvas_size=64, max_objects=2)
    images, targets = tiny_canvases
    reversed_boxes = {**targets, "boxes": targets["boxes"][..., [2, 1, 0, 3]]}
    with pytest.raises(ValueError, match="x2 < x1"):
        task.batches(model, (images, reversed_boxes), 4)
    bad_class = {**targets, "classes": np.where(targets["valid"], 10, -1).astype(np.int32)}
    with pytest.raises(ValueError, match=r"classes of valid boxes must be between 0 and 9.*got \[10\]"):
        task.batches(model, (images, bad_class), 4)
    with pytest.raises(ValueError, match="at least one canvas"):
        task.predict_detections(model, images[:0])
    with pytest.raises(ValueError, match=r"roi must be one of \('pool', 'align'\)"):
        models.build("faster_rcnn", input_shape=(64, 64, 1), roi="warp")
    with pytest.raises(ValueError, match="multiples of downsample=2"):
        models.build("faster_rcnn", input_shape=(65, 65, 1))


# --------------------------------------------------------------------------- Fast R-CNN and R-CNN


@pytest.mark.parametrize("name, kwargs", [
    ("fast_rcnn", {"roi": "align", "head_units": 32, "pool_size": 4}),
    ("rcnn", {"warp_size": 32, "roi_samples": 8}),
])
def test_proposal_detectors_train_on_selective_search_and_reload_in_safe_mode(name, kwargs, tiny_canvases, tmp_path):
    from cv_textbook import train
    from cv_textbook.data.detection import canvas_proposals

    images, targets = tiny_canvases
    model = models.build(name, input_shape=(64, 64, 1), **kwargs)
    assert model.needs_proposals and model.loss_names == ("detection_class_loss", "detection_box_loss")
    task = tasks.DetectionTask(canvas_size=64, max_objects=2)
    result = train.fit(model, (images[:4], {key: value[:4] for key, value in targets.items()}), epochs=1,
                       batch_size=4, task=task, run_dir=tmp_path / "run", verbose=0)
    assert np.isfinite(result.history["detection_class_loss"][0]) and result.history["detection_class_loss"][0] > 0
    proposals = canvas_proposals(images[:2], progress=False)
    assert proposals.shape == (2, 64, 4) and (proposals[..., 2] >= proposals[..., 0]).all()
    inputs = {"images": images[:2].astype("float32") / 255, "proposals": proposals}
    model.save(tmp_path / f"{name}.keras")
    loaded = models.load_model(tmp_path / f"{name}.keras")
    before, after = model.predict(inputs, verbose=0), loaded.predict(inputs, verbose=0)
    np.testing.assert_allclose(before["scores"], after["scores"], atol=1e-5)
    with pytest.raises(ValueError, match="reads given proposals"):
        model(images[:2].astype("float32"))


def test_the_detection_benchmark_puts_the_detectors_side_by_side(monkeypatch):
    from cv_textbook import bench, train

    # Made-up runs: R-CNN 2 s a canvas (1.5 of it selective search), Fast R-CNN 0.5 s (0.4), Faster R-CNN 0.25 s.
    times = {"rcnn": (2.0, 1.5), "fast_rcnn": (0.5, 0.4), "faster_rcnn": (0.25, 0.0)}

    def fake_run(name, **kwargs):
        seconds, proposals = times[name]
        return {"test_map_50": 0.5, "test_coco_map": 0.3, "test_seconds_per_image": seconds,
                "test_proposal_seconds_per_image": proposals, "examples_per_second": 10.0, "epochs": 1,
                "train_examples": kwargs["train_examples"], "test_examples": 250}

    monkeypatch.setattr(train, "run_experiment", fake_run)
    report = bench.run_detection_benchmark(log=lambda line: None)
    assert list(report["models"]) == ["rcnn", "fast_rcnn", "faster_rcnn"]  # the chapter's order
    assert report["models"]["rcnn"]["proposal_share"] == pytest.approx(0.75)
    assert report["models"]["fast_rcnn"]["proposal_share"] == pytest.approx(0.8)
    table = bench.format_detection_report(report)
    # Speed-ups over the slowest (R-CNN, 2 s): 1, 4 and 8; the papers': 48.51 s against 1.83 s and 0.198 s.
    assert "8.0×" in table and "4.0×" in table
    assert f"{48.51 / 0.198:14.1f}×" in table and f"{48.51 / 1.83:14.1f}×" in table


# --------------------------------------------------------------------------- masks (Mask R-CNN's idea)


def test_mask_loss_reads_only_the_labelled_class_mask_of_foreground_rois():
    from cv_textbook.detection.losses import mask_loss

    # RoI 0, class 2, its 2 x 2 class-2 logits (ln 3, 0, 0, 0) against target (1, 0, 0, 0):
    # -log(3/4) = ln(4/3) and three times -log(1/2) = ln 2; the class-1 logits (50) do not count, nor RoI 1
    # (background). Mean over RoI 0's 4 pixels.
    logits = np.zeros((1, 2, 2, 2, 2), "float32")
    logits[0, 0, ..., 0] = 50.0
    logits[0, 0, 0, 0, 1] = math.log(3)
    logits[0, 1] = -50.0
    targets = np.zeros((1, 2, 2, 2), "float32")
    targets[0, 0, 0, 0] = 1.0
    targets[0, 1] = 1.0
    loss = float(mask_loss(logits, np.array([[2, 0]]), targets))
    assert loss == pytest.approx((math.log(4 / 3) + 3 * math.log(2)) / 4, rel=1e-5)


def test_mask_targets_are_the_matched_garments_pixels_inside_its_box():
    from cv_textbook.detection.targets import instance_mask_targets

    # Garment 0 fills box (2, 2, 4, 4) but pixel (row 3, column 3); garment 1's box is (5, 5, 7, 7) with pixel
    # (5, 5) lit; pixel (4, 4) is lit but in no box. RoI (2, 2, 4, 4) on garment 0 reads its pixels one per
    # cell; RoI (4, 4, 6, 6) on garment 1 sees only (5, 5): (4, 4) belongs to no garment.
    image = np.zeros((1, 8, 8, 1), "float32")
    image[0, 2:4, 2:4] = 1.0
    image[0, 3, 3] = 0.0
    image[0, 5, 5] = image[0, 4, 4] = 1.0
    boxes = np.array([[[2, 2, 4, 4], [5, 5, 7, 7]]], "float32")
    rois = np.array([[[2, 2, 4, 4], [4, 4, 6, 6]]], "float32")
    masks = numpy(instance_mask_targets(image, boxes, rois, np.array([[0, 1]], "int32"), size=2))
    np.testing.assert_array_equal(masks[0, 0], [[1, 1], [1, 0]])
    np.testing.assert_array_equal(masks[0, 1], [[0, 0], [0, 1]])


def test_mean_mask_iou_by_hand():
    from cv_textbook.tasks.detection import mean_mask_iou

    # Garment of class 1 filling (2, 2, 4, 4): found with a mask of 3 of its 4 pixels -> IoU 3/4. A second
    # garment (class 0) is missed -> 0. Mean 3/8.
    image = np.zeros((1, 8, 8, 1), np.uint8)
    image[0, 2:4, 2:4] = 200
    image[0, 5:7, 5:7] = 100
    targets = {"boxes": np.array([[[2, 2, 4, 4], [5, 5, 7, 7]]], "float32"), "classes": np.array([[1, 0]]),
               "valid": np.array([[True, True]])}
    found = [(np.array([[2.0, 2, 4, 4]]), np.array([1]), np.array([0.9]), np.array([[[0.9, 0.8], [0.7, 0.1]]]))]
    assert mean_mask_iou(image, targets, found) == pytest.approx(3 / 8)


def test_a_tiny_mask_rcnn_trains_its_five_losses_and_reloads_with_the_same_masks(tiny_canvases, tmp_path):
    from cv_textbook import train

    images, targets = tiny_canvases
    model = models.build("mask_rcnn", **TINY)
    task = tasks.DetectionTask(canvas_size=64, max_objects=2)
    result = train.fit(model, (images[:4], {key: value[:4] for key, value in targets.items()}), epochs=1,
                       batch_size=4, task=task, run_dir=tmp_path / "run", verbose=0)
    assert set(model.loss_names) == {"rpn_objectness_loss", "rpn_box_loss", "detection_class_loss",
                                     "detection_box_loss", "mask_loss"}
    assert 0 < result.history["mask_loss"][0] < 1  # per-pixel cross-entropy near ln 2 at the start
    model.save(tmp_path / "mask_rcnn.keras")
    loaded = models.load_model(tmp_path / "mask_rcnn.keras")
    batch = images[:2].astype("float32") / 255
    before, after = model.predict(batch, verbose=0), loaded.predict(batch, verbose=0)
    assert before["masks"].shape == (2, 100, 28, 28)
    np.testing.assert_allclose(before["masks"], after["masks"], atol=1e-5)


def test_summary_counts_the_backbone_per_image_and_r_cnns_network_per_region(capsys):
    # ResNet-8 (option A shortcuts are free) at 64 x 64 (the canvas read at half size), by arithmetic:
    # stem 9*1*16*64^2 = 589,824; stage 1: 2 * 9*16*16*64^2 = 18,874,368; stage 2 (32 x 32): 9*16*32*32^2 +
    # 9*32*32*32^2 = 14,155,776; stage 3 (16 x 16): 9*32*64*16^2 + 9*64*64*16^2 = 14,155,776. Total 47,775,744.
    # R-CNN's network at 32 x 32: 147,456 + 4,718,592 + 3,538,944 + 3,538,944 + Dense 64*11 + 64*40 = 11,947,200.
    from cv_textbook import analysis

    assert analysis.count_macs(models.build("faster_rcnn").backbone) == 47_775_744
    assert analysis.count_macs(models.build("rcnn").classifier) == 11_947_200
    assert cli.main(["summary", "faster_rcnn"]) == 0
    assert "multiply-accumulates per image: 47.8 M in the backbone" in capsys.readouterr().out
