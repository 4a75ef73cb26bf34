"""Where each training loop's epoch goes: GEMM, optimiser, element-wise ops, data movement, Python.

Run on demand (it is not a test)::

    PYTHONPATH=src python benchmarks/profile_loops.py --threads 2
    PYTHONPATH=src python benchmarks/profile_loops.py --data results/bench/mnist5k.npz \\
        --loops pretrain,dec --markdown profile.md

Like ``device_check.py``, whose loop set-ups it imports, it needs only torch,
numpy, scipy and scikit-learn besides the package's source, and runs on the
CPU and on a CUDA device (``--device cuda``).

What is measured, per loop (``pretrain``, ``dec``, ``idec``, ``jecl``,
``dkm``, ``dcn``, ``dm2c``, ``jule``; see ``device_check.py``)
    Seconds and floating-point work per epoch exactly as ``device_check.py``
    measures them: whole fits of E1 = 1 and E2 = 1 + ``--epochs`` epochs,
    unprofiled, the fastest of ``--repeats`` timings of each; an epoch is
    their difference, so the one-off costs of a fit (copying the network,
    k-means initialisation, final predictions) cancel.  GFLOP/s is the
    epoch's matrix-product and convolution work over its wall time, "% of
    peak" its ratio to the dense fp32 GEMM peak measured at the start of the
    same run with the same thread count.  These fits are also the warm-up of
    what follows.

    Then the same two fits run under :mod:`torch.profiler` (CPU activities;
    CUDA too on a CUDA device), ``--repeats`` times each, the fastest of each
    kept, and the epoch (again E2 minus E1, per epoch) is split by summing
    the self CPU time of the profiler's events into categories.  Each event
    counts with the outermost op that contains it, the op the training code
    called (the bias copy inside ``addmm`` is GEMM, the sum inside
    ``mse_loss`` belongs to the loss, a kernel launch or a synchronisation
    to its op); the categories of those ops are, by name:

    GEMM
        ``addmm``, ``mm``, ``bmm``, ``matmul``, ``linear``, ``convolution*``,
        ``mkldnn*`` and the like (forward and backward).
    optimiser
        ``_fused_adam*``, ``_fused_sgd*``, ``_foreach_*``, and every op
        inside an ``Optimizer.step`` or ``Optimizer.zero_grad`` range (the
        outermost "op" there): the default (non-fused) Adam and SGD update
        each parameter with ordinary element-wise ops, which count here.
    elementwise
        ``add``, ``mul``, ``div``, ``relu``, ``sigmoid``, ``dropout``,
        ``bernoulli``, ``where``, ``pow``, ``exp``, random fills, … and their
        backward ops.
    reductions & softmax
        ``sum``, ``mean``, ``max``, ``softmax``, ``log_softmax``,
        ``logsumexp``, ``norm``, losses (``mse_loss``, ``nll_loss``, …),
        batch and layer normalisation, pooling.
    data movement
        ``copy_``, ``to``, ``cat``, ``index*``, ``gather``, ``scatter``,
        ``clone``, ``contiguous``, ``empty*``, ``zeros``, ``randperm``,
        ``item`` (device to host), ….
    other ops
        Every other op, mostly views (``view``, ``t``, ``transpose``,
        ``as_strided``, ``slice``, …: metadata, no arithmetic).
    Python and framework
        The epoch's wall time minus the self time of all the ops above: the
        interpreter (the training loop, module calls, progress bars), the
        autograd engine's own bookkeeping (its node events, such as
        ``AddmmBackward0`` or ``torch::autograd::AccumulateGrad``, are not
        ops), and the profiler's own cost per op (the profiled epoch is
        printed beside the unprofiled one).

    The categories sum to the profiled epoch by construction.  "GEMM at X %
    of peak while in GEMM" is the epoch's FLOPs over its GEMM seconds,
    against the same peak: how fast the matrix products themselves run; the
    gap between X and the loop's own share of the peak is the time spent
    outside them, and the verdict names its largest part.

    On a CUDA device the host-side split above says where the CPU thread's
    time goes; a second, device-side split sums each op's kernel time (its
    self device time) by the same categories, plus "device idle" (the epoch
    minus all kernel time: the GPU waiting on Python, launches and
    synchronisations).  There the verdict and X use the device-side split.

Output: one block per loop (categories in seconds and % of the epoch, the
outermost ops outside GEMM that take the most time, the verdict), then one summary table;
``--markdown FILE`` writes the table and verdicts as Markdown, ``--json
FILE`` the rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import device_check  # a sibling script, not a package

CATEGORIES = (
    "GEMM",
    "optimiser",
    "elementwise",
    "reductions & softmax",
    "data movement",
    "other ops",
    "Python and framework",
)
DEVICE_CATEGORIES = (*CATEGORIES[:-1], "device idle")
SHORT = {
    "GEMM": "GEMM", "optimiser": "optim", "elementwise": "elemwise",
    "reductions & softmax": "reduce", "data movement": "data mv", "other ops": "other",
    "Python and framework": "Python", "device idle": "idle",
}  # fmt: skip

_RULES: tuple[tuple[str, str], ...] = (
    ("optimiser", r"_fused_(adam|adamw|sgd|adagrad)\w*|_foreach_\w+"),
    (
        "GEMM",
        r"addmm|mm|bmm|baddbmm|addbmm|matmul|linear|addmv|mv|dot|_addmm_activation|einsum"
        r"|tensordot|chain_matmul|linalg_multi_dot"
        r"|_?convolution\w*|conv\w*|cudnn_conv\w*|miopen_conv\w*|slow_conv\w*|_slow_conv\w*"
        r"|thnn_conv\w*|_nnpack\w*|_?mkldnn\w*|mkl_linear|_mkl\w*",
    ),
    (
        "reductions & softmax",
        r"sum|nansum|mean|prod|max|min|amax|amin|aminmax|argmax|argmin|std|var|std_mean"
        r"|var_mean|norm|linalg_\w*norm|frobenius_norm|renorm|_?softmax\w*|_?log_softmax\w*"
        r"|logsumexp|cumsum|cumprod|topk|sort|argsort|kthvalue|median|all|any"
        r"|count_nonzero|bincount|histc|_?cdist\w*|dist|\w*_loss\w*|kl_div\w*"
        r"|binary_cross_entropy\w*|cross_entropy\w*|\w*batch_norm\w*|\w*layer_norm\w*"
        r"|\w*group_norm\w*|instance_norm|\w*_pool\d?d\w*|_?adaptive_\w*pool\w*|unique\w*"
        r"|_unique\w*",
    ),
    (
        "data movement",
        r"copy|to|_to_copy|_copy_from\w*|cat|_cat|stack|index\w*|_index\w*|_unsafe_index\w*"
        r"|gather|scatter\w*|clone|contiguous|empty\w*|new_\w+|zeros|zeros_like|ones"
        r"|ones_like|full|full_like|arange|randperm|resize|_local_scalar_dense|item"
        r"|masked_select|nonzero|take|repeat\w*|tile|flip|roll|constant_pad_nd|pad"
        r"|\w+_pad\d?d\w*|embedding\w*|pin_memory|_pin_memory|cpu|cuda|lift_fresh_copy"
        r"|narrow_copy|split_with_sizes_copy|im2col|col2im|_reshape_copy|scalar_tensor"
        r"|triu_indices|tril_indices|is_nonzero",
    ),
    (
        "elementwise",
        r"add|sub|rsub|mul|div|neg|reciprocal|abs|sign|sgn|square|sqrt|rsqrt|pow|exp|exp2"
        r"|expm1|log|log2|log10|log1p|xlogy|sin|cos|tanh\w*|sigmoid\w*|relu\w*|threshold\w*"
        r"|leaky_relu\w*|elu\w*|gelu\w*|silu\w*|hardtanh\w*|hardswish\w*|hardsigmoid\w*"
        r"|softplus\w*|erf|clamp\w*|clip|floor|ceil|round|trunc|frac|maximum|minimum|fmax"
        r"|fmin|where|_s_where|masked_fill|fill|zero|lerp|addcmul|addcdiv|ge|gt|le|lt|eq|ne"
        r"|logical_\w+|bitwise_\w+|isnan|isinf|isfinite|nan_to_num|\w*dropout\w*|bernoulli"
        r"|_fused_dropout\w*|rand|randn|rand_like|randn_like|randint\w*|uniform|normal"
        r"|exponential|random|_masked_scale|_cast_\w+|heaviside|copysign|remainder|fmod"
        r"|fill_diagonal|__\w+__",
    ),
)
_COMPILED = tuple((cat, re.compile(rf"(?:{pattern})")) for cat, pattern in _RULES)


def op_category(name: str) -> str | None:
    """The category of a profiler event by name; None for an event that is not an op.

    Ops are namespaced (``aten::addmm``, ``torchvision::nms``); an optimiser
    range (``Optimizer.step#Adam.step``) counts as optimiser; autograd
    nodes, the autograd engine's and the profiler's own ranges and bare
    runtime calls are not ops.  In-place and overload suffixes are ignored
    (``aten::add_`` is ``add``).
    """
    if name.startswith("Optimizer."):
        return "optimiser"
    namespace, sep, op = name.partition("::")
    if (
        not sep
        or namespace in ("autograd", "profiler")
        or " " in namespace
        or name.startswith("torch::autograd::")  # AccumulateGrad, GraphRoot: the engine's
    ):
        return None
    op = op.split(".")[0]
    if op.endswith("_") and not op.endswith("__"):
        op = op[:-1]
    for cat, pattern in _COMPILED:
        if pattern.fullmatch(op):
            return cat
    return "other ops"


def event_category(event: Any, cache: dict[str, str | None]) -> tuple[str, str] | None:
    """The outermost op (or optimiser range) containing ``event``, and its category.

    None when no op contains the event (autograd nodes, bare ranges): its
    self time is part of the framework.  Counting every event with the op
    the training code called means the bias copy inside ``addmm`` is GEMM,
    the sum inside ``mse_loss`` a loss, a runtime call inside an op (a
    kernel launch, a synchronisation) that op, and every op inside an
    optimiser step optimiser work.
    """
    outer: tuple[str, str] | None = None
    node = event
    while node is not None:
        name = node.name
        if name not in cache:
            cache[name] = op_category(name)
        if cache[name] is not None:
            outer = (name, cache[name])
        node = node.cpu_parent
    return outer


@dataclass
class Split:
    """Seconds per category (host and device) and per op, over a wall time."""

    wall: float
    host: Counter[str] = field(default_factory=Counter)
    device: Counter[str] = field(default_factory=Counter)
    ops: Counter[tuple[str, str]] = field(default_factory=Counter)

    def __sub__(self, other: Split) -> Split:
        def minus(a: Counter[Any], b: Counter[Any]) -> Counter[Any]:
            return Counter({k: a.get(k, 0.0) - b.get(k, 0.0) for k in a.keys() | b.keys()})

        return Split(
            self.wall - other.wall,
            minus(self.host, other.host),
            minus(self.device, other.device),
            minus(self.ops, other.ops),
        )

    def scaled(self, factor: float) -> Split:
        def times(a: Counter[Any]) -> Counter[Any]:
            return Counter({k: v * factor for k, v in a.items()})

        return Split(self.wall * factor, times(self.host), times(self.device), times(self.ops))


def split_events(events: Iterable[Any], wall: float, on_device: bool = False) -> Split:
    """Sum the self time of profiler ``events`` into categories over ``wall`` seconds.

    ``host`` gets every category of :data:`CATEGORIES`, "Python and
    framework" being ``wall`` minus the ops' self CPU time; with
    ``on_device``, ``device`` gets the ops' self device (kernel) time per
    category and "device idle" = ``wall`` minus all kernel time.
    """
    out = Split(wall)
    cache: dict[str, str | None] = {}
    for ev in events:
        if ev.is_async or ev.device_type != torch.autograd.DeviceType.CPU:
            continue
        outer = event_category(ev, cache)
        if on_device:
            dev = float(getattr(ev, "self_device_time_total", 0.0)) * 1e-6
            if dev:
                out.device[outer[1] if outer else "other ops"] += dev
        if outer is None:
            continue
        seconds = ev.self_cpu_time_total * 1e-6
        out.host[outer[1]] += seconds
        out.ops[outer] += seconds
    ops_total = sum(out.host.values())
    out.host = Counter({c: out.host.get(c, 0.0) for c in CATEGORIES[:-1]})
    out.host["Python and framework"] = wall - ops_total
    if on_device:
        busy = sum(out.device.values())
        out.device = Counter({c: out.device.get(c, 0.0) for c in DEVICE_CATEGORIES[:-1]})
        out.device["device idle"] = wall - busy
    return out


def profiled(fit: Callable[[], Any], device: str) -> tuple[Split, Any]:
    """Run ``fit`` under the profiler; its wall time split into categories, and its result."""
    on_device = device.startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_device else [])
    with profile(activities=activities) as prof:
        device_check.sync(device)
        start = time.perf_counter()
        out = fit()
        device_check.sync(device)
        wall = time.perf_counter() - start
    return split_events(prof.events(), wall, on_device), out


def profile_loop(
    bench: device_check.LoopBench, loop: str, epochs: int, repeats: int
) -> tuple[dict[str, float], Split, int]:
    """device_check's per-epoch seconds and FLOPs, and the split of one epoch (E2 - E1)."""
    timing = bench.per_epoch(loop, epochs, repeats)  # also the warm-up of the profiled fits
    e1, e2, fit1, fit2, units = bench.fits(loop, epochs)
    best: dict[int, tuple[Split, Any]] = {}
    for _ in range(repeats):
        for e, fit in ((e1, fit1), (e2, fit2)):
            split, model = profiled(fit, bench.device)
            if e not in best or split.wall < best[e][0].wall:
                best[e] = (split, model)
    u2 = units(best[e2][1])
    return timing, (best[e2][0] - best[e1][0]).scaled(1.0 / ((e2 - e1) * u2)), u2


def percent(part: float, whole: float) -> float:
    """``part`` in % of ``whole``; NaN when ``whole`` is not positive (a noisy difference)."""
    return 100 * part / whole if whole > 0 else float("nan")


def noise(seconds: float, split: Split) -> str:
    """What makes an epoch's figures untrustworthy ('' when nothing does).

    An epoch is a difference of two fits' times, so on a busy machine or with
    too little work per epoch it can come out non-positive, and a category
    clearly negative.
    """
    problems = []
    if seconds <= 1e-6:
        problems.append("the unprofiled E2 fit was not slower than the E1 fit")
    if split.wall <= 0:
        problems.append("the profiled E2 fit was not slower than the E1 fit")
    negative = [c for c, s in split.host.items() if s < -0.05 * abs(split.wall)]
    if negative:
        problems.append(f"negative {', '.join(negative)}")
    return "; ".join(problems)


def verdict(row: dict[str, Any]) -> str:
    """GEMM's own rate, the loop's, and where the rest of the epoch goes."""
    split = row["device_split"] if row.get("device_split") else row["split"]
    epoch = sum(split.values())
    rest = sorted(((s, c) for c, s in split.items() if c != "GEMM"), reverse=True)
    named = [
        f"{c} {s:.3g} s ({percent(s, epoch):.0f} % of the epoch)" for s, c in rest[:2] if s > 0
    ]
    gemm = row["gemm_percent_of_peak"]
    text = (
        f"GEMM at {gemm:.0f} % of peak while in GEMM; loop at {row['percent_of_peak']:.0f} % "
        f"of peak; the rest: {', then '.join(named) if named else 'nothing measurable'}"
    )
    if row.get("noise"):
        text += f" (noisy: {row['noise']})"
    return text


def loop_row(
    device: str, loop: str, peak: float, timing: dict[str, float], split: Split, units: int
) -> dict[str, Any]:
    flops, seconds = timing["flops"], timing["seconds"]
    gemm_seconds = split.device["GEMM"] if split.device else split.host["GEMM"]
    gflops = flops / seconds / 1e9 if seconds > 1e-6 else float("nan")
    row: dict[str, Any] = {
        "device": device, "loop": loop, "seconds_per_epoch": seconds,
        "profiled_seconds_per_epoch": split.wall, "gflop_per_epoch": flops / 1e9,
        "gflops": gflops, "percent_of_peak": 100 * gflops / peak,
        "gemm_percent_of_peak": (
            100 * flops / gemm_seconds / 1e9 / peak if gemm_seconds > 0 else float("nan")
        ),
        "training_periods": units,
        "split": {c: split.host[c] for c in CATEGORIES},
        "device_split": {c: split.device[c] for c in DEVICE_CATEGORIES} if split.device else {},
        "top_ops": [
            [name, cat, s]
            for (name, cat), s in sorted(split.ops.items(), key=lambda kv: -kv[1])
            if cat != "GEMM"
        ][:5],
        "noise": noise(seconds, split),
    }  # fmt: skip
    row["verdict"] = verdict(row)
    return row


def block(row: dict[str, Any]) -> str:
    """One loop's figures as indented plain text."""
    lines = [
        f"  {row['loop']}: {row['seconds_per_epoch']:.3f} s/epoch "
        f"(profiled {row['profiled_seconds_per_epoch']:.3f} s), "
        f"{row['gflop_per_epoch']:.2f} GFLOP, {row['gflops']:.1f} GFLOP/s, "
        f"{row['percent_of_peak']:.1f} % of peak"
    ]
    epoch = row["profiled_seconds_per_epoch"]
    for c in CATEGORIES:
        s = row["split"][c]
        cell = f"    {c:22s} {s:8.4f} s {percent(s, epoch):6.1f} %"
        if row["device_split"]:
            d = row["device_split"].get(c, row["device_split"]["device idle"])
            label = c if c in row["device_split"] else "device idle"
            cell += f"  | device {label:22s} {d:8.4f} s {percent(d, epoch):6.1f} %"
        lines.append(cell)
    if row["top_ops"]:
        tops = ", ".join(
            f"{n} [{SHORT[c]}] {s * 1e3:.1f} ms" for n, c, s in row["top_ops"] if s > 0
        )
        lines.append(f"    largest calls outside GEMM: {tops}")
    lines.append(f"    {row['verdict']}")
    return "\n".join(lines)


def table(rows: list[dict[str, Any]], markdown: bool = False) -> str:
    """The summary: one line per device and loop, categories as % of the profiled epoch."""
    loops = [r for r in rows if r["loop"] != "gemm"]
    has_device = any(r.get("device_split") for r in loops)
    cats = [*CATEGORIES] + (["device idle"] if has_device else [])
    head = ["device", "loop", "s/epoch", "GFLOP", "GFLOP/s", "% peak", "GEMM % peak"]
    head += [f"{SHORT[c]} %" for c in cats]
    body = []
    for r in rows:
        if r["loop"] == "gemm":
            body.append([r["device"], "GEMM peak", "", "", f"{r['gflops']:.1f}", "100", ""])
            body[-1] += [""] * len(cats)
            continue
        if "error" in r:
            body.append([r["device"], r["loop"], "failed"] + [""] * (len(head) - 3))
            continue
        epoch = r["profiled_seconds_per_epoch"]
        cells = [
            r["device"], r["loop"] + (" *" if r.get("noise") else ""),
            f"{r['seconds_per_epoch']:.3f}",
            f"{r['gflop_per_epoch']:.2f}", f"{r['gflops']:.1f}", f"{r['percent_of_peak']:.1f}",
            f"{r['gemm_percent_of_peak']:.1f}",
        ]  # fmt: skip
        split = r["device_split"] or r["split"]  # on a CUDA device: kernel time
        for c in cats:
            s = split.get(c)
            cells.append("" if s is None else f"{percent(s, epoch):.1f}")
        body.append(cells)
    note = (
        "Categories in % of the profiled epoch: self CPU time of the ops"
        + ("; on CUDA rows, kernel time (device idle: no kernel running)" if has_device else "")
        + "."
        + (" *: noisy (see the verdict)." if any(r.get("noise") for r in loops) else "")
    )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        lines += ["", note, ""]
        lines += [f"- {r['device']} {r['loop']}: {r['verdict']}" for r in loops if "verdict" in r]
        return "\n".join(lines)
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), "-" * (sum(widths) + 2 * (len(widths) - 1))]
    lines += [fmt.format(*cells) for cells in body]
    lines.append(note)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    X, y = device_check.load_data(args.data, args.n)
    rows: list[dict[str, Any]] = []
    for device in args.devices:
        if device.startswith("cuda") and not torch.cuda.is_available():
            print(f"{device}: CUDA is not available here; skipped")
            continue
        peak = device_check.gemm_peak(device)
        rows.append({"device": device, "loop": "gemm", "gflops": peak})
        print(f"{device}: GEMM peak {peak:.1f} GFLOP/s", flush=True)
        bench = device_check.LoopBench(X, y, device)
        for loop in args.loops:
            try:
                timing, split, units = profile_loop(bench, loop, args.epochs, args.repeats)
            except Exception as exc:  # one broken loop must not hide the others
                print(f"  {loop}: failed: {type(exc).__name__}: {exc}", flush=True)
                rows.append({"device": device, "loop": loop, "error": str(exc)})
                continue
            rows.append(loop_row(device, loop, peak, timing, split, units))
            print(block(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    device_check.add_run_arguments(
        parser, device_check.TRAINING_LOOPS,
        f"comma-separated subset of {device_check.TRAINING_LOOPS} (default: all)",
    )  # fmt: skip
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    device_check.apply_run_arguments(parser, args, device_check.TRAINING_LOOPS)
    logging.basicConfig(level=logging.ERROR)  # short fits: no convergence warnings
    header = (
        f"torch {torch.__version__}, python {sys.version.split()[0]}, "
        f"{torch.get_num_threads()} CPU threads, n = {args.n}, data: {args.data or 'generated'}, "
        f"epochs E2 - E1 = {args.epochs}, repeats {args.repeats}"
    )
    print(header, flush=True)
    rows = run(args)
    print()
    print(table(rows))
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(f"{header}\n\n{table(rows, markdown=True)}\n")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
