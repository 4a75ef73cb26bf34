"""The numeric precision of the deep training loops: ``fp32`` (default), ``tf32``, ``bf16``.

The workflow's top-level config key ``precision`` reaches every deep estimator
as its ``precision`` parameter (set by the workflow like ``device``, never per
method).  Every training loop (autoencoder pretraining, DEC, IDEC, JECL, DKM,
DCN, IMSAT, DM2C, JULE's CNN, VSE and CCAL) runs its forward passes through one
:class:`Precision` and its backward passes through :meth:`Precision.backward`:

``fp32``
    Nothing changes: no autocast context is entered and no global flag is
    touched, so a run is bit-identical to one without the key (and the same
    seed gives the same numbers on the CPU).  PyTorch's own defaults stay in
    force: full float32 matmuls, and on CUDA cuDNN convolutions (JULE's CNN
    only) that may use TensorFloat-32 on Ampere and later GPUs.
``tf32``
    On CUDA, float32 matmuls (cuBLAS) and cuDNN convolutions may use
    TensorFloat-32 (inputs rounded to a 10-bit mantissa, float32
    accumulation) during the estimator's forward and backward passes; the
    global flags are restored after each pass, so nothing leaks into other
    code.  Everything stays float32 in memory.  On the CPU it has no effect
    (the log says so) and a run equals its fp32 run exactly.  Only the CUDA
    flags are set: :func:`torch.set_float32_matmul_precision` would also let
    oneDNN lower the precision of CPU matmuls.
``bf16``
    The forward passes of training and of encoding (target refreshes, k-means
    initialisation, ``embedding_``, ``transform``, ``predict``) run under
    ``torch.autocast(device_type, dtype=torch.bfloat16)``: linear layers,
    convolutions and matmuls compute in bfloat16 (8-bit mantissa, float32's
    exponent range, so no loss scaling is needed).  Every tensor a network
    returns is cast up to float32 before anything else reads it, so the
    losses, Student's t assignments, target distributions, KL/JS divergences,
    distances to centroids and everything an estimator returns (embeddings,
    soft assignments, centroids) are float32.  Parameters, gradients and
    optimiser states stay float32 (autocast casts copies of the weights).  On
    a CPU without bfloat16 instructions (``avx512_bf16``/``amx_bf16``) the
    casts are emulated and bf16 is usually slower than fp32.

Off by default: reduced precision changes the numbers in the last digits and
can change a label at a cluster boundary, so only fp32 reproduces a run
exactly.  DCCA always trains in fp32 (full-batch L-BFGS, whose line search
compares loss values that bfloat16 rounding would swamp, and covariance
inverse square roots); the classical methods do not use it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import torch

log = logging.getLogger(__name__)

#: the values of the ``precision`` key, the default first
PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "bf16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ValueError naming them."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision: {precision!r} is not one of: {', '.join(PRECISIONS)} "
            "(fp32 is the default and reproduces a run exactly)"
        )
    return precision


def effective_precision(precision: str, device: str | torch.device) -> str:
    """The precision a run on ``device`` really uses: tf32 is fp32 off CUDA."""
    check_precision(precision)
    if precision == "tf32" and torch.device(device).type != "cuda":
        return "fp32"
    return precision


def to_float32(value: Any) -> Any:
    """``value`` with every reduced-precision floating tensor in it cast to float32
    (tensors, and tuples, lists and dicts of them; anything else unchanged)."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() and value.dtype in (torch.bfloat16, torch.float16):
            return value.float()
        return value
    if isinstance(value, tuple | list):
        return type(value)(to_float32(v) for v in value)
    if isinstance(value, dict):
        return {k: to_float32(v) for k, v in value.items()}
    return value


def _has_fp32_precision_api() -> bool:
    """torch >= 2.9 sets TF32 through ``fp32_precision``; mixing it with the older
    ``allow_tf32`` flags is an error there, so only one of the two is ever used."""
    return hasattr(torch.backends.cuda.matmul, "fp32_precision")


