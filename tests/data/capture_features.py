#!/usr/bin/env python3
"""Captures tests/data/captured_features.json with the PyTorch front end (python/).

Small modules whose ops the real runtime's CPU executor gained for issue 4
(item 3), recorded exactly as the front end records them, so that
tests/e2e_genie_real.sh runs a captured trace for real:

  - F.scaled_dot_product_attention with a bool mask and with an additive
    mask (GQA through enable_gqa);
  - nn.EmbeddingBag(mode="sum") with offsets and per_sample_weights, and
    mode="max";
  - nn.GroupNorm in f16, nn.LayerNorm in bf16.

Each output is checked bit-identical to eager CPU.

    .venv/bin/python tests/data/capture_features.py
"""
import os
import sys

import torch
import torch.nn.functional as F

import genie

HERE = os.path.dirname(os.path.abspath(__file__))


class Features(torch.nn.Module):
    """The modules as children of one root, so their parameters get distinct storage names."""

    def __init__(self):
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(20, 6, mode="sum")
        self.bagmax = torch.nn.EmbeddingBag(20, 6, mode="max")
        self.gn = torch.nn.GroupNorm(2, 4).half()
        self.ln = torch.nn.LayerNorm(8).bfloat16()

    def forward(self, q, k, v, bmask, amask, ids, offsets, psw, x16, xbf):
        return [
            F.scaled_dot_product_attention(q, k, v, attn_mask=bmask, enable_gqa=True),
            F.scaled_dot_product_attention(q, k, v, attn_mask=amask, enable_gqa=True),
            self.bag(ids, offsets, per_sample_weights=psw),
            self.bagmax(ids, offsets),
            self.gn(x16),
            self.ln(xbf),
        ]


def main():
    torch.manual_seed(0)
    m = Features()
    inputs = [torch.randn(1, 2, 4, 8), torch.randn(1, 1, 4, 8), torch.randn(1, 1, 4, 8),
              torch.tensor([[1, 0, 1, 1], [1, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.bool).view(1, 1, 4, 4),
              torch.randn(1, 2, 4, 4), torch.randint(0, 20, (10,)), torch.tensor([0, 3, 3, 7]), torch.rand(10),
              torch.randn(2, 4, 3, 3).half(), torch.randn(3, 8).bfloat16()]
    with torch.no_grad():
        ref = m(*inputs)
        md = m.to("remote_accelerator")
        with genie.capture("captured features: masked SDPA, EmbeddingBag with offsets, f16 GroupNorm, "
                           "bf16 LayerNorm") as cap:
            out = [t.cpu() for t in md(*[t.to("remote_accelerator") for t in inputs])]
    for i, (a, b) in enumerate(zip(ref, out)):
        if not torch.equal(a, b):
            sys.exit(f"output {i}: captured run differs from eager CPU")
    tr = cap.trace()
    errs = genie.validate(tr)
    if errs:
        sys.exit("invalid trace:\n  " + "\n  ".join(errs[:10]))
    genie.save_trace(tr, os.path.join(HERE, "captured_features.json"))


if __name__ == "__main__":
    main()
