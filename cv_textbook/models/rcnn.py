"""Faster R-CNN (Ren et al., 2015) on the detection canvases: a classroom backbone, an RPN, RoI pooling and
Fast R-CNN's head, trained end to end.

The detector is one ``keras.Model`` made of three functional parts, each readable in ``summary()``:

* ``backbone``: a registered classifier of the book with ``include_top=False`` (by default the
  CIFAR-layout ResNet of chapter 6 at depth 8), after a 2 x 2 average pooling ("downsample"): the
  128-px canvas is read at 64 px (garments 14-28 px there, about Fashion-MNIST's own 28 px), and
  the ResNet's stride 4 makes a 16 x 16 map of stride 8 in canvas pixels, the stride that
  ``detection.CANVAS_ANCHORS`` was chosen for. (At the full 128 px ResNet-8 costs four times the
  multiply-accumulates, and its stride-4 map would need four times the anchors.)
* ``rpn``: the region proposal network, a 3 x 3 convolution ("rpn_conv") then, per anchor, one
  objectness logit ("rpn_objectness") and four deltas ("rpn_deltas"), 1 x 1 convolutions as in
  the paper (§3.1), reshaped to (anchors,) and (anchors, 4) in the order of ``detection.anchors``.
* ``head``: Fast R-CNN's head on each RoI's pooled grid: two fully connected layers ("fc6",
  "fc7", as VGG-16's), then K + 1 class logits ("cls_score", column 0 the background) and 4 K
  class-specific deltas ("bbox_pred").

Between them, in ``keras.ops``: the proposal layer (``detection.rpn_proposals``: decode, clip,
NMS at 0.7), RoI max pooling (``detection.RoIPooling``; ``roi="align"`` for RoI align), and at
test time the per-class NMS of the detections (``detection.targets.detections``).

Training is the paper's "approximate joint training" (§3.2): one loss, the sum of the RPN's two
and the head's two, with the proposals treated as constants (no gradient through their
coordinates). ``train_step`` is Keras's own; :meth:`FasterRCNN.compute_loss` computes the
targets in the graph from the batch's ground truth (``{"boxes", "classes", "valid"}``, as
``cv_textbook.data.detection`` pads them): anchor labels and sampling, RoI sampling with the
ground-truth boxes added (``detection.targets``), and logs each loss under its own name.
Called on images (``training=False``) the model returns the detections: ``{"boxes" (B, D, 4)
pixel corners, "scores" (B, D), "classes" (B, D) (-1 padding), "counts" (B,)}``.

This module imports ``cv_textbook.detection`` (another leaf: Keras and NumPy only), the one
family of ``models`` that does: the detector is built from its blocks.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from cv_textbook.checks import check_choice, check_input_shape, check_num_classes, check_positive_int
from cv_textbook.detection.anchors import CANVAS_ANCHORS, anchors
from cv_textbook.detection.losses import fast_rcnn_losses, rpn_losses
from cv_textbook.detection.roi import RoIAlign, RoIPooling
from cv_textbook.detection.rpn import rpn_proposals
from cv_textbook.detection.targets import anchor_targets, detections, roi_targets

LOSS_NAMES = ("rpn_objectness_loss", "rpn_box_loss", "detection_class_loss", "detection_box_loss")
ROI_LAYERS = {"pool": RoIPooling, "align": RoIAlign}


def classroom_backbone(input_shape=(128, 128, 1), classifier: str = "resnet_cifar", downsample: int = 2,
                       **classifier_kwargs) -> keras.Model:
    """A registered classifier's feature map (``include_top=False``), read at 1/``downsample`` of the image.

    ``classifier``: a registered model that takes ``include_top`` (default the CIFAR ResNet, with
    ``depth=8`` unless ``classifier_kwargs`` say otherwise). Output: its last feature map.
    """
    from cv_textbook import models  # the registry, a sibling module (no framework at import)

    downsample = check_positive_int("downsample", downsample)
    height, width, channels = input_shape
    if height % downsample or width % downsample:
        raise ValueError(f"input_shape sides must be multiples of downsample={downsample}, got {input_shape}.")
    kwargs = {"depth": 8, **classifier_kwargs} if classifier == "resnet_cifar" else dict(classifier_kwargs)
    classifier_model = models.build(classifier, input_shape=(height // downsample, width // downsample, channels),
                                    include_top=False, **kwargs)
    image = keras.Input(input_shape, name="image")
    x = layers.AveragePooling2D(downsample, name="downsample")(image) if downsample > 1 else image
    return keras.Model(image, classifier_model(x), name="backbone")


def region_proposal_network(feature_shape, anchors_per_position: int, channels: int = 128) -> keras.Model:
    """The RPN head (Ren et al. §3.1): features (H, W, C) -> objectness logits (H W A,) and deltas (H W A, 4)."""
    features = keras.Input(feature_shape, name="features")
    # The paper initialises the new layers from a zero-mean Gaussian of standard deviation 0.01.
    init = keras.initializers.RandomNormal(stddev=0.01)
    x = layers.Conv2D(channels, 3, padding="same", activation="relu", kernel_initializer=init, name="rpn_conv")(
        features)
    objectness = layers.Conv2D(anchors_per_position, 1, kernel_initializer=init, name="rpn_objectness")(x)
    deltas = layers.Conv2D(4 * anchors_per_position, 1, kernel_initializer=init, name="rpn_deltas")(x)
    objectness = layers.Reshape((-1,), name="rpn_objectness_flat", dtype="float32")(objectness)
    deltas = layers.Reshape((-1, 4), name="rpn_deltas_flat", dtype="float32")(deltas)
    return keras.Model(features, [objectness, deltas], name="rpn")


def fast_rcnn_head(pooled_shape, num_classes: int, units: int = 256) -> keras.Model:
    """Fast R-CNN's head (Girshick 2015, Fig. 1): pooled RoIs (R, h, w, C) -> (R, K + 1) logits, (R, 4 K) deltas."""
    pooled = keras.Input((None, *pooled_shape), name="pooled_rois")
    x = layers.Reshape((-1, int(np.prod(pooled_shape))), name="flatten")(pooled)
    x = layers.Dense(units, activation="relu", name="fc6")(x)
    x = layers.Dense(units, activation="relu", name="fc7")(x)
    # Fast R-CNN initialises the classifier with std 0.01 and the box regressor with std 0.001.
    logits = layers.Dense(num_classes + 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                          dtype="float32", name="cls_score")(x)
    deltas = layers.Dense(4 * num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
                          dtype="float32", name="bbox_pred")(x)
    return keras.Model(pooled, [logits, deltas], name="head")


