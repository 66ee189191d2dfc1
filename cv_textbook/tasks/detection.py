"""Object detection on canvases composed from real Fashion-MNIST garments: boxes and classes.

Options: ``canvas_size`` (pixels a side) and ``max_objects`` (garments per canvas, at most); see
``cv_textbook.data.detection``. Two kinds of model:

* a *localiser* (classification plus localisation of one garment per canvas, the first step of
  chapter 11), whose outputs are named after the targets they learn, so the task knows what to
  feed each: ``class`` (the garment's class, softmax) and ``box`` (its corners divided by the
  canvas side, in [0, 1]);
* a *detector* of the R-CNN family (``cv_textbook.models.rcnn``), which computes its own losses
  from all of a canvas's padded ground truth (``{"boxes", "classes", "valid"}``) and names them
  in ``loss_names``; called on images it returns ``{"boxes", "scores", "classes", "counts"}``. It
  is evaluated by Pascal VOC's mAP@0.5 and COCO's mAP@[.5:.95] (``cv_textbook.metrics``).
"""

from __future__ import annotations

import time

import keras
import numpy as np

from cv_textbook import metrics
from cv_textbook.data import detection, pipeline
from cv_textbook.detection import boxes as box_utils
from cv_textbook.tasks.base import Task, TaskData, canvas_counts, check_loss_weights, predict_in_chunks


def _class_target(targets: dict, size: int) -> np.ndarray:
    return targets["classes"][:, 0]


def _box_target(targets: dict, size: int) -> np.ndarray:
    return targets["boxes"][:, 0] / size


# output name -> (its target from the canvases' labels, its loss, its training metrics)
HEADS = {
    "class": (_class_target, "sparse_categorical_crossentropy", ["accuracy"]),
    "box": (_box_target, "huber", ["mae"]),
}


def is_detector(model) -> bool:
    """A detector computes its own losses (``loss_names``) from the whole ground truth."""
    return hasattr(model, "loss_names")


def detections_per_image(outputs: dict) -> list[tuple]:
    """A detector's padded outputs as ``metrics``' list of ``(boxes, classes, scores)``, one per image
    (``(boxes, classes, scores, masks)`` where it predicts masks)."""
    counts = np.asarray(outputs["counts"]).astype(int).reshape(-1)
    found = []
    for i, count in enumerate(counts):
        entry = (np.asarray(outputs["boxes"][i][:count], np.float64), np.asarray(outputs["classes"][i][:count], int),
                 np.asarray(outputs["scores"][i][:count], np.float64))
        found.append((*entry, np.asarray(outputs["masks"][i][:count])) if "masks" in outputs else entry)
    return found


def paste_mask(mask, box, shape) -> np.ndarray:
    """A detection's (m, m) mask probabilities resized into its box on a canvas of ``shape``: bool, at 0.5."""
    canvas = np.zeros(shape, bool)
    x1, y1, x2, y2 = (int(round(value)) for value in box)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, shape[1]), min(y2, shape[0])
    if x2 <= x1 or y2 <= y1:
        return canvas
    size = mask.shape[0]
    # Nearest cell of the mask for each pixel centre of the box.
    rows = np.minimum(((np.arange(y1, y2) + 0.5 - y1) * size / (y2 - y1)).astype(int), size - 1)
    columns = np.minimum(((np.arange(x1, x2) + 0.5 - x1) * size / (x2 - x1)).astype(int), size - 1)
    canvas[y1:y2, x1:x2] = mask[rows[:, None], columns[None, :]] >= 0.5
    return canvas


def mean_mask_iou(images, targets: dict, found: list[tuple]) -> float:
    """Mean over the real garments of the mask IoU of the best-scored detection of the right class whose box
    has IoU >= 0.5 with the garment's (0 for a garment no such detection finds). True masks: the garment's
    non-zero pixels inside its box (``data.detection.instance_masks``)."""
    ious = []
    for image, boxes, classes, valid, entry in zip(images, targets["boxes"], targets["classes"], targets["valid"],
                                                    found):
        detected_boxes, detected_classes, _, masks = entry
        pixels = image[..., 0] > 0
        for box, label in zip(boxes[valid], classes[valid]):
            x1, y1, x2, y2 = (int(value) for value in box)
            truth = np.zeros(pixels.shape, bool)
            truth[y1:y2, x1:x2] = pixels[y1:y2, x1:x2]
            best = None
            if len(detected_boxes):
                overlap = box_utils.iou_matrix(box[None], detected_boxes.astype("float32"))
                overlap = keras.ops.convert_to_numpy(overlap)[0]
                candidates = np.flatnonzero((overlap >= 0.5) & (detected_classes == label))
                best = candidates[0] if len(candidates) else None  # detections come best score first
            if best is None:
                ious.append(0.0)
                continue
            predicted = paste_mask(masks[best], detected_boxes[best], pixels.shape)
            union = (predicted | truth).sum()
            ious.append(float((predicted & truth).sum() / union) if union else 0.0)
    return float(np.mean(ious))


