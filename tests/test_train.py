"""Training: seeded runs repeat, interrupted runs resume, fresh runs start from epoch 1."""

import json

import keras
import numpy as np
import pytest

from cv_textbook import device, models, train


def tiny_model():
    return models.build("lenet5")


def test_seeded_runs_repeat_exactly(small_fashion_mnist, tmp_path):
    (x, y), _ = small_fashion_mnist
    losses = []
    for attempt in range(2):
        train.seed_everything(7)
        result = train.fit(tiny_model(), (x, y), epochs=2, batch_size=64, seed=7,
                           run_dir=tmp_path / f"run{attempt}", verbose=0)
        losses.append(result.history["loss"])
    assert len(losses[0]) == 2
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


class InterruptAfterEpoch(keras.callbacks.Callback):
    """Simulates a student closing the laptop: raises once the backup of an epoch is written."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


class CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.started = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started.append(epoch)


def test_interrupted_run_resumes_where_it_stopped(small_fashion_mnist, tmp_path):
    (x, y), _ = small_fashion_mnist
    run_dir = tmp_path / "run"
    train.seed_everything(0)
    with pytest.raises(KeyboardInterrupt):
        train.fit(tiny_model(), (x, y), epochs=3, batch_size=128, run_dir=run_dir, verbose=0,
                  callbacks=[InterruptAfterEpoch(2)])
    assert train.backup_epoch(run_dir) == 2

    counter = CountEpochs()
    result = train.fit(tiny_model(), (x, y), epochs=3, batch_size=128, run_dir=run_dir, verbose=0,
                       callbacks=[counter])
    assert result.resumed_from_epoch == 2
    assert counter.started == [2]  # only the missing third epoch ran
    assert len(result.history["loss"]) == 3  # the log still covers all three epochs
    assert train.backup_epoch(run_dir) is None  # a finished run leaves no backup behind
    assert json.loads((run_dir / "history.json").read_text())["loss"] == result.history["loss"]


def test_fresh_run_discards_an_old_backup_instead_of_skipping_epochs(small_fashion_mnist, tmp_path):
    (x, y), _ = small_fashion_mnist
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train.fit(tiny_model(), (x, y), epochs=3, run_dir=run_dir, verbose=0, callbacks=[InterruptAfterEpoch(1)])
    counter = CountEpochs()
    result = train.fit(tiny_model(), (x, y), epochs=3, run_dir=run_dir, resume=False, verbose=0,
                       callbacks=[counter])
    assert result.resumed_from_epoch is None
    assert counter.started == [0, 1, 2]
    assert len(result.history["loss"]) == 3


def test_runs_without_a_folder_get_a_new_one_each(monkeypatch, tmp_path):
    from cv_textbook import config

    monkeypatch.setattr(config, "runs_dir", lambda: tmp_path)
    first = train.new_run_dir("lenet5")
    first.mkdir()
    assert train.new_run_dir("lenet5") != first


def test_fit_reports_speed_and_learns(small_fashion_mnist, tmp_path):
    (x, y), (x_test, y_test) = small_fashion_mnist
    train.seed_everything(0)
    model = tiny_model()
    result = train.fit(model, (x, y), (x_test, y_test), epochs=4, batch_size=32, learning_rate=2e-3, schedule="cosine",
                       run_dir=tmp_path, verbose=0)
    assert result.examples_per_second > 0
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert {"val_loss", "val_accuracy", "examples_per_second"} <= set(result.history)
    assert train.evaluate(model, x_test, y_test)["test_accuracy"] > 0.5  # 10 classes: chance is 0.1


def test_cpu_setup_keeps_xla_off_and_float32():
    setup = device.training_setup()
    if setup.device == "cpu":
        assert setup.jit_compile is False  # XLA made CPU training ~3x slower here
        assert setup.precision == "float32"
    overridden = device.training_setup(precision="mixed_bfloat16", jit_compile=True)
    assert overridden.precision == "mixed_bfloat16" and overridden.jit_compile is True


def test_a_recipe_gets_bfloat16_on_a_cpu_only_where_the_cpu_computes_it(monkeypatch):
    monkeypatch.setattr(device, "visible_gpus", lambda: [])
    for native, expected in ((True, "mixed_bfloat16"), (False, "float32")):
        monkeypatch.setattr(device, "cpu_supports_bfloat16", lambda native=native: native)
        assert device.training_setup(bfloat16_on_cpu=True).precision == expected
        assert device.training_setup().precision == "float32"  # a recipe has to ask for it
        assert device.training_setup(precision="float32", bfloat16_on_cpu=True).precision == "float32"
    # Chosen by measurement (python -m cv_textbook bench): ResNet-20 yes, LeNet-5 no.
    assert train.recipe_for("resnet20").bfloat16_on_cpu and not train.recipe_for("lenet5").bfloat16_on_cpu


def test_a_gpu_gets_float16_where_it_has_tensor_cores_and_xla(monkeypatch):
    monkeypatch.setattr(device, "visible_gpus", lambda: ["NVIDIA H100 80GB HBM3"])
    for capability, expected in (((9, 0), "mixed_float16"), ((7, 5), "mixed_float16"), ((7, 0), "mixed_float16"),
                                 ((6, 0), "float32"), ((3, 7), "float32"), (None, "mixed_float16")):
        monkeypatch.setattr(device, "gpu_compute_capability", lambda capability=capability: capability)
        setup = device.training_setup(bfloat16_on_cpu=True)  # a CPU choice: no effect on a GPU
        assert (setup.device, setup.precision, setup.jit_compile) == ("gpu", expected, True), capability
        assert "1 × NVIDIA H100 80GB HBM3" in setup.description
        if capability:
            assert f"compute capability {capability[0]}.{capability[1]}" in setup.description
    assert device.training_setup(precision="float32", jit_compile=False).precision == "float32"


def test_gpu_names_and_compute_capability_as_each_backend_reports_them(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    monkeypatch.setattr(device, "_tensorflow_gpus", lambda: [
        ("/physical_device:GPU:0", {"device_name": "Tesla P100-PCIE-16GB", "compute_capability": (6, 0)})])
    assert device.visible_gpus() == ["Tesla P100-PCIE-16GB"]
    assert device.gpu_compute_capability() == (6, 0)
    assert device.training_setup().precision == "float32"  # no tensor cores
    monkeypatch.setattr(device, "_tensorflow_gpus", lambda: [("/physical_device:GPU:0", {})])  # no CUDA details
    assert device.visible_gpus() == ["/physical_device:GPU:0"] and device.gpu_compute_capability() is None

    class JaxGpu:
        device_kind = "NVIDIA H100 80GB HBM3"
        compute_capability = "9.0"  # JAX gives a string

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setattr(device, "_jax_gpus", lambda: [JaxGpu(), JaxGpu()])
    assert device.visible_gpus() == ["NVIDIA H100 80GB HBM3"] * 2
    assert device.gpu_compute_capability() == (9, 0)
    setup = device.training_setup()
    assert setup.precision == "mixed_float16" and setup.gpus == 2
    assert setup.description == "GPU: 2 × NVIDIA H100 80GB HBM3, compute capability 9.0"


def test_no_gpu_has_no_compute_capability():
    if device.visible_gpus():
        pytest.skip("this machine has a GPU")
    assert device.gpu_compute_capability() is None


def test_compile_turns_xla_on_as_the_setup_says_outside_a_strategy():
    gpu_like = device.TrainingSetup("gpu", "test", 1, "float32", jit_compile=True)
    model = tiny_model()
    train.compile_model(model, gpu_like)
    assert model.jit_compile is True
    model = tiny_model()
    train.compile_model(model, device.training_setup(jit_compile=False))
    assert model.jit_compile is False


def test_smoke_mode_trains_eagerly_and_classroom_mode_traces(monkeypatch):
    monkeypatch.setenv("CV_TEXTBOOK_SMOKE", "1")
    model = tiny_model()
    train.compile_model(model, device.training_setup())
    assert model.run_eagerly is True
    monkeypatch.delenv("CV_TEXTBOOK_SMOKE")
    model = tiny_model()
    train.compile_model(model, device.training_setup())
    assert model.run_eagerly is False


def test_precision_scope_builds_mixed_models_with_a_float32_output_and_restores_the_policy():
    before = keras.config.dtype_policy().name
    with device.precision_scope("mixed_bfloat16"):
        model = tiny_model()
    assert keras.config.dtype_policy().name == before
    assert model.get_layer("c1_conv").compute_dtype == "bfloat16"
    assert model.get_layer("output").compute_dtype == "float32"


def test_unknown_schedule_or_optimizer_is_refused():
    with pytest.raises(ValueError, match="schedule must be one of"):
        train.make_optimizer(schedule="exponential")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        train.make_optimizer(optimizer="rmsprop")


def test_step_schedule_follows_the_resnet_paper():
    schedule = train.WarmupStepDecay(0.1, total_steps=1000, warmup_steps=100)
    rates = [float(schedule(step)) for step in (0, 99, 100, 499, 500, 749, 750, 999)]
    np.testing.assert_allclose(rates, [0.01, 0.01, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)
    restored = train.WarmupStepDecay.from_config(schedule.get_config())
    assert float(restored(600)) == pytest.approx(0.01)


def test_sgd_with_cosine_warmup_ramps_up_then_decays():
    optimizer = train.make_optimizer(0.1, "cosine", total_steps=100, optimizer="sgd", warmup_steps=10)
    assert isinstance(optimizer, keras.optimizers.SGD) and optimizer.momentum == 0.9
    schedule = optimizer._learning_rate
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(10)) == pytest.approx(0.1, rel=1e-3)
    assert float(schedule(99)) < 0.01


def test_run_experiment_saves_a_model_that_reproduces_its_metrics(tmp_path, monkeypatch, small_fashion_mnist):
    monkeypatch.setenv("CV_TEXTBOOK_SMOKE", "1")
    metrics = train.run_experiment("lenet5", out=tmp_path, verbose=0)
    for name in ("model.keras", "metrics.json", "history.csv", "history.json", "history.png"):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["smoke"] is True and saved["epochs"] == 1 and saved["test_examples"] == 256
    assert saved["dataset"] == "fashion_mnist" and saved["dataset_source"]
    # Other code, loading under the default safe_mode, gets the accuracy that metrics.json claims.
    model = keras.models.load_model(tmp_path / "model.keras")
    _, (x_test, y_test) = small_fashion_mnist
    predictions = np.argmax(model.predict(x_test.astype("float32")[..., None] / 255.0, verbose=0), axis=-1)
    assert np.mean(predictions == y_test) == pytest.approx(saved["test_accuracy"], abs=1e-6)
    assert metrics["test_accuracy"] == saved["test_accuracy"]


def test_full_mode_switches_to_the_papers_recipe(monkeypatch):
    monkeypatch.delenv("CV_TEXTBOOK_SMOKE", raising=False)
    classroom = train.recipe_for("resnet20")
    monkeypatch.setenv("CV_TEXTBOOK_FULL", "1")
    paper = train.recipe_for("resnet110")
    assert (paper.optimizer, paper.schedule, paper.learning_rate) == ("sgd", "step", 0.1)
    assert paper.augment == ("flip", "shift") and paper.warmup_epochs == 1
    assert paper.model_kwargs == {"weight_decay": 1e-4}
    assert train.recipe_for("resnet20") != classroom
    assert train.recipe_for("lenet5") == models.spec("lenet5").recipe  # no full recipe: classroom
    segmentation = train.recipe_for("unet_xception")
    assert models.spec("unet_xception").task == "segmentation"
    assert segmentation.train_examples > models.spec("unet_xception").recipe.train_examples


def test_segmentation_evaluation_matches_keras_and_needs_no_compiled_model():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 16, 16), dtype=np.uint8)
    masks = rng.integers(0, 3, (20, 16, 16)).astype(np.int32)
    model = models.build("unet_xception", input_shape=(16, 16, 1), num_classes=3, filters=(4, 8, 8, 8))
    uncompiled = train.evaluate_segmentation(model, images, masks, batch_size=4)  # chunks of 32: one
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.evaluate(images[..., None] / 255.0, masks, batch_size=4, verbose=0)
    assert uncompiled["test_loss"] == pytest.approx(loss, rel=1e-4)
    assert uncompiled["test_pixel_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    chunked = train.evaluate_segmentation(model, images, masks, batch_size=1)  # chunks of 8: three
    assert chunked["test_loss"] == pytest.approx(loss, rel=1e-4)
    assert chunked["test_iou_per_class"] == pytest.approx(uncompiled["test_iou_per_class"])


def _saved_run(folder, model, test_accuracy, speeds=(10.0, 20.0), train_examples=600, test_examples=200):
    """A run folder as `train --out` writes it, with hand-made claims and history."""
    folder.mkdir()
    model.save(folder / "model.keras")
    claimed = {"model": "lenet5", "budget": "classroom", "epochs": len(speeds), "optimizer": "adam", "batch_size": 64,
               "train_examples": train_examples, "test_examples": test_examples, "test_accuracy": test_accuracy,
               "seed": 0, "precision": "float32", "examples_per_second": float(np.median(speeds)), "device": "CPU"}
    (folder / "metrics.json").write_text(json.dumps(claimed))
    rows = ["epoch,accuracy,examples_per_second"] + [f"{i},0.5,{s}" for i, s in enumerate(speeds)]
    (folder / "history.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_a_saved_run_is_measured_again_and_must_agree_with_its_metrics(tmp_path):
    train.seed_everything(0)
    model = tiny_model()
    images = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    predicted = model.predict(images[..., None].astype("float32") / 255, verbose=0).argmax(axis=-1)
    labels = np.where(np.arange(200) < 150, predicted, (predicted + 1) % 10)  # 150 of 200 right: 0.75
    run = train.remeasure_run(_saved_run(tmp_path / "right", model, 0.75), images, labels)
    assert run.measured["test_accuracy"] == pytest.approx(0.75)
    assert run.training_minutes == pytest.approx((600 / 10 + 600 / 20) / 60)  # 1.5 min
    assert "0.7500 now on all 200 test images" in run.describe()
    # On part of the test set there is nothing to agree with: no check, and the sentence says so.
    part = train.remeasure_run(tmp_path / "right", images[:100], labels[:100])
    assert part.measured["test_accuracy"] == pytest.approx(1.0) and "the first 100 test images" in part.describe()
    with pytest.raises(AssertionError, match="metrics.json says 0.7600"):
        train.remeasure_run(_saved_run(tmp_path / "changed", model, 0.76), images, labels)


def test_a_folder_without_a_run_is_refused_naming_what_it_lacks(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="lacks model.keras, history.csv"):
        train.remeasure_run(tmp_path, np.zeros((1, 28, 28), np.uint8), np.zeros(1, int))


def test_a_committed_run_that_is_not_there_says_how_to_make_it(tmp_path, capsys):
    assert train.remeasure_committed("alexnet_classroom", np.zeros((1, 28, 28), np.uint8), np.zeros(1, int),
                                     results_folder=tmp_path) is None
    said = capsys.readouterr().out
    assert str(tmp_path / "alexnet_classroom") in said and "python -m cv_textbook train" in said


def test_a_committed_run_is_measured_again_from_its_results_folder(tmp_path):
    train.seed_everything(0)
    model = tiny_model()
    images = np.random.default_rng(1).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    labels = model.predict(images[..., None].astype("float32") / 255, verbose=0).argmax(axis=-1)  # all right
    _saved_run(tmp_path / "lenet5_classroom", model, 1.0)
    run = train.remeasure_committed("lenet5_classroom", images, labels, results_folder=tmp_path)
    assert run.run_dir == tmp_path / "lenet5_classroom" and run.measured["test_accuracy"] == pytest.approx(1.0)