@keras.saving.register_keras_serializable(package="cv_textbook")
class FasterRCNN(keras.Model):
    """Backbone, RPN, proposals, RoI pooling and head; see the module docstring. Build with :func:`faster_rcnn`."""

    def __init__(self, backbone, rpn, head, num_classes: int, anchor_sizes=CANVAS_ANCHORS["sizes"],
                 anchor_ratios=CANVAS_ANCHORS["ratios"], roi: str = "pool", pool_size: int = 7,
                 pre_nms_top_k: int = 300, train_proposals: int = 128, test_proposals: int = 100,
                 rpn_samples: int = 256, roi_samples: int = 64, nms_threshold: float = 0.5,
                 max_detections: int = 100, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.backbone, self.rpn, self.head = backbone, rpn, head
        self.num_classes = check_num_classes(num_classes)
        check_choice("roi", roi, tuple(ROI_LAYERS))
        self.image_shape = tuple(int(side) for side in backbone.input_shape[1:3])
        feature_height, feature_width = (int(side) for side in backbone.output_shape[1:3])
        self.stride = self.image_shape[0] / feature_height
        self.anchor_sizes, self.anchor_ratios = tuple(anchor_sizes), tuple(anchor_ratios)
        self.anchors = anchors((feature_height, feature_width), self.stride, self.anchor_sizes, self.anchor_ratios)
        self.roi, self.pool_size = roi, check_positive_int("pool_size", pool_size)
        self.roi_layer = ROI_LAYERS[roi](pool_size, 1.0 / self.stride, name=f"roi_{roi}")
        self.pre_nms_top_k = check_positive_int("pre_nms_top_k", pre_nms_top_k)
        self.train_proposals = check_positive_int("train_proposals", train_proposals)
        self.test_proposals = check_positive_int("test_proposals", test_proposals)
        self.rpn_samples = check_positive_int("rpn_samples", rpn_samples)
        self.roi_samples = check_positive_int("roi_samples", roi_samples)
        self.nms_threshold = float(nms_threshold)
        self.max_detections = check_positive_int("max_detections", max_detections)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="sampling_seed")
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in LOSS_NAMES]
        self.loss_names = LOSS_NAMES
        self.built = True  # every part is built already: the three functional models and their weights

    # --- the forward pass ---------------------------------------------------------------------
    def propose(self, images, training=False, proposals: int | None = None):
        """Features, RPN outputs and proposals: ``(features, objectness, deltas, proposals, valid)``."""
        features = self.backbone(images, training=training)
        objectness, deltas = self.rpn(features, training=training)
        count = proposals or (self.train_proposals if training else self.test_proposals)
        boxes, _, counts = rpn_proposals(self.anchors, ops.stop_gradient(objectness), ops.stop_gradient(deltas),
                                         self.image_shape, self.pre_nms_top_k, count, 0.7)
        valid = ops.arange(count)[None, :] < counts[:, None]
        return features, objectness, deltas, ops.stop_gradient(boxes), valid

    def detect(self, features, rois, roi_valid, training=False):
        """The head on given RoIs, then per-class NMS: the dict of detections ``call`` returns."""
        logits, deltas = self.head(self.roi_layer([features, rois]), training=training)
        boxes, scores, classes, counts = detections(
            rois, roi_valid, ops.softmax(logits, axis=-1), deltas, self.image_shape,
            iou_threshold=self.nms_threshold, max_detections=self.max_detections,
        )
        return {"boxes": boxes, "scores": scores, "classes": classes, "counts": counts}

    def call(self, images, training=False):
        features, objectness, deltas, proposals, valid = self.propose(images, training)
        if training:  # compute_loss needs these; the head runs there, on the sampled RoIs
            return {"features": features, "objectness": objectness, "deltas": deltas, "proposals": proposals,
                    "proposal_valid": valid}
        return self.detect(features, proposals, valid)

    # --- training -----------------------------------------------------------------------------
    def detection_losses(self, outputs, targets, training=True):
        """The four losses (dict by ``LOSS_NAMES``) from ``call(..., training=True)``'s outputs and the ground truth."""
        gt_boxes = ops.cast(targets["boxes"], "float32")
        valid = ops.cast(targets["valid"], "bool")
        batch = ops.shape(gt_boxes)[0]
        anchor_count, slots = self.anchors.shape[0], gt_boxes.shape[1]
        uniform = keras.random.uniform((batch, anchor_count), seed=self.seed_generator)
        labels, target_deltas = anchor_targets(self.anchors, gt_boxes, valid, uniform, num_samples=self.rpn_samples)
        objectness_loss, rpn_box_loss = rpn_losses(outputs["objectness"], outputs["deltas"], labels, target_deltas)
        uniform = keras.random.uniform((batch, outputs["proposals"].shape[1] + slots), seed=self.seed_generator)
        rois, roi_labels, roi_deltas = roi_targets(outputs["proposals"], outputs["proposal_valid"], gt_boxes,
                                                   targets["classes"], valid, uniform, num_samples=self.roi_samples)
        logits, deltas = self.head(self.roi_layer([outputs["features"], rois]), training=training)
        class_loss, box_loss = fast_rcnn_losses(logits, deltas, roi_labels, roi_deltas)
        return dict(zip(LOSS_NAMES, (objectness_loss, rpn_box_loss, class_loss, box_loss)))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not isinstance(y_pred, dict) or "features" not in y_pred:  # validation: call gave detections
            y_pred = dict(zip(("features", "objectness", "deltas", "proposals", "proposal_valid"),
                              self.propose(x, training=False, proposals=self.train_proposals)))
        losses = self.detection_losses(y_pred, y, training=training)
        for tracker in self.loss_trackers:
            tracker.update_state(losses[tracker.name])
        total = losses[LOSS_NAMES[0]] + losses[LOSS_NAMES[1]] + losses[LOSS_NAMES[2]] + losses[LOSS_NAMES[3]]
        if self.losses:  # weight decay of the backbone, if it has any
            total = total + ops.sum(ops.stack([ops.cast(loss, "float32") for loss in self.losses]))
        return total

    @property
    def input_shape(self):
        return (None, *self.image_shape, self.backbone.input_shape[-1])

    # --- saving -------------------------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "rpn": keras.saving.serialize_keras_object(self.rpn),
            "head": keras.saving.serialize_keras_object(self.head),
            "num_classes": self.num_classes, "anchor_sizes": self.anchor_sizes, "anchor_ratios": self.anchor_ratios,
            "roi": self.roi, "pool_size": self.pool_size, "pre_nms_top_k": self.pre_nms_top_k,
            "train_proposals": self.train_proposals, "test_proposals": self.test_proposals,
            "rpn_samples": self.rpn_samples, "roi_samples": self.roi_samples, "nms_threshold": self.nms_threshold,
            "max_detections": self.max_detections, "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for part in ("backbone", "rpn", "head"):
            config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)