@contextlib.contextmanager
def allow_tf32() -> Iterator[None]:
    """Within the block, CUDA float32 matmuls and cuDNN convolutions may use TF32;
    the previous settings are restored on exit."""
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn
    if _has_fp32_precision_api():
        saved = (matmul.fp32_precision, conv.conv.fp32_precision)
        matmul.fp32_precision = "tf32"
        conv.conv.fp32_precision = "tf32"
        try:
            yield
        finally:
            matmul.fp32_precision, conv.conv.fp32_precision = saved
    else:  # pragma: no cover - torch < 2.9
        saved_old = (matmul.allow_tf32, conv.allow_tf32)
        matmul.allow_tf32 = conv.allow_tf32 = True
        try:
            yield
        finally:
            matmul.allow_tf32, conv.allow_tf32 = saved_old


@functools.cache
def cpu_has_bf16() -> bool | None:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX); None if unknown."""
    checks = [getattr(torch.cpu, n, None) for n in ("_is_avx512_bf16_supported",
                                                     "_is_amx_tile_supported")]  # fmt: skip
    if not any(checks):
        return None
    try:
        return any(bool(c()) for c in checks if c is not None)
    except (RuntimeError, AttributeError):
        return None


class Precision:
    """How one estimator computes: the forward-pass context, the backward pass and the
    cast of network outputs back to float32 (module docstring).

    ``Precision("fp32", device)`` is the identity: :meth:`run` calls the
    function, :meth:`wrap` returns it unchanged, :meth:`backward` calls
    ``loss.backward``.
    """

    def __init__(self, precision: str = "fp32", device: str | torch.device = "cpu") -> None:
        self.name = check_precision(precision)
        self.device = torch.device(device)
        #: what the run really uses (tf32 off CUDA is fp32)
        self.used = effective_precision(self.name, self.device)

    def __repr__(self) -> str:
        return f"Precision({self.name!r}, {str(self.device)!r})"

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.used == "bf16" else None

    def forward_context(self) -> contextlib.AbstractContextManager[Any]:
        """The context a forward pass runs in: autocast (bf16), the TF32 flags (tf32 on
        CUDA), or nothing."""
        if self.used == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        if self.used == "tf32":
            return allow_tf32()
        return contextlib.nullcontext()

    def backward_context(self) -> contextlib.AbstractContextManager[Any]:
        """The context a backward pass runs in: the TF32 flags (tf32 on CUDA) or nothing
        (autocast is never active in a backward pass: its graph already holds the casts)."""
        return allow_tf32() if self.used == "tf32" else contextlib.nullcontext()

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in the forward context, its tensors cast up to float32."""
        if self.used == "fp32":
            return fn(*args, **kwargs)
        with self.forward_context():
            out = fn(*args, **kwargs)
        return to_float32(out)

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (a network or any forward function) computing with this precision;
        ``fn`` itself for fp32."""
        if self.used == "fp32":
            return fn
        return functools.partial(self.run, fn)

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """``loss.backward(**kwargs)`` in the backward context."""
        if self.used != "tf32":
            loss.backward(**kwargs)
            return
        with allow_tf32():
            loss.backward(**kwargs)

    def describe(self) -> str:
        """One line for the log: what this precision does on this device."""
        dev = self.device.type
        if self.name == "fp32":
            return f"precision fp32 on {dev}: float32 throughout"
        if self.name == "tf32" and self.used == "fp32":
            return f"precision tf32 has no effect on {dev} (a CUDA mode): float32 throughout"
        if self.name == "tf32":
            return "precision tf32 on cuda: float32 matmuls and convolutions may use TensorFloat-32"
        text = (
            f"precision bf16 on {dev}: forward passes under bfloat16 autocast, losses, "
            "assignments and outputs in float32"
        )
        if dev == "cpu" and cpu_has_bf16() is False:
            text += " (this CPU has no bfloat16 instructions: expect it to be slower than fp32)"
        return text

    def log(self, who: str) -> None:
        """Log :meth:`describe` for ``who`` (at info level unless fp32, which is silent)."""
        if self.name != "fp32":
            log.info("%s: %s", who, self.describe())
