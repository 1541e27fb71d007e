"""Backends and accelerators: devices, mixed precision, XLA, multi-device training, throughput.

The same course code runs with ``KERAS_BACKEND=tensorflow``, ``jax`` or ``torch``
and on a CPU laptop or a GPU server. These helpers find out what the machine
can do and *fall back with one clear line* where it cannot (mixed precision
on a CPU, several GPUs on a one-GPU box), so a lesson never crashes on
hardware it did not expect.

Nothing heavy is imported at module level: TensorFlow, JAX, PyTorch and Keras
are imported inside the functions that need them.

Used in lesson 08 and by ``benchmarks/bench_throughput.py``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import sys

from medlearn.config import ConfigError
from medlearn.throughput import measure_input, measure_throughput  # re-exported: part of this API

__all__ = [
    "Device",
    "Distribution",
    "backend_name",
    "devices",
    "use_mixed_precision",
    "distribution",
    "compile_options",
    "measure_throughput",
    "measure_input",
]

_POLICIES = ("auto", "mixed_float16", "mixed_bfloat16")
_STRATEGIES = ("auto", "none", "mirrored", "data_parallel")


def _say(message: str, verbose: bool = True) -> None:
    """Print one line, prefixed so it is clear who speaks."""
    if verbose:
        print(f"medlearn: {message}", file=sys.stdout, flush=True)


@dataclasses.dataclass(frozen=True)
class Device:
    """One compute device as a backend sees it.

    Attributes:
        backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``.
        kind: ``"GPU"``, ``"TPU"`` or ``"CPU"``.
        name: the framework's name, e.g. ``"/physical_device:GPU:0"`` or ``"cuda:0"``.
        description: the model, e.g. ``"NVIDIA H100 80GB HBM3"`` (empty when unknown).
        compute_capability: ``(major, minor)`` for NVIDIA GPUs, else ``None``.
    """

    backend: str
    kind: str
    name: str
    description: str = ""
    compute_capability: tuple | None = None


def backend_name() -> str:
    """The Keras backend in use (``"tensorflow"``, ``"jax"`` or ``"torch"``); imports Keras."""
    import keras

    return keras.config.backend()


def _cc(value) -> tuple | None:
    """Parse a compute capability given as ``(8, 0)``, ``"8.0"`` or ``None``."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            major, minor = value.split(".")[:2]
            return int(major), int(minor)
        except ValueError:
            return None
    return tuple(int(v) for v in value)[:2]


def _probe_tensorflow() -> list:
    import tensorflow as tf

    found = []
    for kind in ("GPU", "TPU"):
        for dev in tf.config.list_physical_devices(kind):
            details = {}
            if kind == "GPU":
                try:
                    details = tf.config.experimental.get_device_details(dev)
                except (ValueError, RuntimeError):  # details are optional
                    details = {}
            found.append(Device("tensorflow", kind, dev.name, details.get("device_name", ""),
                                _cc(details.get("compute_capability"))))
    return found


def _probe_jax() -> list:
    import jax

    found = []
    for dev in jax.devices():
        if dev.platform == "cpu":
            continue
        kind = "TPU" if dev.platform == "tpu" else "GPU"
        found.append(Device("jax", kind, f"{dev.platform}:{dev.id}", getattr(dev, "device_kind", ""),
                            _cc(getattr(dev, "compute_capability", None))))
    return found


