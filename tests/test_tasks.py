"""Tasks as objects: several outputs with loss weights, options, records, and the saved model."""

import json

import keras
import numpy as np
import pytest

from cv_textbook import models, tasks, train


def with_auxiliary_heads(input_shape=(28, 28, 1), num_classes=10):
    """A small classifier with GoogLeNet's shape of outputs: the main head first, then two
    auxiliary heads on earlier feature maps (used in training only)."""
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    early = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv2")(early)
    late = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(late)
    main = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    heads = []
    for index, features in enumerate((early, late), start=1):
        pooled = keras.layers.GlobalAveragePooling2D(name=f"aux{index}_pool")(features)
        heads.append(keras.layers.Dense(num_classes, activation="softmax", name=f"aux{index}")(pooled))
    return keras.Model(inputs, [main, *heads], name="with_aux")


AUX_SPEC = models.ModelSpec("with_aux", with_auxiliary_heads, chapter=5,
                            recipe=models.Recipe(epochs=2, batch_size=64, loss_weights=(1.0, 0.3, 0.3)))


class KeepModel(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.trained = self.model


def test_auxiliary_heads_train_with_their_loss_weights_and_only_the_main_head_is_saved(tmp_path, monkeypatch):
    monkeypatch.setenv("CV_TEXTBOOK_SMOKE", "1")
    keep = KeepModel()
    metrics = train.run_experiment(AUX_SPEC, epochs=2, out=tmp_path, verbose=0, callbacks=[keep])
    history = json.loads((tmp_path / "history.json").read_text())
    # The total loss is the weighted sum of the heads' losses: 1·main + 0.3·aux1 + 0.3·aux2 (to
    # 1 %: Keras averages the total and the heads' losses over an epoch's batches a little
    # differently when the last batch is partial; equal weights would be ~80 % off).
    weighted = (np.array(history["predictions_loss"]) + 0.3 * np.array(history["aux1_loss"])
                + 0.3 * np.array(history["aux2_loss"]))
    np.testing.assert_allclose(history["loss"], weighted, rtol=1e-2)
    assert {"predictions_accuracy", "aux1_accuracy", "aux2_accuracy"} <= set(history)
    assert metrics["loss_weights"] == [1.0, 0.3, 0.3]

    saved = keras.models.load_model(tmp_path / "model.keras")
    assert len(saved.outputs) == 1 and saved.output_names == ["predictions"]
    assert not any(layer.name.startswith("aux") for layer in saved.layers)
    trained = keep.trained
    for layer in saved.layers:  # the inference network's weights are the trained ones
        for mine, theirs in zip(layer.get_weights(), trained.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    images = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(saved.predict(images, verbose=0), trained.predict(images, verbose=0)[0], atol=1e-6)

    # metrics.json reports the main head, and `evaluate` measures the same from the saved file.
    test = tasks.ClassificationTask().load_test(metrics)
    again = tasks.from_record(metrics).evaluate(saved, (test[0][:256], test[1][:256]))
    assert set(again) == {"test_loss", "test_accuracy"}


def test_loss_weights_must_match_the_outputs():
    model = with_auxiliary_heads()
    with pytest.raises(ValueError, match=r"loss_weights has 2 entries but with_aux has 3 output\(s\)"):
        tasks.ClassificationTask().compile(model, "adam", loss_weights=(1.0, 0.3))


def test_classification_evaluation_matches_keras_evaluate(small_fashion_mnist):
    _, (x_test, y_test) = small_fashion_mnist
    train.seed_everything(0)
    model = models.build("lenet5")
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.evaluate(x_test[..., None] / 255.0, y_test, verbose=0)
    result = train.evaluate(model, x_test, y_test)
    assert result["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert result["test_loss"] == pytest.approx(loss, rel=1e-4)


def test_a_task_option_for_another_task_is_refused_with_its_owner():
    with pytest.raises(ValueError, match=r"labels='semantic' is for segmentation models; lenet5 is a classifier"):
        tasks.for_spec(models.spec("lenet5"), labels="semantic")
    with pytest.raises(ValueError, match="labels must be one of"):
        tasks.for_spec(models.spec("unet_xception"), labels="instance")


def test_a_record_makes_the_same_task_again_also_from_runs_saved_before_tasks_were_objects():
    task = tasks.for_spec(models.spec("unet_xception"), labels="semantic")
    again = tasks.from_record(task.record())
    assert type(again) is tasks.SegmentationTask and again.options == task.options
    old = {"task": "segmentation", "canvas_size": 128, "canvas_mode": "semantic"}  # a committed 2026-11 run
    assert tasks.from_record(old).options == {"canvas_size": 128, "labels": "semantic"}
    assert type(tasks.from_record({})) is tasks.ClassificationTask  # a run without metrics.json


def localiser(input_shape=(64, 64, 1), num_classes=10):
    """A toy detector: one garment's class and box (corners / canvas side) from a small CNN."""
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for index, filters in enumerate((16, 32, 32), start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(64, activation="relu", name="features")(x)
    classes = keras.layers.Dense(num_classes, activation="softmax", name="class")(x)
    box = keras.layers.Dense(4, activation="sigmoid", name="box")(x)
    return keras.Model(inputs, {"class": classes, "box": box}, name="localiser")


ONE_GARMENT = {"canvas_size": 64, "max_objects": 1}


def test_a_toy_box_regressor_learns_boxes_through_fit_and_the_detection_task(tmp_path):
    task = tasks.DetectionTask(**ONE_GARMENT)
    recipe = models.Recipe(epochs=6, batch_size=32, learning_rate=3e-3, train_examples=640)
    from cv_textbook import config

    data = task.load(recipe, config.Budget(epochs=6), seed=0)
    train.seed_everything(0)
    model = localiser()
    result = train.fit(model, data.train, data.validation, task=task, run_dir=tmp_path, verbose=0,
                       **{**recipe.fit_kwargs(), "schedule": "cosine"})
    assert result.history["box_loss"][-1] < result.history["box_loss"][0]
    measured = task.evaluate(model, data.test)
    # Against a detector that knows only where garments are on average: the mean training box.
    mean_box = np.mean(data.train[1]["boxes"][:, 0], axis=0)
    true = data.test[1]["boxes"][:, 0]
    width = np.minimum(mean_box[2], true[:, 2]) - np.maximum(mean_box[0], true[:, 0])
    height = np.minimum(mean_box[3], true[:, 3]) - np.maximum(mean_box[1], true[:, 1])
    overlap = np.clip(width, 0, None) * np.clip(height, 0, None)
    areas = (true[:, 2] - true[:, 0]) * (true[:, 3] - true[:, 1])
    mean_box_iou = overlap / (areas + (mean_box[2] - mean_box[0]) * (mean_box[3] - mean_box[1]) - overlap)
    assert measured["test_mean_box_iou"] > np.mean(mean_box_iou) + 0.1
    assert 0.0 <= measured["test_found"] <= measured["test_class_accuracy"] <= 1.0


def test_run_experiment_trains_and_saves_a_detector(tmp_path, monkeypatch):
    monkeypatch.setenv("CV_TEXTBOOK_SMOKE", "1")
    spec = models.ModelSpec("localiser", localiser, chapter=11, task="detection", task_options=ONE_GARMENT,
                            recipe=models.Recipe(epochs=1, batch_size=16))
    metrics = train.run_experiment(spec, out=tmp_path, verbose=0)
    assert metrics["task"] == "detection" and metrics["max_objects"] == 1
    saved = keras.models.load_model(tmp_path / "model.keras")
    assert sorted(saved.output_names) == ["box", "class"]  # a detector keeps every head
    again = tasks.from_record(metrics).evaluate(saved, tasks.from_record(metrics).load_test(metrics))
    assert again["test_mean_box_iou"] == pytest.approx(metrics["test_mean_box_iou"], abs=1e-6)


def test_a_detector_with_an_unknown_head_or_too_many_garments_is_told_what_fits():
    with pytest.raises(ValueError, match="learn no target the detection task knows; name each output"):
        tasks.DetectionTask(**ONE_GARMENT).targets(with_auxiliary_heads(), {})
    with pytest.raises(ValueError, match="predicts one box per canvas, but the canvases hold up to 4"):
        tasks.DetectionTask(canvas_size=64).targets(localiser(), {})
