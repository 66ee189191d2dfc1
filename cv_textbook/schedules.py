"""Learning-rate schedules of the package, registered so that saved models load in safe mode.

A low module (Keras only): ``train`` builds optimizers with these schedules, and
``models.load_model`` imports this module so that a ``model.keras`` saved with its optimizer
rebuilds the schedule, without importing the training code.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="cv_textbook")
class WarmupStepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The ResNet paper's schedule: an optional low warm-up rate, then the base rate divided
    by 10 at 50 % and again at 75 % of training."""

    def __init__(self, learning_rate, total_steps, warmup_steps=0, warmup_rate=None):
        self.learning_rate = float(learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.warmup_rate = float(warmup_rate) if warmup_rate is not None else self.learning_rate / 10

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        rate = keras.ops.where(step < 0.5 * self.total_steps, self.learning_rate, self.learning_rate / 10)
        rate = keras.ops.where(step < 0.75 * self.total_steps, rate, self.learning_rate / 100)
        return keras.ops.where(step < self.warmup_steps, self.warmup_rate, rate)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "warmup_rate": self.warmup_rate,
        }
