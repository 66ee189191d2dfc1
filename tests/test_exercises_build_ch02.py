"""Chapter 02's build exercise: the student's 1998 feature extractor (C1 to S4) is built, its
parameters counted against the package's, the package's weights copied into it and both outputs
compared; the right network passes, each typical mistake gets its own hint, a placeholder asks to
fill in, and no wrong answer raises."""

import keras
import pytest
from keras import layers

from cv_textbook.exercises import ch02
from cv_textbook.models.layers import ConnectionTableConv2D, TrainableSubsampling, scaled_tanh
from exercise_feedback import assert_correct, assert_fill_in, assert_hint

# LeCun et al. 1998, Table I, as printed: a row per S2 map, a column per C3 map, X where they connect.
TABLE_I = [
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
]
PAPER_C3 = [tuple(row for row in range(6) if TABLE_I[row][column] == "X") for column in range(16)]


def features(c1_padding="same", activation=scaled_tanh, subsampling_activation=scaled_tanh, table=PAPER_C3,
             full_c3=False, pooling=None, stop_after=None, subsampling=TrainableSubsampling):
    """The paper's C1 to S4 (§II.B), or what a student builds with one thing changed."""

    def build(inputs):
        def subsample(x):
            return pooling(2)(x) if pooling else subsampling(2, activation=subsampling_activation)(x)

        x = layers.Conv2D(6, 5, padding=c1_padding, activation=activation)(inputs)
        x = subsample(x)
        if stop_after == "s2":
            return x
        if full_c3:
            x = layers.Conv2D(16, 5, activation=activation)(x)
        else:
            x = ConnectionTableConv2D(table, 5, activation=activation)(x)
        if stop_after == "c3":
            return x
        return subsample(x)

    return build


class HomeMadeSubsampling(keras.layers.Layer):
    """A student's own subsampling layer: 2 weights per map, as the paper's, but not the package's class."""

    def __init__(self, pool_size, activation=None, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")
        self.shift = self.add_weight(shape=(input_shape[-1],), initializer="zeros")

    def call(self, x):
        return scaled_tanh(keras.ops.average_pool(x, 2, 2) * 4.0 * self.scale + self.shift)


def test_paper_table_has_the_papers_60_connections():
    # §II.B: six C3 maps read 3 S2 maps, nine read 4 and one reads all 6; 60 x 25 + 16 = 1,516 parameters.
    assert [len(inputs) for inputs in PAPER_C3] == [3] * 6 + [4] * 9 + [6]
    assert sum(len(inputs) for inputs in PAPER_C3) * 25 + 16 == 1516


def test_the_papers_feature_extractor_is_correct_and_counted_as_in_the_paper(capsys):
    assert ch02.check_paper_features(features()) is True
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("Correct!")
    # §II.B: C1 156, S2 12, C3 1,516 and S4 32 trainable parameters.
    assert "C1 156 + S2 12 + C3 1,516 + S4 32 = 1,716 parameters" in out
    assert "(5, 5, 16)" in out  # S4: 16 maps of 5x5 (Fig. 2)


def test_separate_activation_layers_compute_the_same_network(capsys):
    def build(inputs):
        x = layers.Conv2D(6, 5, padding="same")(inputs)
        x = layers.Activation(scaled_tanh)(x)
        x = TrainableSubsampling(2, activation=scaled_tanh)(x)
        x = ConnectionTableConv2D(PAPER_C3, 5)(x)
        x = layers.Activation(scaled_tanh)(x)
        return TrainableSubsampling(2, activation=scaled_tanh)(x)

    assert_correct(capsys, ch02.check_paper_features, build)


@pytest.mark.parametrize("answer, expected", [
    # The full table: every C3 map reads all 6 S2 maps, 5*5*6*16 + 16 = 2,416 instead of 1,516.
    (features(full_c3=True), "2,416 parameters"),
    (features(full_c3=True), "1,516"),
    # Plain pooling: S2 and S4 lose their 2 parameters per map (12 and 32).
    (features(pooling=layers.AveragePooling2D), "12 in S2, 32 in S4"),
    (features(pooling=layers.MaxPooling2D), "TrainableSubsampling"),
    # Same parameters, other squashing: f(a) = 1.7159 tanh(2a/3) in Appendix A.
    (features(activation="tanh", subsampling_activation="tanh"), "1.7159 tanh(2a/3)"),
    (features(subsampling_activation=None), "subsampling units are squashed too"),
    (features(activation=None), "C1 and C3 need the squashing"),
    (features(activation="relu", subsampling_activation="relu"), "other S4 maps"),
    # A table with map 3 reading S2 maps (2, 4, 5) instead of (3, 4, 5): still 60 connections.
    (features(table=PAPER_C3[:3] + [(2, 4, 5)] + PAPER_C3[4:]), "C3 map 3 reads S2 maps (2, 4, 5)"),
    # Table I's rows (the C3 maps each S2 map feeds) taken for its columns.
    (features(table=[tuple(c for c in range(16) if TABLE_I[r][c] == "X") for r in range(6)]), "columns"),
    # 28 -C1 valid-> 24 -S2-> 12 -C3-> 8 -S4-> 4.
    (features(c1_padding="valid"), "padding='same'"),
    (features(stop_after="c3"), "C3's output"),  # 10x10x16
    (features(stop_after="s2"), "S2's output"),  # 14x14x6
    (features(subsampling=HomeMadeSubsampling), "weights cannot be copied"),
    (lambda inputs: 1 / 0, "ZeroDivisionError"),
    (lambda inputs: 3, "got int 3"),
    (5, "pass the function itself"),
])
def test_typical_mistakes_get_their_hint(capsys, answer, expected):
    assert_hint(capsys, ch02.check_paper_features, answer, expected)


def _not_implemented(inputs):
    raise NotImplementedError


@pytest.mark.parametrize("answer", [None, lambda inputs: None, _not_implemented])
def test_placeholders_ask_to_fill_in(capsys, answer):
    assert_fill_in(capsys, ch02.check_paper_features, answer)


def test_the_check_compares_in_float32_and_restores_a_mixed_precision_policy(capsys):
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        assert_correct(capsys, ch02.check_paper_features, features())
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    finally:
        keras.config.set_dtype_policy("float32")

