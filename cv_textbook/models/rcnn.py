"""The R-CNN family on the detection canvases: R-CNN, Fast R-CNN, Faster R-CNN and Mask R-CNN's mask branch.

The chapter's story in four builders, one ``keras.Model`` subclass each over a shared base
(:class:`RegionDetector`: RoI sampling, Fast R-CNN's loss, the detections, the logged losses):

* :func:`rcnn` (Girshick et al., 2014): selective-search proposals, each warped to 32 x 32 and read
  by its own pass of a small CNN (with a background class and box regression);
* :func:`fast_rcnn` (Girshick, 2015): the same proposals, one backbone pass per image, RoI pooling,
  the head;
* :func:`faster_rcnn` (Ren et al., 2015): the proposals from an RPN on that same feature map;
* :func:`mask_rcnn` (He et al., 2017): Faster R-CNN plus a per-class mask for each RoI (RoI align).

R-CNN and Fast R-CNN are called on ``{"images", "proposals"}`` (``data.detection.canvas_proposals``
computes and caches selective search; ``tasks.DetectionTask`` feeds them); Faster and Mask R-CNN
on images. Faster R-CNN, in detail: the detector is one ``keras.Model`` made of three functional parts, each readable in ``summary()``:

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
from cv_textbook.detection.losses import fast_rcnn_losses, mask_loss, rpn_losses
from cv_textbook.detection.roi import RoIAlign, RoIPooling, warp_regions
from cv_textbook.detection.rpn import rpn_proposals
from cv_textbook.detection.targets import anchor_targets, detections, instance_mask_targets, roi_targets

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


HEAD_LOSS_NAMES = LOSS_NAMES[2:]


def _padding_free(boxes):
    """(B, P) bool: the given proposals that are boxes, not zero-area padding rows."""
    return (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])


class RegionDetector(keras.Model):
    """What the three detectors share: RoI sampling, the head's two losses, the detections, the logs.

    A subclass says where the regions come from (``forward``: the proposals and what the head reads,
    its "source": a feature map or the images) and how a region is classified (``classify``:
    source and RoIs (B, R, 4) -> logits (B, R, K + 1) and deltas (B, R, 4 K)).
    """

    loss_names = HEAD_LOSS_NAMES
    needs_proposals = False  # True: the inputs are {"images", "proposals"} (selective search, precomputed)

    def __init__(self, num_classes: int, roi_samples: int = 64, nms_threshold: float = 0.5,
                 max_detections: int = 100, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_num_classes(num_classes)
        self.roi_samples = check_positive_int("roi_samples", roi_samples)
        self.nms_threshold = float(nms_threshold)
        self.max_detections = check_positive_int("max_detections", max_detections)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="sampling_seed")
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in self.loss_names]

    def detect(self, source, rois, roi_valid, training=False):
        """The head on given RoIs, then per-class NMS: the dict of detections ``call`` returns."""
        logits, deltas = self.classify(source, rois, training=training)
        boxes, scores, classes, counts = detections(
            rois, roi_valid, ops.softmax(logits, axis=-1), deltas, self.image_shape,
            iou_threshold=self.nms_threshold, max_detections=self.max_detections,
        )
        return {"boxes": boxes, "scores": scores, "classes": classes, "counts": counts}

    def call(self, inputs, training=False):
        outputs = self.forward(inputs, training)
        if training:  # compute_loss needs these; the head runs there, on the sampled RoIs
            return outputs
        return self.detect(outputs["source"], outputs["proposals"], outputs["proposal_valid"])

    def sample(self, outputs, targets):
        """RoIs sampled from the proposals and the ground truth: ``(rois, labels, deltas, matched)``."""
        gt_boxes = ops.cast(targets["boxes"], "float32")
        batch, slots = ops.shape(gt_boxes)[0], gt_boxes.shape[1]
        uniform = keras.random.uniform((batch, outputs["proposals"].shape[1] + slots), seed=self.seed_generator)
        return roi_targets(outputs["proposals"], outputs["proposal_valid"], gt_boxes, targets["classes"],
                           targets["valid"], uniform, num_samples=self.roi_samples, return_matches=True)

    def head_losses(self, outputs, targets, training=True, samples=None) -> dict:
        """Fast R-CNN's two losses on RoIs sampled from the proposals and the ground-truth boxes."""
        rois, labels, deltas, _ = samples if samples is not None else self.sample(outputs, targets)
        logits, predicted = self.classify(outputs["source"], rois, training=training)
        return dict(zip(HEAD_LOSS_NAMES, fast_rcnn_losses(logits, predicted, labels, deltas)))

    def detection_losses(self, outputs, targets, training=True) -> dict:
        return self.head_losses(outputs, targets, training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not isinstance(y_pred, dict) or "source" not in y_pred:  # validation: call gave detections
            y_pred = self.forward(x, training=False, for_loss=True)
        losses = self.detection_losses(y_pred, y, training=training)
        for tracker in self.loss_trackers:
            tracker.update_state(losses[tracker.name])
        total = sum(losses[name] for name in self.loss_names)
        if self.losses:  # weight decay of the backbone, if it has any
            total = total + ops.sum(ops.stack([ops.cast(loss, "float32") for loss in self.losses]))
        return total

    def get_config(self):
        return {"name": self.name, "num_classes": self.num_classes, "roi_samples": self.roi_samples,
                "nms_threshold": self.nms_threshold, "max_detections": self.max_detections, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for part in cls.PARTS:
            config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)

    def _parts_config(self) -> dict:
        return {part: keras.saving.serialize_keras_object(getattr(self, part)) for part in self.PARTS}


def _check_proposal_inputs(inputs):
    if not isinstance(inputs, dict) or set(inputs) != {"images", "proposals"}:
        raise ValueError("this detector reads given proposals: call it on {'images': (B, H, W, C), "
                         "'proposals': (B, P, 4) pixel corners, zero rows for none} (data.detection.canvas_proposals).")
    return inputs["images"], ops.cast(inputs["proposals"], "float32")


@keras.saving.register_keras_serializable(package="cv_textbook")
class FasterRCNN(RegionDetector):
    """Backbone, RPN, proposals, RoI pooling and head; see the module docstring. Build with :func:`faster_rcnn`."""

    PARTS = ("backbone", "rpn", "head")
    loss_names = LOSS_NAMES

    def __init__(self, backbone, rpn, head, num_classes: int, anchor_sizes=CANVAS_ANCHORS["sizes"],
                 anchor_ratios=CANVAS_ANCHORS["ratios"], roi: str = "pool", pool_size: int = 7,
                 pre_nms_top_k: int = 300, train_proposals: int = 128, test_proposals: int = 100,
                 rpn_samples: int = 256, **kwargs):
        super().__init__(num_classes, **kwargs)
        self.backbone, self.rpn, self.head = backbone, rpn, head
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
        self.built = True  # every part is built already: the three functional models and their weights

    def forward(self, images, training=False, for_loss=False):
        """Features, RPN outputs and proposals: ``{"source", "objectness", "deltas", "proposals", "proposal_valid"}``."""
        features = self.backbone(images, training=training)
        objectness, deltas = self.rpn(features, training=training)
        count = self.train_proposals if training or for_loss else self.test_proposals
        boxes, _, counts = rpn_proposals(self.anchors, ops.stop_gradient(objectness), ops.stop_gradient(deltas),
                                         self.image_shape, self.pre_nms_top_k, count, 0.7)
        valid = ops.arange(count)[None, :] < counts[:, None]
        return {"source": features, "objectness": objectness, "deltas": deltas,
                "proposals": ops.stop_gradient(boxes), "proposal_valid": valid}

    def classify(self, features, rois, training=False):
        return self.head(self.roi_layer([features, rois]), training=training)

    def detection_losses(self, outputs, targets, training=True, samples=None) -> dict:
        """The four losses (dict by ``LOSS_NAMES``) from ``forward``'s outputs and the ground truth."""
        gt_boxes = ops.cast(targets["boxes"], "float32")
        batch = ops.shape(gt_boxes)[0]
        uniform = keras.random.uniform((batch, self.anchors.shape[0]), seed=self.seed_generator)
        labels, target_deltas = anchor_targets(self.anchors, gt_boxes, targets["valid"], uniform,
                                               num_samples=self.rpn_samples)
        # py-faster-rcnn's RPN smooth L1 has sigma 3 (beta 1/9): linear beyond 0.11, where anchors of IoU >= 0.7
        # need their small corrections learned.
        objectness_loss, box_loss = rpn_losses(outputs["objectness"], outputs["deltas"], labels, target_deltas,
                                               beta=1 / 9)
        return {LOSS_NAMES[0]: objectness_loss, LOSS_NAMES[1]: box_loss,
                **self.head_losses(outputs, targets, training, samples)}

    @property
    def input_shape(self):
        return (None, *self.image_shape, self.backbone.input_shape[-1])

    def get_config(self):
        return {**super().get_config(), **self._parts_config(),
                "anchor_sizes": self.anchor_sizes, "anchor_ratios": self.anchor_ratios,
                "roi": self.roi, "pool_size": self.pool_size, "pre_nms_top_k": self.pre_nms_top_k,
                "train_proposals": self.train_proposals, "test_proposals": self.test_proposals,
                "rpn_samples": self.rpn_samples}


def mask_head(pooled_shape, num_classes: int, channels: int = 64) -> keras.Model:
    """Mask R-CNN's mask branch, small (He et al. 2017, Fig. 4): a RoI's 14 x 14 grid -> 28 x 28 logits per class."""
    pooled = keras.Input(pooled_shape, name="mask_rois")
    x = layers.Conv2D(channels, 3, padding="same", activation="relu", name="mask_conv1")(pooled)
    x = layers.Conv2D(channels, 3, padding="same", activation="relu", name="mask_conv2")(x)
    x = layers.Conv2DTranspose(channels, 2, strides=2, activation="relu", name="mask_deconv")(x)
    logits = layers.Conv2D(num_classes, 1, dtype="float32", name="mask_logits")(x)
    return keras.Model(pooled, logits, name="mask_head")


@keras.saving.register_keras_serializable(package="cv_textbook")
class MaskRCNN(FasterRCNN):
    """Faster R-CNN with Mask R-CNN's idea: a per-class binary mask for each RoI, read with RoI align.

    Adds ``mask_loss`` to the four; called on images, the detections carry ``"masks"`` (B, D, 28, 28):
    each detection's mask of its class, probabilities in its box's frame. Build with :func:`mask_rcnn`.
    """

    PARTS = ("backbone", "rpn", "head", "mask_head")
    loss_names = (*LOSS_NAMES, "mask_loss")

    def __init__(self, backbone, rpn, head, mask_head, num_classes: int, **kwargs):
        super().__init__(backbone, rpn, head, num_classes, **kwargs)
        self.mask_head = mask_head
        self.mask_size = int(mask_head.output_shape[1])
        self.mask_align = RoIAlign(int(mask_head.input_shape[1]), 1.0 / self.stride, name="mask_roi_align")

    def masks(self, features, rois, training=False):
        """Mask logits (B, R, m, m, K) of each RoI."""
        pooled = self.mask_align([features, rois])
        regions = rois.shape[1]
        logits = self.mask_head(ops.reshape(pooled, (-1, *pooled.shape[2:])), training=training)
        return ops.reshape(logits, (-1, regions, *logits.shape[1:]))

    def detect(self, source, rois, roi_valid, training=False):
        found = super().detect(source, rois, roi_valid, training)
        logits = self.masks(source, found["boxes"], training)
        of_class = ops.one_hot(ops.maximum(found["classes"], 0), self.num_classes)[:, :, None, None, :]
        return {**found, "masks": ops.sigmoid(ops.sum(logits * of_class, axis=-1))}

    def detection_losses(self, outputs, targets, training=True, samples=None) -> dict:
        samples = self.sample(outputs, targets)
        losses = super().detection_losses(outputs, targets, training, samples)
        rois, labels, _, matched = samples
        truth = instance_mask_targets(outputs["images"], targets["boxes"], rois, matched, self.mask_size)
        losses["mask_loss"] = mask_loss(self.masks(outputs["source"], rois, training), labels, truth)
        return losses

    def forward(self, images, training=False, for_loss=False):
        return {**super().forward(images, training, for_loss), "images": images}


@keras.saving.register_keras_serializable(package="cv_textbook")
class FastRCNN(RegionDetector):
    """Fast R-CNN (Girshick 2015): one backbone pass, given proposals RoI-pooled, the head. See :func:`fast_rcnn`."""

    PARTS = ("backbone", "head")
    needs_proposals = True

    def __init__(self, backbone, head, num_classes: int, roi: str = "pool", pool_size: int = 7, **kwargs):
        super().__init__(num_classes, **kwargs)
        self.backbone, self.head = backbone, head
        check_choice("roi", roi, tuple(ROI_LAYERS))
        self.image_shape = tuple(int(side) for side in backbone.input_shape[1:3])
        self.stride = self.image_shape[0] / int(backbone.output_shape[1])
        self.roi, self.pool_size = roi, check_positive_int("pool_size", pool_size)
        self.roi_layer = ROI_LAYERS[roi](pool_size, 1.0 / self.stride, name=f"roi_{roi}")
        self.built = True

    def forward(self, inputs, training=False, for_loss=False):
        images, proposals = _check_proposal_inputs(inputs)
        return {"source": self.backbone(images, training=training), "proposals": proposals,
                "proposal_valid": _padding_free(proposals)}

    def classify(self, features, rois, training=False):
        return self.head(self.roi_layer([features, rois]), training=training)

    @property
    def input_shape(self):
        return (None, *self.image_shape, self.backbone.input_shape[-1])

    def get_config(self):
        return {**super().get_config(), **self._parts_config(), "roi": self.roi, "pool_size": self.pool_size}


@keras.saving.register_keras_serializable(package="cv_textbook")
class RCNN(RegionDetector):
    """R-CNN (Girshick et al. 2014): every proposal warped to a fixed size and classified by a CNN. See :func:`rcnn`."""

    PARTS = ("classifier",)
    needs_proposals = True

    def __init__(self, classifier, num_classes: int, image_shape=(128, 128), context: int = 2, **kwargs):
        super().__init__(num_classes, **kwargs)
        self.classifier = classifier
        self.image_shape = tuple(int(side) for side in image_shape)
        self.warp_size = tuple(int(side) for side in classifier.input_shape[1:3])
        self.context = int(context)
        self.built = True

    def forward(self, inputs, training=False, for_loss=False):
        images, proposals = _check_proposal_inputs(inputs)
        return {"source": images, "proposals": proposals, "proposal_valid": _padding_free(proposals)}

    def classify(self, images, rois, training=False):
        regions = rois.shape[1]
        warped = warp_regions(images, rois, self.warp_size, self.context)  # (B, R, h, w, C)
        logits, deltas = self.classifier(ops.reshape(warped, (-1, *warped.shape[2:])), training=training)
        return (ops.reshape(logits, (-1, regions, self.num_classes + 1)),
                ops.reshape(deltas, (-1, regions, 4 * self.num_classes)))

    @property
    def input_shape(self):
        return (None, *self.image_shape, self.classifier.input_shape[-1])

    def get_config(self):
        return {**super().get_config(), **self._parts_config(), "image_shape": self.image_shape,
                "context": self.context}


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
    features_model, feature_shape = _feature_map(input_shape, backbone, backbone_kwargs, downsample)
    per_position = len(anchor_sizes) * len(anchor_ratios)
    rpn = region_proposal_network(feature_shape, per_position, check_positive_int("rpn_channels", rpn_channels))
    head = fast_rcnn_head((pool_size, pool_size, feature_shape[-1]), num_classes,
                          check_positive_int("head_units", head_units))
    return FasterRCNN(features_model, rpn, head, num_classes, anchor_sizes, anchor_ratios, roi=roi,
                      pool_size=pool_size, train_proposals=train_proposals, test_proposals=test_proposals,
                      nms_threshold=nms_threshold, seed=seed, name="faster_rcnn")


def mask_rcnn(input_shape=(128, 128, 1), num_classes: int = 10, backbone: str = "resnet_cifar",
              backbone_kwargs: dict | None = None, downsample: int = 2, rpn_channels: int = 128, head_units: int = 256,
              roi: str = "pool", pool_size: int = 7, anchor_sizes=CANVAS_ANCHORS["sizes"],
              anchor_ratios=CANVAS_ANCHORS["ratios"], train_proposals: int = 128, test_proposals: int = 100,
              nms_threshold: float = 0.5, mask_channels: int = 64, seed: int = 0) -> MaskRCNN:
    """Faster R-CNN (:func:`faster_rcnn`, the same arguments) plus a small mask branch on 14 x 14 RoI-aligned
    grids giving 28 x 28 masks per class (He et al., 2017), trained on the canvases' garment pixels."""
    detector = faster_rcnn(input_shape, num_classes, backbone, backbone_kwargs, downsample, rpn_channels, head_units,
                           roi, pool_size, anchor_sizes, anchor_ratios, train_proposals, test_proposals,
                           nms_threshold, seed)
    channels = int(detector.backbone.output_shape[-1])
    branch = mask_head((14, 14, channels), detector.num_classes, check_positive_int("mask_channels", mask_channels))
    config = detector.get_config()
    for part in ("backbone", "rpn", "head"):
        config[part] = getattr(detector, part)
    config.update(name="mask_rcnn", mask_head=branch)
    return MaskRCNN(**config)


def _feature_map(input_shape, backbone, backbone_kwargs, downsample):
    features_model = classroom_backbone(input_shape, backbone, downsample, **(backbone_kwargs or {}))
    feature_shape = tuple(int(side) for side in features_model.output_shape[1:])
    stride = input_shape[0] / feature_shape[0]
    if stride != int(stride) or input_shape[1] / feature_shape[1] != stride:
        raise ValueError(f"the backbone's feature map {feature_shape[:2]} must divide input_shape {input_shape[:2]} "
                         "evenly: choose sides that are multiples of its stride.")
    return features_model, feature_shape


def fast_rcnn(input_shape=(128, 128, 1), num_classes: int = 10, backbone: str = "resnet_cifar",
              backbone_kwargs: dict | None = None, downsample: int = 2, head_units: int = 256, roi: str = "pool",
              pool_size: int = 7, nms_threshold: float = 0.5, seed: int = 0) -> FastRCNN:
    """Fast R-CNN (Girshick, 2015) for the canvases: selective-search proposals, one backbone pass, RoI pooling.

    The same backbone and head as :func:`faster_rcnn`, without the RPN: called on
    ``{"images", "proposals"}``, the proposals (B, P, 4) pixel corners precomputed per canvas
    (``data.detection.canvas_proposals``, zero rows for none). One multi-task loss: the head's
    classification (K + 1 classes) and per-class box regression on 64 RoIs sampled per image.
    """
    input_shape = check_input_shape(input_shape, 32, "fast_rcnn", example=(128, 128, 1))
    num_classes = check_num_classes(num_classes)
    features_model, feature_shape = _feature_map(input_shape, backbone, backbone_kwargs, downsample)
    head = fast_rcnn_head((pool_size, pool_size, feature_shape[-1]), num_classes,
                          check_positive_int("head_units", head_units))
    return FastRCNN(features_model, head, num_classes, roi=roi, pool_size=pool_size, nms_threshold=nms_threshold,
                    seed=seed, name="fast_rcnn")


def region_classifier(warp_shape, num_classes: int, classifier: str = "resnet_cifar", **classifier_kwargs):
    """R-CNN's CNN: a warped region -> K + 1 class logits ("cls_score") and 4 K deltas ("bbox_pred").

    A registered classifier with ``include_top=False, pooling="avg"`` (ResNet-8 by default), then
    the two outputs. R-CNN trained SVMs on the CNN's features and a separate box regressor; here
    one network learns both, with Fast R-CNN's loss, so the three detectors differ only in where
    the regions come from and how they are read.
    """
    from cv_textbook import models  # the registry, a sibling module (no framework at import)

    kwargs = {"depth": 8, **classifier_kwargs} if classifier == "resnet_cifar" else dict(classifier_kwargs)
    features = models.build(classifier, input_shape=warp_shape, include_top=False, pooling="avg", **kwargs)
    region = keras.Input(warp_shape, name="warped_region")
    x = features(region)
    logits = layers.Dense(num_classes + 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                          dtype="float32", name="cls_score")(x)
    deltas = layers.Dense(4 * num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
                          dtype="float32", name="bbox_pred")(x)
    return keras.Model(region, [logits, deltas], name="region_classifier")


def rcnn(input_shape=(128, 128, 1), num_classes: int = 10, warp_size: int = 32, context: int = 2,
         classifier: str = "resnet_cifar", classifier_kwargs: dict | None = None, roi_samples: int = 32,
         nms_threshold: float = 0.5, seed: int = 0) -> RCNN:
    """R-CNN (Girshick et al., 2014) for the canvases: each selective-search proposal warped and classified.

    Called on ``{"images", "proposals"}`` like :func:`fast_rcnn`. Every region (with ``context``
    pixels of surroundings, the paper's p = 16 of 227 scaled to ``warp_size``) is stretched to
    ``warp_size`` x ``warp_size`` (``detection.warp_regions``) and read by its own pass of a small
    CNN (:func:`region_classifier`): one CNN pass per proposal, where Fast R-CNN makes one per image.
    """
    input_shape = check_input_shape(input_shape, 32, "rcnn", example=(128, 128, 1))
    num_classes = check_num_classes(num_classes)
    warp_size = check_positive_int("warp_size", warp_size)
    network = region_classifier((warp_size, warp_size, input_shape[-1]), num_classes, classifier,
                                **(classifier_kwargs or {}))
    return RCNN(network, num_classes, input_shape[:2], context=context, roi_samples=roi_samples,
                nms_threshold=nms_threshold, seed=seed, name="rcnn")


__all__ = [
    "LOSS_NAMES",
    "RCNN",
    "FastRCNN",
    "FasterRCNN",
    "MaskRCNN",
    "RegionDetector",
    "classroom_backbone",
    "fast_rcnn",
    "fast_rcnn_head",
    "faster_rcnn",
    "mask_head",
    "mask_rcnn",
    "rcnn",
    "region_classifier",
    "region_proposal_network",
]
