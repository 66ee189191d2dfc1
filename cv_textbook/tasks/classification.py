"""Image classification on real Fashion-MNIST: one label per image, one or several outputs.

A model with auxiliary heads (GoogLeNet) has several outputs, the main head first: each is
trained on the same labels with its loss weight, and the saved and evaluated model is the main
head alone.
"""

from __future__ import annotations

import keras
import numpy as np

from cv_textbook import config
from cv_textbook.data import fashion_mnist, pipeline
from cv_textbook.tasks.base import Task, TaskData, check_loss_weights, cross_entropy_sum, predict_in_chunks


class ClassificationTask(Task):
    name = "classification"
    noun = "a classifier"
    plural = "classifiers"

    def load(self, recipe, budget, seed: int = 0) -> TaskData:
        """Fashion-MNIST: the budget's share of the training set less the validation fraction,
        and the budget's share of the test set."""
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_fashion_mnist()
        x_train, y_train = pipeline.subset(x_train, y_train, budget.train_examples or recipe.train_examples, seed)
        train, validation = pipeline.split_validation(x_train, y_train, config.VALIDATION_FRACTION, seed)
        return TaskData(train, validation, pipeline.subset(x_test, y_test, budget.test_examples, seed),
                        fashion_mnist.FASHION_MNIST_CLASSES, "fashion_mnist")

    def model_kwargs(self, data: TaskData, recipe) -> dict:
        side = recipe.image_size or data.train[0].shape[1:3]
        return {"input_shape": (*side, 1), "num_classes": len(data.classes)}

    def batches(self, model, split, batch_size: int, *, shuffle=False, seed=0, augment=(), image_size=None,
                start_epoch=0):
        images, labels = split
        return pipeline.make_dataset(images, labels, batch_size, shuffle=shuffle, seed=seed, image_size=image_size,
                                     augment=augment, start_epoch=start_epoch, outputs=len(model.outputs))

    def load_test(self, record: dict) -> tuple:
        """All 10,000 test images, whatever the run was measured on."""
        return fashion_mnist.load_fashion_mnist()[1]

    def compile(self, model, optimizer, *, loss_weights=None, jit_compile=False, metrics=None) -> None:
        outputs = len(model.outputs)
        metrics = list(metrics or ["accuracy"])
        model.compile(
            optimizer=optimizer,
            loss=["sparse_categorical_crossentropy"] * outputs if outputs > 1 else "sparse_categorical_crossentropy",
            loss_weights=check_loss_weights(model, loss_weights),
            metrics=[list(metrics) for _ in range(outputs)] if outputs > 1 else metrics,
            jit_compile=jit_compile,
        )

    def inference_model(self, model):
        """The main head alone for a model with auxiliary heads (used in training only, as in
        GoogLeNet), sharing the trained weights; the model itself otherwise."""
        if len(model.outputs) == 1:
            return model
        return keras.Model(model.inputs, model.outputs[0], name=model.name)

    def curves(self, model) -> tuple[str, ...]:
        if len(model.outputs) == 1:
            return ("loss", "accuracy")
        return ("loss", f"{model.output_names[0]}_accuracy")

    def evaluate(self, model, split, batch_size: int = 256) -> dict:
        """Test loss and accuracy of the main head on (uint8) images and their labels."""
        images, labels = split
        model = self.inference_model(model)
        labels = np.asarray(labels)
        correct, cross_entropy = 0, 0.0
        for start, probabilities in predict_in_chunks(model, images, batch_size):
            truth = labels[start : start + len(probabilities)]
            correct += int(np.sum(np.argmax(probabilities, axis=-1) == truth))
            cross_entropy += cross_entropy_sum(probabilities, truth)
        return {"test_loss": cross_entropy / len(labels), "test_accuracy": correct / len(labels)}

    def headline(self, result: dict) -> str:
        return f"test accuracy {result['test_accuracy']:.4f}"


    def describe_test(self, count: int) -> str:
        test_set = fashion_mnist.FASHION_MNIST_FILES["t10k-labels-idx1-ubyte"]["shape"][0]
        every = "all " if count == test_set else ""
        return f"{every}{count:,} Fashion-MNIST test images"