def _probe_torch() -> list:
    import torch

    found = [Device("torch", "GPU", f"cuda:{i}", torch.cuda.get_device_name(i),
                    _cc(torch.cuda.get_device_capability(i)))
             for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if not found and mps is not None and mps.is_available():
        found.append(Device("torch", "GPU", "mps", "Apple Metal (MPS)"))
    return found


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken or deliberately hidden package
        return False


_PROBES = {"tensorflow": _probe_tensorflow, "jax": _probe_jax, "torch": _probe_torch}


def devices(backend: str | None = None, *, include_cpu: bool = False) -> list:
    """List the accelerators (GPUs, TPUs) a backend can use.

    Args:
        backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``; default: the Keras backend in use.
        include_cpu: also list the host CPU (last), so the list is never empty.

    Returns:
        A list of :class:`Device`, accelerators first. A framework that is not
        installed, or whose GPU runtime is broken, contributes no accelerator.

    Raises:
        ConfigError: ``backend`` is not one of the three Keras backends.

    Example:
        >>> [d.kind for d in devices("jax", include_cpu=True)]   # doctest: +SKIP
        ['CPU']
    """
    backend = backend or backend_name()
    if backend not in _PROBES:
        raise ConfigError(f"backend must be one of {sorted(_PROBES)}. Received: backend={backend!r}")
    found = []
    if _installed(backend):
        try:
            found = list(_PROBES[backend]())
        except Exception as exc:  # a broken CUDA install must never stop a lesson
            _say(f"{backend} could not list its devices ({type(exc).__name__}: {exc}); using the CPU.")
    if include_cpu:
        found.append(Device(backend, "CPU", "cpu:0", "host CPU"))
    return found


def use_mixed_precision(enable: bool = True, *, policy: str = "auto", force: bool = False,
                        verbose: bool = True) -> str:
    """Switch Keras to mixed precision where the hardware gains from it; return the policy in force.

    Mixed precision computes in 16-bit floats (twice the arithmetic throughput on
    tensor cores, half the activation memory) while the weights stay float32.
    On a CPU it is usually slower, so without an accelerator this keeps ``float32``
    and says so in one line. Models must keep their output layer in float32
    (``Dense(..., dtype="float32")``): a float16 sigmoid/softmax rounds 0.9999 to 1.

    Args:
        enable: False sets the plain ``"float32"`` policy.
        policy: ``"auto"`` (``mixed_float16`` on NVIDIA GPUs, ``mixed_bfloat16`` on TPUs),
            ``"mixed_float16"`` or ``"mixed_bfloat16"`` (needs compute capability >= 8.0 on GPUs).
        force: set the mixed policy even without an accelerator (for demonstrations
            and CPU benchmarks; expect it to be slower).
        verbose: print the one-line explanation when falling back.

    Returns:
        The global dtype policy now in force: ``"float32"``, ``"mixed_float16"`` or ``"mixed_bfloat16"``.

    Raises:
        ConfigError: ``policy`` is not one of the names above.

    Example:
        >>> use_mixed_precision()                 # doctest: +SKIP  (on a laptop)
        medlearn: no GPU or TPU found: keeping float32 (mixed precision is made for GPU tensor cores ...
        'float32'
    """
    import keras

    if policy not in _POLICIES:
        raise ConfigError(f"policy must be one of {list(_POLICIES)}. Received: policy={policy!r}")
    chosen = "float32"
    if enable:
        accel = devices()
        if not accel and not force:
            _say("no GPU or TPU found: keeping float32 (mixed precision is made for GPU tensor cores "
                 "and TPUs; on most CPUs it is slower; force=True measures it anyway).", verbose)
        elif not accel:
            chosen = "mixed_bfloat16" if policy == "auto" else policy
        elif any(d.kind == "TPU" for d in accel):
            chosen = "mixed_bfloat16" if policy == "auto" else policy
        else:
            ccs = [d.compute_capability for d in accel if d.compute_capability]
            cc = min(ccs) if ccs else None
            chosen = "mixed_float16" if policy == "auto" else policy
            if cc is not None and cc < (7, 0) and not force:
                _say(f"{accel[0].description or accel[0].name} (compute capability {cc[0]}.{cc[1]}) has no "
                     "tensor cores, so float16 gives no speed-up; keeping float32.", verbose)
                chosen = "float32"
            elif chosen == "mixed_bfloat16" and cc is not None and cc < (8, 0) and not force:
                _say(f"bfloat16 needs compute capability 8.0 or newer (found {cc[0]}.{cc[1]}); "
                     "using mixed_float16 instead.", verbose)
                chosen = "mixed_float16"
    keras.mixed_precision.set_dtype_policy(chosen)
    return chosen


@dataclasses.dataclass
class Distribution:
    """A data-parallel plan: a context manager to build, compile and fit the model in.

    Attributes:
        name: ``"mirrored"`` (tf.distribute.MirroredStrategy), ``"data_parallel"``
            (keras.distribution.DataParallel, JAX) or ``"none"``.
        replicas: how many copies of the model train side by side (1 for ``"none"``).
        devices: the device names used.
        strategy: the framework object (``None`` for ``"none"``).
    """

    name: str
    replicas: int = 1
    devices: tuple = ()
    strategy: object = None
    _stack: list = dataclasses.field(default_factory=list, repr=False)

    def scope(self):
        """The framework's scope (a no-op context for ``"none"``)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def global_batch(self, per_replica: int) -> int:
        """The batch size to feed: each replica receives ``per_replica`` images per step."""
        return int(per_replica) * self.replicas

    def __enter__(self):
        scope = self.scope()
        scope.__enter__()
        self._stack.append(scope)
        return self

    def __exit__(self, *exc):
        return self._stack.pop().__exit__(*exc)


def distribution(strategy: str = "auto", *, device_names: list | None = None, verbose: bool = True) -> Distribution:
    """Plan data-parallel training across the devices available, or say why not.

    Data parallelism keeps one copy of the model per device, splits each
    global batch between them and averages the gradients, so ``N`` GPUs see
    ``N`` times the images per step.

    Args:
        strategy: ``"auto"`` (MirroredStrategy on TensorFlow with 2+ GPUs,
            DataParallel on JAX with 2+ accelerators, otherwise none),
            ``"mirrored"``, ``"data_parallel"`` or ``"none"``.
        device_names: device names to use instead of the accelerators found, e.g.
            ``["/cpu:0", "/cpu:1"]`` (TensorFlow logical CPUs) to try the API on a laptop.
            For ``"data_parallel"`` the default is every JAX device, CPUs included.
        verbose: print the one-line explanation when falling back.

    Returns:
        A :class:`Distribution`; use it as ``with dist: model = ...; model.compile(...); model.fit(...)``.
        When the hardware or backend cannot do what was asked it is a no-op plan
        (``name == "none"``, one replica) and one line says why.

    Raises:
        ConfigError: ``strategy`` is not one of the names above.
    """
    if strategy not in _STRATEGIES:
        raise ConfigError(f"strategy must be one of {list(_STRATEGIES)}. Received: strategy={strategy!r}")
    backend = backend_name()
    none = Distribution("none", 1, ("default",))
    if strategy == "none":
        return none
    if strategy == "auto":
        accel = [d for d in devices(backend) if d.kind in ("GPU", "TPU")]
        if len(accel) < 2:
            where = f"one {accel[0].kind}" if accel else "CPU only"
            _say(f"{where} ({backend}): training runs on one device without distribution; "
                 "the same code spreads over several GPUs when they exist.", verbose)
            return none
        strategy = {"tensorflow": "mirrored", "jax": "data_parallel"}.get(backend, "")
        if not strategy:
            _say(f"{len(accel)} GPUs found, but Keras on {backend} has no built-in data parallelism "
                 "(PyTorch needs torchrun + DDP); training on one device.", verbose)
            return none
    if strategy == "mirrored":
        if backend != "tensorflow":
            _say(f"MirroredStrategy belongs to TensorFlow but the Keras backend is {backend}; "
                 "use strategy='data_parallel' on JAX. Training on one device.", verbose)
            return none
        import tensorflow as tf

        names = list(device_names) if device_names else [d.name.replace("physical_device:", "")
                                                 for d in devices("tensorflow") if d.kind == "GPU"]
        if len(names) < 2:
            _say(f"MirroredStrategy needs 2 or more devices, found {len(names)}; training on one device.", verbose)
            return none
        strat = tf.distribute.MirroredStrategy(devices=names)
        return Distribution("mirrored", strat.num_replicas_in_sync, tuple(names), strat)
    # data_parallel
    if backend != "jax":
        _say(f"keras.distribution.DataParallel runs on the JAX backend only (backend is {backend}); "
             "training on one device.", verbose)
        return none
    import keras

    names = list(device_names) if device_names else keras.distribution.list_devices()
    if len(names) < 2:
        _say(f"DataParallel needs 2 or more devices, found {len(names)}; training on one device.", verbose)
        return none
    dist = keras.distribution.DataParallel(devices=names)
    return Distribution("data_parallel", len(names), tuple(str(n) for n in names), dist)


def compile_options(xla="auto", *, verbose: bool = True) -> dict:
    """Keyword arguments for ``model.compile`` that switch XLA compilation on or off.

    XLA fuses the many small operations of a training step into a few
    compiled kernels (less memory traffic, fewer kernel launches). On
    TensorFlow it is ``jit_compile=True``; JAX always compiles with XLA;
    PyTorch has no XLA (``jit_compile=True`` there means ``torch.compile``,
    which medlearn leaves off). Keras ignores ``jit_compile=True`` on TensorFlow
    while op determinism is on (``medlearn.setup`` turns it on), so asking for
    XLA there turns determinism off, with one line.

    Args:
        xla: ``True``, ``False`` or ``"auto"`` (Keras decides: XLA on JAX, and on
            TensorFlow where the model supports it).
        verbose: print one line when the request cannot be honoured.

    Returns:
        ``{"jit_compile": True | False | "auto"}``, e.g. ``model.compile(..., **compile_options(True))``.

    Raises:
        ConfigError: ``xla`` is not True, False or "auto".
    """
    if not (xla is True or xla is False or (isinstance(xla, str) and xla == "auto")):
        raise ConfigError(f"xla must be True, False or 'auto'. Received: xla={xla!r}")
    backend = backend_name()
    if backend == "torch" and xla is True:
        _say("the torch backend has no XLA; keeping jit_compile=False.", verbose)
        return {"jit_compile": False}
    if backend == "jax" and xla is False:
        _say("on JAX every training step is XLA-compiled; jit_compile=False runs it op by op "
             "(for debugging; much slower).", verbose)
    if backend == "tensorflow" and xla is True and _tf_determinism_on():
        _say("op determinism is on (medlearn.setup), and Keras then silently drops jit_compile=True; "
             "turning determinism off so XLA really runs.", verbose)
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()
    return {"jit_compile": xla}


def _tf_determinism_on() -> bool:
    try:
        from tensorflow.python.framework.config import is_op_determinism_enabled
    except ImportError:  # a TensorFlow without the switch
        return False
    return bool(is_op_determinism_enabled())