def faster_rcnn(input_shape=(128, 128, 1), num_classes: int = 10, backbone: str = "resnet_cifar",
                backbone_kwargs: dict | None = None, downsample: int = 2, rpn_channels: int = 128,
                head_units: int = 256, roi: str = "pool", pool_size: int = 7, anchor_sizes=CANVAS_ANCHORS["sizes"],
                anchor_ratios=CANVAS_ANCHORS["ratios"], train_proposals: int = 128, test_proposals: int = 100,
                nms_threshold: float = 0.5, seed: int = 0) -> FasterRCNN:
    """Faster R-CNN (Ren et al., 2015) for the 128-px detection canvases: a classroom ResNet-8 backbone, RPN, head.

    ``backbone`` is a registered classifier taken with ``include_top=False`` (``backbone_kwargs``
    go to its builder; ResNet-8 unless a ``depth`` is given), read at 1/``downsample`` of the
    image; its feature map must divide the image evenly (stride 8 at the defaults). Anchors:
    ``detection.CANVAS_ANCHORS`` (sizes 24, 32, 44 x ratios 0.5, 1, 2: 9 per position, 2,304 on
    a 16 x 16 map). ``roi``: "pool" (Fast R-CNN's RoI max pooling) or "align" (Mask R-CNN's).
    ``train_proposals`` / ``test_proposals``: the RPN's proposals kept after NMS per image in
    training (from which 64 RoIs are sampled) and at test time (the paper: 2,000 and 300 on
    ~600-px images with ~20,000 anchors). ``nms_threshold``: the per-class NMS of the detections.
    """
    input_shape = check_input_shape(input_shape, 32, "faster_rcnn", example=(128, 128, 1))
    num_classes = check_num_classes(num_classes)
    features_model = classroom_backbone(input_shape, backbone, downsample, **(backbone_kwargs or {}))
    feature_shape = tuple(int(side) for side in features_model.output_shape[1:])
    stride = input_shape[0] / feature_shape[0]
    if stride != int(stride) or input_shape[1] / feature_shape[1] != stride:
        raise ValueError(f"the backbone's feature map {feature_shape[:2]} must divide input_shape {input_shape[:2]} "
                         "evenly: choose sides that are multiples of its stride.")
    per_position = len(anchor_sizes) * len(anchor_ratios)
    rpn = region_proposal_network(feature_shape, per_position, check_positive_int("rpn_channels", rpn_channels))
    head = fast_rcnn_head((pool_size, pool_size, feature_shape[-1]), num_classes,
                          check_positive_int("head_units", head_units))
    return FasterRCNN(features_model, rpn, head, num_classes, anchor_sizes, anchor_ratios, roi=roi,
                      pool_size=pool_size, train_proposals=train_proposals, test_proposals=test_proposals,
                      nms_threshold=nms_threshold, seed=seed, name="faster_rcnn")


__all__ = ["LOSS_NAMES", "FasterRCNN", "classroom_backbone", "fast_rcnn_head", "faster_rcnn",
           "region_proposal_network"]
