"""Real models, unmodified: captured outputs bit-identical to eager CPU, traces valid."""
import json
import os
import subprocess

import pytest
import torch

import genie
from conftest import tool

MODELS = ["gpt2", "llama", "resnet50", "dlrm", "vilt"]


@pytest.mark.parametrize("name", MODELS)
def test_bit_identical_and_valid(captured, name):
    ref, out, tr = captured(name)
    assert torch.equal(ref, out), f"{name}: captured output differs from eager CPU"
    assert genie.validate(tr) == []
    s = genie.summary(tr)
    assert s["flops"] > 0 and s["param_bytes"] > 0


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_generate_steps_and_kv_cache(captured, name):
    _, _, tr = captured(name)
    phases = [st["phase"] for st in tr["steps"]]
    assert phases == ["prefill"] + ["decode"] * 4
    attn = "transformer.h.1.attn" if name == "gpt2" else "model.layers.1.self_attn"
    for k, st in enumerate(tr["steps"]):
        state = {(t["storage"], tuple(t["shape"])) for t in st["tensors"] if t["kind"] == "state"}
        kv = [s for s in state if s[0] == f"{attn}.k_cache"]
        if k == 0:
            assert [s[1][2] for s in kv] == [16]               # written by prefill
        else:
            assert sorted(s[1][2] for s in kv) == [15 + k, 16 + k]   # read, then grown by one
    # parameters are params with their module names
    params = {t["storage"] for st in tr["steps"] for t in st["tensors"] if t["kind"] == "param"}
    assert (f"{attn}.c_attn.weight" if name == "gpt2" else f"{attn}.q_proj.weight") in params
    # the module path of ops
    mods = {n.get("module") for n in tr["steps"][1]["nodes"]}
    assert attn in mods


def test_module_intent_fusion(captured):
    _, _, tr = captured("llama")
    ops = [n["op"] for n in tr["steps"][0]["nodes"]]
    assert ops.count("rms_norm") == 2 * 2 + 1
    _, _, tr = captured("dlrm")
    assert [n["op"] for n in tr["steps"][0]["nodes"]].count("interaction") == 1
    assert any(n["op"] == "embedding_bag" for n in tr["steps"][0]["nodes"])


def test_coverage(captured):
    seen = {}
    for name in MODELS:
        seen.update(captured(name)[2]["model"]["aten_ops"])
    real = [k for k, v in seen.items() if v != "opaque"]
    assert len(real) / len(seen) >= 0.95, sorted(k for k, v in seen.items() if v == "opaque")


@pytest.mark.skipif(tool("genie-trace") is None, reason="build/genie-trace not built")
@pytest.mark.parametrize("name,preset", [("gpt2", "tiny-gpt2"), ("llama", "tiny-llama")])
def test_agrees_with_the_generator(captured, tmp_path, name, preset):
    """Captured and generated traces of one configuration: FLOPs and parameter bytes within 1%."""
    gen = tmp_path / "gen.json"
    subprocess.run([tool("genie-trace"), "gen", preset, "--prompt", "16", "--decode", "4", "-o", str(gen)],
                   check=True, capture_output=True)
    g = genie.summary(json.loads(gen.read_text()))
    c = genie.summary(captured(name)[2])
    assert c["param_bytes"] == g["param_bytes"]
    assert abs(c["flops"] - g["flops"]) <= 0.01 * g["flops"], (c, g)
    # the captured trace loads in libgenie too
    cap = tmp_path / "cap.json"
    genie.save_trace(captured(name)[2], cap)
    r = subprocess.run([tool("genie-trace"), "check", str(cap)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
