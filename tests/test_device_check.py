"""The device check (benchmarks/device_check.py) runs every loop and reports sane figures.

The CUDA path is the same code with ``device="cuda"``; here it runs with the
device set to the CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import load_benchmark


@pytest.fixture(scope="module")
def device_check():
    return load_benchmark("device_check")


def test_generated_data_are_images_with_ten_classes(device_check) -> None:
    X, y = device_check.load_data(None, 300)
    assert X.shape == (300, 784) and X.dtype == np.float32
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert set(np.unique(y)) == set(range(10))


def test_given_npz_is_read_and_scaled(device_check, tmp_path: Path) -> None:
    X = np.random.default_rng(0).integers(0, 256, (50, 28, 28)).astype(np.uint8)
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=np.arange(50) % 10)
    Xr, _ = device_check.load_data(str(path), 40)
    assert Xr.shape == (40, 784) and Xr.max() <= 1.0
    np.testing.assert_allclose(Xr[0], X[0].reshape(-1) / 255.0, rtol=1e-6)


def test_every_loop_runs_on_the_cpu(device_check, tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    argv = ["--n", "200", "--epochs", "1", "--repeats", "1", "--device", "cpu",
            "--threads", "1", "--extract-images", "4", "--json", str(out)]  # fmt: skip
    assert device_check.main(argv) == 0
    rows = {r["loop"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"gemm", *device_check.LOOPS}
    assert rows["gemm"]["gflops"] > 0
    for loop in device_check.LOOPS:
        assert "error" not in rows[loop], rows[loop]
        # every loop does matrix work each epoch, and it is counted
        assert rows[loop]["gflop_per_epoch"] > 0, loop


def test_dkm_and_dcn_fits_run_the_epochs_asked(device_check) -> None:
    """The set-ups the loop profile adds: E epochs of fine-tuning from one pretrained network."""
    X, y = device_check.load_data(None, 120)
    bench = device_check.LoopBench(X, y, "cpu")
    for loop in ("dkm", "dcn"):
        assert loop in device_check.TRAINING_LOOPS and loop not in device_check.LOOPS
        e1, e2, fit1, fit2, _ = bench.fits(loop, 1)
        assert (e1, e2) == (1, 2)
        assert len(fit1().history_) == 1 and len(fit2().history_) == 2


def test_the_loops_run_in_bf16_on_the_cpu(device_check, tmp_path: Path) -> None:
    """--precision reaches every loop and the GEMM peak (the same code a GPU runs)."""
    out = tmp_path / "rows.json"
    argv = ["--n", "120", "--epochs", "1", "--repeats", "1", "--device", "cpu",
            "--threads", "1", "--loops", "pretrain,dec,jule", "--precision", "bf16",
            "--json", str(out)]  # fmt: skip
    assert device_check.main(argv) == 0
    rows = {r["loop"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"gemm", "pretrain", "dec", "jule"}
    assert all(r["precision"] == "bf16" for r in rows.values())
    assert rows["gemm"]["gflops"] > 0
    for loop in ("pretrain", "dec", "jule"):
        assert "error" not in rows[loop] and rows[loop]["gflop_per_epoch"] > 0, rows[loop]
