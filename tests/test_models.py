"""Model builders: exact sizes, readable names, clear errors, safe saving."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from cv_textbook import models, schedules


def test_registry_lists_and_builds_lenet5():
    assert "lenet5" in models.available()
    assert isinstance(models.build("lenet5"), keras.Model)
    assert models.describe("lenet5").startswith("LeNet-5")


# The 1998 variant, with the paper's connection table and trainable subsampling, has 60,850
# (tests/test_lenet.py).
@pytest.mark.parametrize("variant", ["modern", "1998_simplified"])
def test_lenet5_has_61706_parameters_at_28x28(variant):
    model = models.build("lenet5", variant=variant)
    assert model.count_params() == 61_706
    assert model.output_shape == (None, 10)


def test_lenet5_layers_follow_the_paper():
    model = models.build("lenet5")
    names = [layer.name for layer in model.layers]
    assert names == ["image", "c1_conv", "s2_pool", "c3_conv", "s4_pool", "flatten", "c5_dense", "f6_dense", "output"]
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers[1:5]]
    assert shapes == [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16)]


def test_lenet5_1998_simplified_uses_tanh_and_average_pooling():
    model = models.build("lenet5", variant="1998_simplified")
    assert model.get_layer("c1_conv").activation.__name__ == "tanh"
    assert isinstance(model.get_layer("s2_pool"), keras.layers.AveragePooling2D)


def test_lenet5_at_32x32_with_valid_padding_is_the_papers_layout():
    model = models.build("lenet5", input_shape=(32, 32, 1), c1_padding="valid")
    assert model.get_layer("c1_conv").output.shape[1:3] == (28, 28)
    assert model.count_params() == 61_706


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (28, 28)}, r"input_shape must have 3 entries .*channel axis"),
        ({"input_shape": "big"}, r"input_shape must be a tuple"),
        ({"input_shape": (11, 28, 1)}, r"too small for lenet5.*smallest valid value: 12"),
        ({"input_shape": (15, 15, 1), "c1_padding": "valid"}, r"smallest valid value: 16"),
        ({"num_classes": 1}, r"num_classes must be an integer of at least 2"),
        ({"variant": "2024"}, r"variant must be one of \('modern', '1998', '1998_simplified'\)"),
        ({"depth": 5}, r"lenet5 got unknown argument\(s\) depth; it accepts: input_shape"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.build("lenet5", **kwargs)


def test_smallest_valid_input_builds():
    assert models.build("lenet5", input_shape=(12, 12, 1)).output_shape == (None, 10)


def test_unknown_model_suggests_the_closest_name():
    with pytest.raises(ValueError, match="unknown model 'lenet'. Did you mean lenet5"):
        models.build("lenet")


QUICK_MODELS = [spec.name for spec in models.specs() if spec.quick_tests]


@pytest.mark.parametrize("name", QUICK_MODELS)
def test_every_model_saves_and_loads_safely_with_the_same_outputs(name, tmp_path):
    model = models.build(name, **models.spec(name).test_kwargs)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = models.load_model(path)  # keras.models.load_model, default safe_mode: no Lambda layers
    batch = np.random.default_rng(0).random((2, *model.input_shape[1:]), dtype=np.float32)
    np.testing.assert_allclose(model.predict(batch, verbose=0), loaded.predict(batch, verbose=0), atol=1e-6)


def test_load_model_in_a_fresh_process_restores_the_packages_schedule(tmp_path):
    # A model saved by `train` keeps its optimizer; with the ResNet paper's step schedule that
    # is the package's WarmupStepDecay, which Keras can only rebuild once it is registered.
    model = models.build("lenet5")
    schedule = schedules.WarmupStepDecay(0.1, total_steps=100, warmup_steps=10)
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9), loss="sparse_categorical_crossentropy")
    path = tmp_path / "lenet5.keras"
    model.save(path)
    script = (
        "import sys; from cv_textbook import models; "
        "model = models.load_model(sys.argv[1]); "
        "rate = model.optimizer.get_config()['learning_rate']; "
        "print(rate['class_name'], rate['config']['total_steps'])"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["WarmupStepDecay", "100"]


def test_importing_the_models_loads_neither_training_nor_a_framework():
    # models/ is a leaf: nothing above it (train, tasks, bench) and no framework at import.
    script = ("import sys, cv_textbook.models; "
              "print(sorted(m for m in ('cv_textbook.train', 'cv_textbook.tasks', 'keras', 'tensorflow') "
              "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_every_spec_names_a_builder_a_chapter_and_a_task():
    from cv_textbook import tasks

    for spec in models.specs():
        assert callable(spec.build_function()), spec.name
        assert spec.chapter in models.CHAPTERS, spec.name
        assert spec.task in tasks.TASKS, spec.name
        assert models.describe(spec.name), f"{spec.name}: its builder has no docstring"
        tasks.for_spec(spec)  # its task options are the task's


def test_a_spec_entry_is_all_a_new_model_needs(tmp_path, monkeypatch):
    # Adding a model is a builder plus one spec entry: train, the CLI and the tests read the entry.
    from cv_textbook import cli

    def tiny(input_shape=(28, 28, 1), num_classes=10):
        """A tiny classifier registered by a test."""
        inputs = keras.Input(input_shape)
        x = keras.layers.GlobalAveragePooling2D()(inputs)
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x), name="tiny")

    entry = models.ModelSpec("tiny", tiny, chapter=1, recipe=models.Recipe(epochs=1))
    monkeypatch.setitem(models.registry.SPECS, "tiny", entry)
    monkeypatch.setenv("CV_TEXTBOOK_SMOKE", "1")
    assert "tiny" in models.available()
    assert cli.main(["train", "tiny", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "model.keras").is_file()
