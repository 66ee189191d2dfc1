"""The losses of the R-CNN family: smooth L1, the RPN's two losses and Fast R-CNN's multi-task loss.

Written in ``keras.ops`` (Keras has a Huber loss, which is smooth L1 only for ``delta=1`` and
averages where these papers sum over the four coordinates, and nothing for the ignored anchors
and the per-class box outputs). Labels follow ``sampling``'s conventions: anchors 1 positive, 0
negative, -1 not sampled; RoIs 0 background, 1..K the classes (class + 1), -1 not sampled.

Normalisation, the paper's balance: each loss is divided by the number of *sampled* anchors or
RoIs of the batch (Ren et al. 2015, eq. 1 divides the box loss by ~2,400 anchor positions with
lambda = 10, about the same as dividing by the 256 sampled anchors with lambda = 1, Detectron's
choice); a box loss sums smooth L1 over the four coordinates of the positives only.
"""

from __future__ import annotations

from keras import ops

from cv_textbook.checks import check_number


def smooth_l1(x, beta: float = 1.0):
    """Elementwise smooth L1 (Girshick 2015, eq. 3): ``0.5 x**2 / beta`` where ``|x| < beta``, else
    ``|x| - 0.5 beta``. ``beta=1`` is Fast R-CNN's; py-faster-rcnn's RPN used ``beta = 1/9`` (sigma 3)."""
    beta = check_number("beta", beta)
    if beta <= 0:
        raise ValueError(f"beta must be positive (Fast R-CNN: 1.0), got {beta}.")
    magnitude = ops.abs(x)
    return ops.where(magnitude < beta, 0.5 * ops.square(x) / beta, magnitude - 0.5 * beta)


def _sampled_count(labels):
    return ops.maximum(ops.sum(ops.cast(labels >= 0, "float32")), 1.0)


def rpn_losses(objectness_logits, deltas, labels, target_deltas, beta: float = 1.0):
    """The RPN's ``(objectness loss, box loss)`` over a batch, two scalars.

    ``objectness_logits`` (..., A) logits of "object"; ``deltas`` and ``target_deltas`` (..., A, 4);
    ``labels`` (..., A): 1 / 0 sampled positives and negatives, -1 the rest (left out). Objectness:
    binary cross-entropy averaged over the sampled anchors; box: smooth L1 summed over the
    positives' four deltas, divided by the number of sampled anchors.
    """
    labels = ops.cast(labels, "int32")
    logits = ops.cast(objectness_logits, "float32")
    sampled = ops.cast(labels >= 0, "float32")
    positive = ops.cast(labels == 1, "float32")
    count = _sampled_count(labels)
    # log(1 + exp(-|z|)) + max(z, 0) - z * y: the numerically safe cross-entropy of a logit
    cross_entropy = ops.softplus(-ops.abs(logits)) + ops.maximum(logits, 0.0) - logits * positive
    objectness = ops.sum(cross_entropy * sampled) / count
    box_error = ops.sum(smooth_l1(ops.cast(deltas, "float32") - ops.cast(target_deltas, "float32"), beta), axis=-1)
    return objectness, ops.sum(box_error * positive) / count


def fast_rcnn_losses(class_logits, box_deltas, labels, target_deltas, beta: float = 1.0):
    """Fast R-CNN's ``(classification loss, box loss)`` (Girshick 2015, eq. 1), two scalars.

    ``class_logits`` (..., R, K + 1), column 0 the background; ``box_deltas`` (..., R, 4 K): the
    (tx, ty, tw, th) of each of the K classes in turn; ``labels`` (..., R): 0 background, 1..K a
    class, -1 not a sample; ``target_deltas`` (..., R, 4). Classification: softmax cross-entropy
    averaged over the samples; box: smooth L1 of the *labelled class's* four deltas against the
    target, summed over the foreground RoIs (``[u >= 1]`` in eq. 1), divided by the samples.
    """
    labels = ops.cast(labels, "int32")
    logits = ops.cast(class_logits, "float32")
    num_classes = logits.shape[-1] - 1
    sampled = ops.cast(labels >= 0, "float32")
    count = _sampled_count(labels)
    log_probabilities = ops.log_softmax(logits, axis=-1)
    truth = ops.one_hot(ops.maximum(labels, 0), num_classes + 1)
    classification = -ops.sum(ops.sum(log_probabilities * truth, axis=-1) * sampled) / count
    per_class = ops.reshape(ops.cast(box_deltas, "float32"), (*ops.shape(box_deltas)[:-1], num_classes, 4))
    foreground = ops.cast(labels >= 1, "float32")
    of_label = ops.sum(per_class * ops.one_hot(ops.maximum(labels - 1, 0), num_classes)[..., None], axis=-2)
    box_error = ops.sum(smooth_l1(of_label - ops.cast(target_deltas, "float32"), beta), axis=-1)
    return classification, ops.sum(box_error * foreground) / count


def mask_loss(mask_logits, labels, target_masks):
    """Mask R-CNN's mask loss (He et al. 2017, §3): per-pixel sigmoid cross-entropy of the *labelled class's* mask.

    ``mask_logits`` (..., R, m, m, K), ``labels`` (..., R) (1..K foreground; background and -1 add
    nothing), ``target_masks`` (..., R, m, m) in {0, 1}. Averaged over the pixels of the
    foreground RoIs: the K masks do not compete, so a mask never learns the other classes' shapes.
    """
    labels = ops.cast(labels, "int32")
    logits = ops.cast(mask_logits, "float32")
    num_classes = logits.shape[-1]
    of_label = ops.sum(logits * ops.one_hot(ops.maximum(labels - 1, 0), num_classes)[..., None, None, :], axis=-1)
    target = ops.cast(target_masks, "float32")
    cross_entropy = ops.softplus(-ops.abs(of_label)) + ops.maximum(of_label, 0.0) - of_label * target
    foreground = ops.cast(labels >= 1, "float32")[..., None, None]
    pixels = ops.maximum(ops.sum(foreground) * logits.shape[-2] * logits.shape[-3], 1.0)
    return ops.sum(cross_entropy * foreground) / pixels


__all__ = ["fast_rcnn_losses", "mask_loss", "rpn_losses", "smooth_l1"]
