"""What hardware this run has, and the training settings that suit it.

``training_setup()`` looks once and returns a plain ``TrainingSetup``; nothing here changes
global state except ``configure_gpus()`` (memory growth, which TensorFlow only accepts before
the GPUs are first used) and ``precision_scope()``, a ``with`` block that restores the Keras
dtype policy it found.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import subprocess

import keras

from cv_textbook.quiet import native_stderr_silenced

# TensorFlow, JAX and PyTorch are imported inside the functions that ask them about GPUs: only the
# backend in use is loaded (JAX and PyTorch are not even installed for students).


@dataclasses.dataclass(frozen=True)
class TrainingSetup:
    """Settings for one training run, chosen for the device it runs on."""

    device: str  # "gpu" or "cpu"
    description: str  # for people and metrics files, e.g. "CPU: AMD EPYC (2 cores)"
    gpus: int
    precision: str  # a Keras dtype policy name: "float32", "mixed_float16", ...
    jit_compile: bool


def _tensorflow_gpus() -> list[tuple[str, dict]]:
    """(name, details) of each GPU TensorFlow sees; details hold ``compute_capability`` on CUDA."""
    import tensorflow as tf

    # On a machine without CUDA, TensorFlow logs a harmless "failed call to cuInit" here.
    with native_stderr_silenced():
        gpus = tf.config.list_physical_devices("GPU")
    return [(gpu.name, tf.config.experimental.get_device_details(gpu)) for gpu in gpus]


def _jax_gpus() -> list:
    import jax

    return [d for d in jax.devices() if d.platform == "gpu"]


def visible_gpus() -> list[str]:
    """Names of the GPUs the current Keras backend can use (empty on a CPU-only machine)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return [details.get("device_name", name) for name, details in _tensorflow_gpus()]
    if backend == "jax":
        return [getattr(d, "device_kind", str(d)) for d in _jax_gpus()]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def gpu_compute_capability() -> tuple[int, int] | None:
    """The CUDA compute capability of the first GPU, e.g. ``(9, 0)`` for an H100; None when there
    is no GPU or the backend does not say (AMD and Apple GPUs)."""
    backend = keras.backend.backend()
    capability = None
    try:
        if backend == "tensorflow":
            gpus = _tensorflow_gpus()
            if gpus:
                capability = gpus[0][1].get("compute_capability")
        elif backend == "jax":
            gpus = _jax_gpus()
            if gpus:
                capability = getattr(gpus[0], "compute_capability", None)  # a string such as "9.0"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                capability = torch.cuda.get_device_capability(0)
    except (RuntimeError, ValueError, AttributeError):
        return None
    if isinstance(capability, str):
        capability = tuple(int(part) for part in capability.split(".")[:2])
    return tuple(capability) if capability else None


# Volta (V100, compute capability 7.0) and every NVIDIA GPU since (T4, A100, H100, RTX cards)
# have tensor cores: float16 matrix units that make mixed_float16 pay. Older GPUs (K80, P100)
# compute float16 no faster than float32, and mixed precision only costs them casts.
TENSOR_CORE_CAPABILITY = (7, 0)


def gpu_has_tensor_cores(capability: tuple[int, int] | None) -> bool:
    """True for a GPU of compute capability 7.0 or newer, and for one that does not report it
    (AMD and Apple GPUs compute float16 fast too)."""
    return capability is None or tuple(capability) >= TENSOR_CORE_CAPABILITY


def cpu_name() -> str:
    """The processor's model name (Linux /proc/cpuinfo, else the platform's answer)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def configure_gpus() -> None:
    """Let TensorFlow take GPU memory as it needs it instead of all at once.

    Safe to call more than once; ignored once the GPUs are in use (TensorFlow forbids it then).
    """
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialised: the setting can no longer change


BFLOAT16 = "mixed_bfloat16"


def cpu_supports_bfloat16(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool:
    """True when the CPU computes in bfloat16 natively: the x86 flags ``avx512_bf16`` or
    ``amx_bf16``, or the Arm feature ``bf16`` (Linux ``/proc/cpuinfo``; macOS ``sysctl``).

    Without such instructions bfloat16 is emulated and slower than float32.
    """
    try:
        with open(cpuinfo) as stream:
            text = stream.read()
    except OSError:
        text = ""
    features = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in {"flags", "features"}:
            features.update(value.split())
    if features:
        return bool(features & {"avx512_bf16", "amx_bf16", "bf16"})
    if platform.system() == "Darwin":
        try:
            answer = subprocess.run(
                ["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True, timeout=5
            )
            return answer.stdout.strip() == "1"
        except (OSError, subprocess.SubprocessError):
            return False
    return False


def training_setup(
    precision: str | None = None, jit_compile: bool | None = None, bfloat16_on_cpu: bool = False
) -> TrainingSetup:
    """Choose settings for this machine; pass ``precision`` or ``jit_compile`` to override.

    GPU: XLA, and mixed float16 (the model's output layer stays float32) on GPUs with tensor
    cores; float32 on older ones. ``train.compile_model`` leaves XLA off under a ``tf.distribute``
    strategy, where Keras cannot compile the training step.
    CPU: no XLA — it made CPU training about 3× slower here. float32, unless ``bfloat16_on_cpu``
    (a recipe's choice, made by measurement with ``python -m cv_textbook bench``) and the CPU
    computes bfloat16 natively: then ``mixed_bfloat16``, the output layer still float32.
    """
    gpus = visible_gpus()
    if gpus:
        capability = gpu_compute_capability()
        known = f", compute capability {capability[0]}.{capability[1]}" if capability else ""
        return TrainingSetup(
            device="gpu",
            description=f"GPU: {len(gpus)} × {gpus[0]}{known}",
            gpus=len(gpus),
            precision=precision or ("mixed_float16" if gpu_has_tensor_cores(capability) else "float32"),
            jit_compile=True if jit_compile is None else jit_compile,
        )
    return TrainingSetup(
        device="cpu",
        description=f"CPU: {cpu_name()} ({os.cpu_count()} cores)",
        gpus=0,
        precision=precision or (BFLOAT16 if bfloat16_on_cpu and cpu_supports_bfloat16() else "float32"),
        jit_compile=False if jit_compile is None else jit_compile,
    )


@contextlib.contextmanager
def precision_scope(policy: str):
    """Build models inside this block to give their layers the dtype ``policy``."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
