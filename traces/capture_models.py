#!/usr/bin/env python3
"""Regenerates the committed captured traces in traces/captured/.

Each model is built from a config with random weights (nothing is
downloaded), run unmodified on ``remote_accelerator`` through the genie
front end (python/), checked bit-identical against eager CPU, validated
against traces/SCHEMA.md, and written as compact JSON (gzip when over
1 MB).  traces/captured/captured.json is a genie-sim experiment that runs
all of them.

    .venv/bin/python traces/capture_models.py            # all models
    .venv/bin/python traces/capture_models.py gpt2 dlrm  # some
    .venv/bin/python traces/capture_models.py --out DIR  # elsewhere (scripts/torch-compat)
    build/genie-sim traces/captured/captured.json -o /tmp/captured
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402

import genie  # noqa: E402
from genie import models  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "captured")

# name -> (zoo builder, kwargs, trace name); small configs keep the files small
CONFIGS = {
    "gpt2": ("gpt2", {}, "captured tiny-gpt2 b1 p16 d4 f32 (HF GPT2LMHeadModel.generate)"),
    "llama": ("llama", {}, "captured tiny-llama b1 p16 d4 f32 (HF LlamaForCausalLM.generate)"),
    "resnet50": ("resnet50", {"image": 224}, "captured resnet50 b1 224x224 f32 (HF ResNetForImageClassification)"),
    "dlrm": ("dlrm", {"batch": 32}, "captured dlrm b32 8 tables f32"),
    "vilt": ("vilt", {}, "captured vilt-tiny vqa f32 (HF ViltForQuestionAnswering)"),
}


def capture(key, outdir):
    builder, kw, title = CONFIGS[key]
    m, inp, run = models.MODELS[builder](**kw)
    with torch.no_grad():
        torch.manual_seed(1)
        ref = run(m, inp)
        md = m.to("remote_accelerator")
        with genie.capture(title, model={"family": key, "builder": f"genie.models.{builder}", "config": kw}) as cap:
            torch.manual_seed(1)
            out = run(md, models.to_device(inp, "remote_accelerator")).cpu()
    if not torch.equal(ref, out):
        raise SystemExit(f"{key}: captured output differs from eager CPU")
    tr = cap.trace()
    errs = genie.validate(tr)
    if errs:
        raise SystemExit(f"{key}: invalid trace:\n  " + "\n  ".join(errs[:10]))
    data = json.dumps(tr, separators=(",", ":"))
    path = os.path.join(outdir, f"{key}.json" + (".gz" if len(data) > 1 << 20 else ""))
    genie.save_trace(tr, path)
    s = genie.summary(tr)
    print(f"{os.path.relpath(path)}: {s['steps']} steps, {s['nodes']} nodes, {s['flops']:.4g} FLOPs, "
          f"{s['param_bytes']} param bytes, {os.path.getsize(path)} bytes on disk")
    return os.path.basename(path)


def main(argv):
    out = OUT
    if argv[:1] == ["--out"]:
        if len(argv) < 2:
            raise SystemExit("--out needs a directory")
        out, argv = argv[1], argv[2:]
    os.makedirs(out, exist_ok=True)
    keys = argv or list(CONFIGS)
    for k in keys:
        if k not in CONFIGS:
            raise SystemExit(f"unknown model {k!r} (expected one of {', '.join(CONFIGS)})")
    files = {k: capture(k, out) for k in keys}
    # an experiment that runs every committed trace (plain-JSON ones: genie-sim reads no gzip)
    exp = {
        "name": "captured",
        "workloads": [{"family": "trace", "path": f"{k}.json", "name": f"captured-{k}"}
                      for k in CONFIGS if os.path.exists(os.path.join(out, f"{k}.json"))],
        "strategies": ["local", "remoting", "blind", "genie"],
        "sweep": {"network.bandwidth_gbps": [25, 100]},
    }
    with open(os.path.join(out, "captured.json"), "w") as f:
        json.dump(exp, f, indent=2)
        f.write("\n")
    return files


if __name__ == "__main__":
    main(sys.argv[1:])
