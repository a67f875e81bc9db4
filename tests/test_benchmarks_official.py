"""Smoke run of experiments/benchmarks/seqgan_official_oracle.py at toy size (as tests/test_benchmarks.py does for the
other long benchmarks): it runs end to end and writes the JSON keys and the plot its docs name."""

import json
import subprocess
import sys

from test_benchmarks import BENCH, ROOT, _run


def test_seqgan_official_oracle_writes_the_curve_beside_the_official_one(tmp_path):
    out = tmp_path / "official.json"
    _run("seqgan_official_oracle.py", "--epochs", "2", "--every", "1", "--num-eval", "40", "--num-samples", "128",
         "--out", str(out))
    report = json.loads(out.read_text())
    assert report["complete"] and sorted(report["curve"], key=int) == ["0", "1", "2"]  # untrained, after 1 and 2 epochs
    assert report["nll_random"] == report["curve"]["0"] and report["nll_mle_2"] == report["curve"]["2"]
    assert abs(report["official_curve"]["116"] - 9.07058) < 1e-9 and len(report["official_curve"]) == 24
    assert 5.0 < report["nll_data"] < report["nll_random"] < 12.0  # the oracle's own data vs a near-uniform generator
    assert report["command"].endswith("--epochs 2 --every 1 --num-eval 40 --seed 0 --num-samples 128")
    assert out.with_suffix(".png").stat().st_size > 1000
    printed = subprocess.run([sys.executable, str(BENCH / "seqgan_official_oracle.py"), "--table-only", "--out",
                              str(out)], capture_output=True, text=True, timeout=120, cwd=ROOT).stdout
    assert f"| 2 | {report['nll_mle_2']:.3f} | — |" in printed and "| 116 | — | 9.071 |" in printed
