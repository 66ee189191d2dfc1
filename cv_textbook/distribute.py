"""Training on more than one device: the ``tf.distribute`` strategy a run should use.

``choose_strategy()`` looks at what this process can see and picks:

* ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` is set (each worker of the cluster runs
  the same command; gradients are summed across all of them after every step). Keras 3.15 with
  TensorFlow 2.21 cannot yet run ``model.fit`` across two or more workers (it fails before the
  first step: keras-team/keras#20585), so a cluster of several workers is refused with a clear
  message; a one-worker ``TF_CONFIG`` trains;
* ``MirroredStrategy`` when there is more than one GPU, or more than one logical CPU device
  (``tf.config.set_logical_device_configuration``: how the tests split one CPU in two): one copy
  of the model per device, each step's batch split between them, gradients summed;
* ``None`` otherwise: TensorFlow's default strategy, one device, nothing to do.

Build *and* compile the model inside ``scope(strategy)`` (its variables, the optimizer's and the
metrics' are created there) and give ``fit`` the global batch, the per-replica batch times
``strategy.num_replicas_in_sync``. ``cv_textbook.train.run_experiment`` does both.

TensorFlow backend only: on JAX, distribute with ``keras.distribution`` (``DataParallel``)
instead; ``choose_strategy()`` returns None there.
"""

from __future__ import annotations

import contextlib
import json
import os

import keras

# TensorFlow is imported inside the functions that need tf.distribute: on other backends it is
# never loaded.

TF_CONFIG_ENV = "TF_CONFIG"


def choose_strategy():
    """The ``tf.distribute`` strategy for this process's devices, or None for one device.

    Call it after ``device.configure_gpus()`` (it initialises TensorFlow's devices) and, with
    ``TF_CONFIG`` set, before any other TensorFlow work: a multi-worker strategy must be created
    at the start of the program.
    """
    if keras.backend.backend() != "tensorflow":
        return None  # JAX: keras.distribution; PyTorch: torch.distributed
    import tensorflow as tf

    if os.environ.get(TF_CONFIG_ENV, "").strip():
        workers = cluster_workers()
        if workers > 1:
            raise ValueError(
                f"TF_CONFIG describes a cluster of {workers} workers, but Keras {keras.__version__} cannot train "
                f"across machines with tf.distribute.MultiWorkerMirroredStrategy yet (model.fit fails before its "
                f"first step: https://github.com/keras-team/keras/issues/20585); unset TF_CONFIG to train on this "
                f"machine's devices."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    if not gpus and len(cpus) > 1:
        return tf.distribute.MirroredStrategy([cpu.name for cpu in cpus])
    return None


def cluster_workers() -> int:
    """How many workers (the chief included) the ``TF_CONFIG`` cluster has; 0 without one."""
    text = os.environ.get(TF_CONFIG_ENV, "").strip()
    if not text:
        return 0
    try:
        cluster = json.loads(text).get("cluster", {})
    except (ValueError, AttributeError):
        raise ValueError(f"TF_CONFIG must be a JSON object with a 'cluster' entry, got {text!r}.") from None
    return sum(len(cluster.get(role, [])) for role in ("chief", "worker"))


def replicas(strategy) -> int:
    """How many copies of the model train in step: 1 without a strategy."""
    return int(strategy.num_replicas_in_sync) if strategy is not None else 1


def in_strategy_scope() -> bool:
    """True inside a ``tf.distribute`` strategy's scope (never on other backends)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy()


def scope(strategy):
    """``strategy.scope()``, or a block that does nothing when ``strategy`` is None."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def even_split(split, replicas: int):
    """The first examples of an ``(inputs, targets)`` split (targets an array or a dict of arrays),
    as many as the largest multiple of ``replicas`` (at most ``replicas - 1`` dropped).

    Keras 3 (3.15) cannot start ``fit`` or ``evaluate`` under a strategy when the first batch
    splits unevenly between the replicas, which happens when a whole set is smaller than one
    global batch (a small validation set in smoke mode, say). Later, partial batches are fine.
    """
    count = len(split[0])
    keep = count - count % replicas
    return keras.tree.map_structure(lambda array: array[:keep], split)
