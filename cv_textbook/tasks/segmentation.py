"""Semantic segmentation of canvases composed from real Fashion-MNIST images: a class per pixel.

Options: ``canvas_size`` (pixels a side) and ``labels``, ``"trimap"`` (item, background, border)
or ``"semantic"`` (background and the ten garments); see ``cv_textbook.data.segmentation``.
"""

from __future__ import annotations

import numpy as np

from cv_textbook import metrics as segmentation_metrics
from cv_textbook.data import pipeline, segmentation
from cv_textbook.tasks.base import Task, TaskData, canvas_counts, check_loss_weights, cross_entropy_sum, predict_in_chunks

CLASSES = {"trimap": segmentation.CANVAS_CLASSES_TRIMAP, "semantic": segmentation.CANVAS_CLASSES_SEMANTIC}


class SegmentationTask(Task):
    name = "segmentation"
    noun = "a segmentation model"
    plural = "segmentation models"
    OPTIONS = {"canvas_size": 128, "labels": "trimap"}
    DEFAULT_CANVASES = 2000  # training canvases when a recipe names none

    def __init__(self, **options):
        super().__init__(**options)
        if self.options["labels"] not in segmentation.MODES:
            raise ValueError(f"labels must be one of {segmentation.MODES}, got {self.options['labels']!r}.")

    @property
    def classes(self) -> tuple[str, ...]:
        return CLASSES[self.options["labels"]]

    def _canvases(self, split: str, count: int, seed: int):
        return segmentation.make_fashion_canvases(split, count, size=self.options["canvas_size"],
                                                  mode=self.options["labels"], seed=seed)

    def load(self, recipe, budget, seed: int = 0) -> TaskData:
        """Canvases for each split (see ``canvas_counts``)."""
        splits = {split: self._canvases(split, count, seed)
                  for split, count in canvas_counts(recipe, budget, self.DEFAULT_CANVASES).items()}
        dataset = f"fashion_mnist_canvases_{self.options['labels']}_{self.options['canvas_size']}px"
        return TaskData(splits["train"], splits["validation"], splits["test"], self.classes, dataset)

    def model_kwargs(self, data: TaskData, recipe) -> dict:
        side = self.options["canvas_size"]
        return {"input_shape": (side, side, 1), "num_classes": len(data.classes)}

    def batches(self, model, split, batch_size: int, *, shuffle=False, seed=0, augment=(), image_size=None,
                start_epoch=0):
        if augment or image_size:
            raise ValueError("segmentation batches take no augment or image_size: a flip or a resize would have "
                             "to move the masks too. Leave them out of the recipe.")
        images, masks = split
        return pipeline.make_dataset(images, masks, batch_size, shuffle=shuffle, seed=seed, start_epoch=start_epoch)

    def load_test(self, record: dict) -> tuple:
        """The same test canvases as the run: the generator is deterministic for its settings."""
        return self._canvases("test", record["test_examples"], record["seed"])

    def compile(self, model, optimizer, *, loss_weights=None, jit_compile=False, metrics=None) -> None:
        num_classes = int(model.output_shape[-1])
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            loss_weights=check_loss_weights(model, loss_weights),
            metrics=list(metrics or ["accuracy", segmentation_metrics.SparseMeanIoU(num_classes)]),
            jit_compile=jit_compile,
        )

    def curves(self, model) -> tuple[str, ...]:
        return ("loss", "accuracy", "mean_iou")

    def evaluate(self, model, split, batch_size: int = 32) -> dict:
        """Test loss, pixel accuracy, mean IoU and per-class IoU, from one pass of predictions a
        chunk of canvases at a time (so the model need not be compiled)."""
        images, masks = split
        model = self.inference_model(model)
        num_classes = int(model.output_shape[-1])
        masks = np.asarray(masks)
        predicted = np.empty(masks.shape, dtype=np.int32)
        cross_entropy = 0.0
        for start, probabilities in predict_in_chunks(model, images, batch_size):
            stop = start + len(probabilities)
            cross_entropy += cross_entropy_sum(probabilities, masks[start:stop])
            predicted[start:stop] = np.argmax(probabilities, axis=-1)
        return {
            "test_loss": cross_entropy / masks.size,
            "test_pixel_accuracy": float(np.mean(predicted == masks)),
            "test_mean_iou": segmentation_metrics.mean_iou(masks, predicted, num_classes),
            "test_iou_per_class": [float(v) for v in segmentation_metrics.iou_per_class(masks, predicted, num_classes)],
        }

    def headline(self, result: dict) -> str:
        return f"test mean IoU {result['test_mean_iou']:.4f}, pixel accuracy {result['test_pixel_accuracy']:.4f}"

    def describe_test(self, count: int) -> str:
        return f"{count:,} test canvases of {self.options['canvas_size']} px"
