"""The loop profile (benchmarks/profile_loops.py): its categories, its split, its report.

The CUDA path is the same code with ``device="cuda"``; here it runs on the CPU.
No timing is asserted: only what holds by construction or by the ops a
snippet runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from tests.helpers import load_benchmark


@pytest.fixture(scope="module")
def prof():
    return load_benchmark("profile_loops")


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("aten::addmm", "GEMM"),
        ("aten::mm", "GEMM"),
        ("aten::linear", "GEMM"),
        ("aten::mkldnn_convolution", "GEMM"),
        ("aten::convolution_backward", "GEMM"),
        ("aten::_fused_adam_", "optimiser"),
        ("aten::_fused_sgd_", "optimiser"),
        ("aten::_foreach_add_.List", "optimiser"),
        ("Optimizer.step#Adam.step", "optimiser"),
        ("aten::add_", "elementwise"),
        ("aten::relu", "elementwise"),
        ("aten::threshold_backward", "elementwise"),
        ("aten::bernoulli_.float", "elementwise"),
        ("aten::native_dropout", "elementwise"),
        ("aten::sum", "reductions & softmax"),
        ("aten::_log_softmax", "reductions & softmax"),
        ("aten::logsumexp", "reductions & softmax"),
        ("aten::mse_loss_backward", "reductions & softmax"),
        ("aten::native_batch_norm", "reductions & softmax"),
        ("aten::max_pool2d_with_indices", "reductions & softmax"),
        ("aten::copy_", "data movement"),
        ("aten::index_select", "data movement"),
        ("aten::empty_strided", "data movement"),
        ("aten::randperm", "data movement"),
        ("aten::_local_scalar_dense", "data movement"),
        ("aten::view", "other ops"),
        ("aten::as_strided", "other ops"),
        ("AddmmBackward0", None),
        ("autograd::engine::evaluate_function: AddmmBackward0", None),
        ("aten::__and__", "elementwise"),
        ("aten::random_", "elementwise"),
        ("cudaLaunchKernel", None),
        ("torch::autograd::AccumulateGrad", None),
    ],
)
def test_ops_fall_in_their_category(prof, name: str, category: str | None) -> None:
    assert prof.op_category(name) == category


def _event(name: str, parent: SimpleNamespace | None = None) -> SimpleNamespace:
    return SimpleNamespace(name=name, cpu_parent=parent)


def test_an_event_counts_with_the_outermost_op_that_contains_it(prof) -> None:
    cache: dict = {}
    addmm = _event("aten::addmm", _event("aten::linear"))
    assert prof.event_category(_event("aten::copy_", addmm), cache) == ("aten::linear", "GEMM")
    assert prof.event_category(_event("cudaLaunchKernel", addmm), cache)[1] == "GEMM"
    step = _event("Optimizer.step#SGD.step")
    assert prof.event_category(_event("aten::mul_", step), cache)[1] == "optimiser"
    node = _event("AddmmBackward0", _event("autograd::engine::evaluate_function: AddmmBackward0"))
    assert prof.event_category(node, cache) is None  # the framework's
    assert prof.event_category(_event("aten::mm", node), cache) == ("aten::mm", "GEMM")
    assert prof.event_category(_event("aten::sum", node), cache)[1] == "reductions & softmax"


def test_a_profiled_step_splits_into_gemm_optimiser_and_the_rest(prof) -> None:
    """A matmul, its backward and a plain Adam step: no element-wise op outside the step."""
    torch.manual_seed(0)
    x = torch.randn(64, 32)
    w = torch.nn.Parameter(torch.randn(32, 16))
    opt = torch.optim.Adam([w], foreach=False)  # per-parameter element-wise updates

    def step() -> None:
        loss = (x @ w).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # Adam's state exists from here on
    split, _ = prof.profiled(step, "cpu")
    host = split.host
    assert list(host) == list(prof.CATEGORIES)
    assert math.isclose(sum(host.values()), split.wall, rel_tol=1e-9)
    assert host["GEMM"] > 0 and host["optimiser"] > 0
    assert host["elementwise"] == 0  # Adam's mul_/addcdiv_/sqrt count as optimiser
    assert host["Python and framework"] >= 0  # the ops' self time fits in the wall time
    assert not split.device  # no device split on the CPU
    names = {name for name, _ in split.ops}
    assert {"aten::matmul", "Optimizer.step#Adam.step"} <= names


def test_the_verdict_names_the_largest_part_outside_gemm(prof) -> None:
    split = dict.fromkeys(prof.CATEGORIES, 0.0)
    split.update({"GEMM": 0.5, "optimiser": 0.1, "data movement": 0.3})
    split["Python and framework"] = 0.1
    row = {"split": split, "device_split": {}, "gemm_percent_of_peak": 90.0,
           "percent_of_peak": 45.0}  # fmt: skip
    text = prof.verdict(row)
    assert text.startswith("GEMM at 90 % of peak while in GEMM; loop at 45 % of peak")
    assert "the rest: data movement 0.3 s (30 % of the epoch)" in text


def test_a_difference_that_is_not_positive_is_flagged(prof) -> None:
    fine = prof.Split(0.2, prof.Counter({"GEMM": 0.15, "Python and framework": 0.05}))
    assert prof.noise(0.2, fine) == ""
    bad = prof.Split(-0.01, prof.Counter({"GEMM": 0.02, "Python and framework": -0.03}))
    text = prof.noise(1e-9, bad)
    assert "unprofiled E2 fit was not slower" in text and "profiled E2 fit" in text
    assert "negative Python and framework" in text
    assert math.isnan(prof.percent(0.1, -0.01))


def test_two_loops_are_profiled_on_generated_data(prof, tmp_path: Path) -> None:
    out, md = tmp_path / "rows.json", tmp_path / "profile.md"
    argv = ["--n", "200", "--epochs", "2", "--repeats", "2", "--device", "cpu",
            "--threads", "1", "--loops", "pretrain,dkm", "--json", str(out),
            "--markdown", str(md)]  # fmt: skip
    assert prof.main(argv) == 0
    rows = {r["loop"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"gemm", "pretrain", "dkm"}
    assert rows["gemm"]["gflops"] > 0
    for loop in ("pretrain", "dkm"):
        r = rows[loop]
        assert "error" not in r, r
        assert list(r["split"]) == list(prof.CATEGORIES)
        epoch = r["profiled_seconds_per_epoch"]
        assert math.isclose(sum(r["split"].values()), epoch, rel_tol=1e-6, abs_tol=1e-9)
        assert r["split"]["GEMM"] > 0  # every loop multiplies matrices each epoch
        assert r["gflop_per_epoch"] > 0 and r["gemm_percent_of_peak"] > 0
        assert r["verdict"].startswith("GEMM at ")
    text = md.read_text()
    assert "| cpu | pretrain" in text and "| cpu | dkm" in text  # " *" when noisy
    assert "- cpu dkm: GEMM at " in text
