#!/usr/bin/env python3
"""Checks a committed capture's real execution against PyTorch itself.

genie-real seeds its own weights and inputs (real/runner.h, real/feed.h)
and checks its remote runs against the CPU executor's local run: that
says the runtime moves and computes the trace consistently, not that the
trace computes what the model does.  This script closes that gap:
`genie-trace run` runs the trace exactly as genie-real's local reference
does and writes the seeded params, the inputs and the outputs; the same
zoo model is built here, loaded with those params (by storage name =
parameter or buffer name), fed the trace's first-step inputs of its
inputs' shapes, run eagerly on the CPU by torch, and its output compared
with the executor's: logits by value, generate()'s tokens exactly.
Caveat for generate(): its other client-fed inputs (the bos / eos / pad
token ids as 0-D tensors) are seeded by the feed (0), not the model's
(eos 511), so the two agree only while greedy decoding never picks
token 0 or 511 (the check says so when they differ).

    .venv/bin/python traces/check_numerics.py [--build build] [resnet50 dlrm gpt2 llama]

Prints, per model, the largest |executor - torch| relative to the largest
|torch| value, and fails (exit 1) above 1e-4 (f32; summation orders differ:
OpenBLAS vs oneDNN convolutions, double vs f32 accumulations).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from genie import models  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from capture_models import CONFIGS  # noqa: E402

NP = {"f32": np.float32, "i64": np.int64, "i32": np.int32, "bool": np.bool_, "f16": np.float16}
TOL = 1e-4


def load(dirname, e):
    a = np.fromfile(os.path.join(dirname, e["file"]), dtype=NP[e["dtype"]])
    return torch.from_numpy(a.reshape(e["shape"]).copy())


def check(key, build, seed):
    builder, kw, _ = CONFIGS[key]
    m, inp, run = models.MODELS[builder](**kw)
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(REPO, "traces", "captured", f"{key}.json")
        subprocess.run([os.path.join(build, "genie-trace"), "run", trace, "--seed", str(seed), "-o", d], check=True)
        idx = json.load(open(os.path.join(d, "index.json")))["tensors"]
        params = {e["storage"]: load(d, e) for e in idx if e["kind"] == "param"}
        ins = [load(d, e) for e in idx if e["kind"] == "input" and e["step"] == 0]
        outs = [load(d, e) for e in idx if e["kind"] == "output"]
    sd = {**dict(m.named_buffers()), **m.state_dict()}   # non-persistent buffers too (rotary inv_freq)
    missing = [k for k, v in sd.items() if k not in params and v.is_floating_point()]
    unused = [k for k in params if k not in sd]
    if unused:
        raise SystemExit(f"{key}: trace storages that are not the model's: {unused[:5]}")
    with torch.no_grad():
        for k, v in params.items():
            sd[k].copy_(v)
        # the model's inputs, matched to the trace's by dtype and shape
        feed = {}
        for name, x in inp.items():
            hit = [t for t in ins if t.dtype == x.dtype and tuple(t.shape) == tuple(x.shape)]
            if len(hit) != 1:
                raise SystemExit(f"{key}: input {name} {tuple(x.shape)} matches {len(hit)} trace inputs")
            feed[name] = hit[0]
        ref = run(m.eval(), feed)
    got = [o for o in outs if tuple(o.shape) == tuple(ref.shape) and o.dtype == ref.dtype]
    if not got:
        raise SystemExit(f"{key}: no output of the trace has the model's output shape {tuple(ref.shape)}")
    got = got[-1]
    if not ref.is_floating_point():      # generate()'s tokens: equal or not
        same = torch.equal(got, ref)
        print(f"{key}: tokens {tuple(ref.shape)} {'equal' if same else 'DIFFER'}: executor "
              f"{got.flatten().tolist()[-6:]}, torch {ref.flatten().tolist()[-6:]} (last 6)")
        return same
    scale = ref.abs().max().item()
    err = (got - ref).abs().max().item() / (scale or 1.0)
    ok = err <= TOL and not torch.isnan(ref).any()
    print(f"{key}: output {tuple(ref.shape)}, max |executor - torch| / max |torch| = {err:.3g} "
          f"(max |torch| {scale:.4g}; {len(params)} params from the runner, {len(missing)} float tensors of "
          f"the model not in the trace) {'ok' if ok else 'FAIL'}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("models", nargs="*", default=["resnet50", "dlrm", "gpt2", "llama"])
    a = ap.parse_args()
    ok = all([check(k, a.build, a.seed) for k in a.models])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