def ground_truth_per_image(targets: dict) -> list[tuple]:
    """The canvases' padded ground truth as ``metrics``' list of ``(boxes, classes)``, one per image."""
    return [(targets["boxes"][i][targets["valid"][i]], targets["classes"][i][targets["valid"][i]])
            for i in range(len(targets["boxes"]))]


def check_ground_truth(targets: dict, num_classes: int) -> None:
    """Padded ground truth a detector can learn: corners with x1 <= x2 and y1 <= y2, and every valid
    class in 0..num_classes-1 (a ValueError naming what is wrong otherwise)."""
    box_utils.validate_boxes(targets["boxes"], "boxes")
    valid = np.asarray(targets["valid"], bool)
    classes = np.asarray(targets["classes"])[valid]
    outside = classes[(classes < 0) | (classes >= num_classes)]
    if outside.size:
        raise ValueError(f"classes of valid boxes must be between 0 and {num_classes - 1} (the detector has "
                         f"{num_classes} classes), got {sorted(set(outside.tolist()))}; mark padding with valid=False.")


class DetectionTask(Task):
    name = "detection"
    noun = "a detector"
    plural = "detectors"
    OPTIONS = {"canvas_size": 128, "max_objects": 4}
    DEFAULT_CANVASES = 2000  # training canvases when a recipe names none

    def _canvases(self, split: str, count: int, seed: int):
        return detection.make_detection_canvases(split, count, size=self.options["canvas_size"],
                                                 max_objects=self.options["max_objects"], seed=seed)

    @staticmethod
    def _split(canvases) -> tuple:
        return canvases.images, {"boxes": canvases.boxes, "classes": canvases.classes, "valid": canvases.valid}

    def load(self, recipe, budget, seed: int = 0) -> TaskData:
        """Canvases for each split (see ``canvas_counts``)."""
        splits = {split: self._split(self._canvases(split, count, seed))
                  for split, count in canvas_counts(recipe, budget, self.DEFAULT_CANVASES).items()}
        name = f"fashion_mnist_detection_{self.options['canvas_size']}px_max{self.options['max_objects']}"
        return TaskData(splits["train"], splits["validation"], splits["test"], detection.CLASS_NAMES, name)

    def model_kwargs(self, data: TaskData, recipe) -> dict:
        side = self.options["canvas_size"]
        return {"input_shape": (side, side, 1), "num_classes": len(data.classes)}

    def _heads(self, model) -> list[str]:
        names = list(model.output_names)
        unknown = [name for name in names if name not in HEADS]
        if unknown:
            raise ValueError(f"{model.name}'s output(s) {', '.join(unknown)} learn no target the detection task "
                             f"knows; name each output after its target: {', '.join(HEADS)}.")
        if "box" in names and self.options["max_objects"] != 1:
            raise ValueError(f"{model.name} predicts one box per canvas, but the canvases hold up to "
                             f"{self.options['max_objects']} garments: use max_objects=1.")
        return names

    def targets(self, model, targets: dict) -> dict:
        """What each output of ``model`` learns, from the canvases' boxes and classes (a detector: all of them)."""
        if is_detector(model):
            return {name: targets[name] for name in ("boxes", "classes", "valid")}
        return {name: HEADS[name][0](targets, self.options["canvas_size"]) for name in self._heads(model)}

    def batches(self, model, split, batch_size: int, *, shuffle=False, seed=0, augment=(), image_size=None,
                start_epoch=0):
        if augment or image_size:
            raise ValueError("detection batches take no augment or image_size: the boxes would have to move too. "
                             "Leave them out of the recipe.")
        images, targets = split
        if is_detector(model):
            if len(images) == 0:
                raise ValueError("a detector needs at least one canvas to train on, got an empty list of images.")
            check_ground_truth(targets, model.num_classes)
            if getattr(model, "needs_proposals", False):  # R-CNN and Fast R-CNN: selective search, cached
                proposals = detection.canvas_proposals(images)
                return detection.ProposalBatches(images, proposals, self.targets(model, targets), batch_size,
                                                 shuffle=shuffle, seed=seed, start_epoch=start_epoch)
        return pipeline.make_dataset(images, self.targets(model, targets), batch_size, shuffle=shuffle, seed=seed,
                                     start_epoch=start_epoch)

    def load_test(self, record: dict) -> tuple:
        """The same test canvases as the run: the generator is deterministic for its settings."""
        return self._split(self._canvases("test", record["test_examples"], record["seed"]))

    def compile(self, model, optimizer, *, loss_weights=None, jit_compile=False, metrics=None) -> None:
        if is_detector(model):  # its compute_loss sums and logs its own losses
            if loss_weights or metrics:
                raise ValueError(f"{model.name} computes and weighs its own losses ({', '.join(model.loss_names)}): "
                                 "leave loss_weights and metrics out.")
            model.compile(optimizer=optimizer, jit_compile=jit_compile)
            return
        heads = self._heads(model)
        model.compile(
            optimizer=optimizer,
            loss={name: HEADS[name][1] for name in heads},
            loss_weights=dict(zip(heads, check_loss_weights(model, loss_weights))) if loss_weights else None,
            metrics={name: list(metrics or HEADS[name][2]) for name in heads},
            jit_compile=jit_compile,
        )

    def curves(self, model) -> tuple[str, ...]:
        if is_detector(model):
            return ("loss", *model.loss_names)
        return ("loss", *(f"{name}_loss" for name in self._heads(model)))

    def evaluate(self, model, split, batch_size: int = 64) -> dict:
        """Class accuracy, the mean IoU of the predicted box with the true one, and the share of
        canvases whose garment is found: the right class in a box of IoU >= 0.5."""
        images, targets = split
        if is_detector(model):
            return self.evaluate_detector(model, split, batch_size=min(batch_size, 16))
        heads = self._heads(model)
        size = self.options["canvas_size"]
        predicted = {name: [] for name in heads}
        for _, outputs in predict_in_chunks(model, images, batch_size):
            outputs = outputs if isinstance(outputs, dict) else dict(zip(heads, keras.tree.flatten(outputs)))
            for name in heads:
                predicted[name].append(outputs[name])
        predicted = {name: np.concatenate(values) for name, values in predicted.items()}
        result = {}
        right_class = np.ones(len(images), bool)
        if "class" in predicted:
            right_class = np.argmax(predicted["class"], axis=-1) == targets["classes"][:, 0]
            result["test_class_accuracy"] = float(np.mean(right_class))
        if "box" in predicted:
            pairs = box_utils.iou_matrix(predicted["box"][:, None] * size, targets["boxes"][:, :1])  # (N, 1, 1)
            iou = keras.ops.convert_to_numpy(pairs)[:, 0, 0]
            result["test_mean_box_iou"] = float(np.mean(iou))
            result["test_found"] = float(np.mean(right_class & (iou >= 0.5)))
        return result

    def predict_detections(self, model, images, batch_size: int = 16) -> list[tuple]:
        """A detector's ``(boxes, classes, scores)`` for each of ``images`` (uint8 canvases)."""
        if len(images) == 0:
            raise ValueError("images must hold at least one canvas to detect in, got none.")
        # No progress bar: evaluate_detector computes (and caches) the proposals of all its canvases first.
        proposals = (detection.canvas_proposals(images, progress=False) if getattr(model, "needs_proposals", False)
                     else None)
        found = []
        for start in range(0, len(images), 8 * batch_size):
            inputs = pipeline.prepare_images(images[start : start + 8 * batch_size])
            if proposals is not None:
                inputs = {"images": inputs, "proposals": proposals[start : start + 8 * batch_size]}
            found += detections_per_image(model.predict(inputs, batch_size=batch_size, verbose=0))
        return found

    @staticmethod
    def proposal_seconds_per_image(model, images, count: int = 16) -> float:
        """Seconds of selective search per canvas (0 for a detector with its own RPN), timed on the first
        ``count`` canvases without the cache."""
        if not getattr(model, "needs_proposals", False):
            return 0.0
        sample = images[:count]
        start = time.perf_counter()
        detection.canvas_proposals(sample, cache=False, progress=False)
        return (time.perf_counter() - start) / len(sample)

    def evaluate_detector(self, model, split, batch_size: int = 16) -> dict:
        """VOC mAP@0.5 (all points) and COCO mAP@[.5:.95] on the split's canvases, and the seconds per canvas."""
        images, targets = split
        if getattr(model, "needs_proposals", False):
            detection.canvas_proposals(images)  # computed once and cached; timed apart below
        self.predict_detections(model, images[:batch_size], batch_size)  # tracing: not timed
        start = time.perf_counter()
        found = self.predict_detections(model, images, batch_size)
        network_seconds = (time.perf_counter() - start) / len(images)
        proposal_seconds = self.proposal_seconds_per_image(model, images)
        truth = ground_truth_per_image(targets)
        num_classes = len(detection.CLASS_NAMES)
        masks = {"test_mask_iou": mean_mask_iou(images, targets, found)} if found and len(found[0]) == 4 else {}
        found = [entry[:3] for entry in found]
        return {
            **masks,
            "test_map_50": metrics.mean_average_precision(truth, found, 0.5, num_classes=num_classes),
            "test_coco_map": metrics.coco_mean_average_precision(truth, found, num_classes=num_classes),
            # The network's time (proposals read from the cache) plus selective search's, if it needs it.
            "test_seconds_per_image": network_seconds + proposal_seconds,
            "test_proposal_seconds_per_image": proposal_seconds,
        }

    def headline(self, result: dict) -> str:
        if "test_map_50" in result:
            masks = f", mask IoU {result['test_mask_iou']:.4f}" if "test_mask_iou" in result else ""
            return f"mAP@0.5 {result['test_map_50']:.4f}, COCO mAP@[.5:.95] {result['test_coco_map']:.4f}{masks}"
        parts = {"test_found": "garments found (class right, IoU >= 0.5)", "test_class_accuracy": "class accuracy",
                 "test_mean_box_iou": "mean box IoU"}
        return ", ".join(f"{label} {result[key]:.4f}" for key, label in parts.items() if key in result)

    def describe_test(self, count: int) -> str:
        return f"{count:,} test canvases of {self.options['canvas_size']} px"
