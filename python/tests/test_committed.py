"""The committed captured traces: valid, loadable by libgenie, simulated by genie-sim."""
import glob
import json
import os
import subprocess

import pytest

import genie
from conftest import REPO, tool

TRACES = sorted(p for p in glob.glob(os.path.join(REPO, "traces", "captured", "*.json*"))
                if not p.endswith("captured.json"))


def test_all_families_committed():
    names = {os.path.basename(p).split(".")[0] for p in TRACES}
    assert {"gpt2", "llama", "resnet50", "dlrm", "vilt"} <= names


@pytest.mark.parametrize("path", TRACES, ids=os.path.basename)
def test_committed_trace_valid(path):
    tr = genie.load_trace(path)
    assert genie.validate(tr) == []
    assert os.path.getsize(path) < 1 << 20


@pytest.mark.skipif(tool("genie-sim") is None, reason="build/genie-sim not built")
def test_genie_sim_runs_every_captured_trace(tmp_path):
    exp = os.path.join(REPO, "traces", "captured", "captured.json")
    r = subprocess.run([tool("genie-sim"), exp, "-o", str(tmp_path), "--no-plot", "-q", "-j", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(json.load(open(exp))["workloads"]) == 5
