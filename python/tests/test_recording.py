"""What the front end records for the executors (real/EXECUTOR.md): operand order and arguments.

A node the CPU executor runs is only right if the trace says which
elements a view takes, where a pooling window starts, which operand a
Python scalar is and in which order a matmul's operands come.  Each
assertion below is a convention of EXECUTOR.md that a capture once broke.
"""
import math

import torch
from torch import nn

import genie

DEV = "remote_accelerator"


class Small(nn.Module):
    """A stem (conv, padded max pool), a Linear (aten addmm), scalar operands and views."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.fc = nn.Linear(8, 6)

    def forward(self, x):
        y = self.pool(torch.relu(self.conv(x)))            # [2, 8, 4, 4]
        z = self.fc(y.mean((2, 3)))                        # addmm(bias, A, W^T)
        z = 1 - z * 0.5                                    # mul by a scalar, rsub
        z = torch.where(z > 0, z, float("-inf"))           # gt with a scalar, a -inf fill
        a, b = z.split([2, 4], dim=1)                      # split_with_sizes
        w = y.permute(0, 2, 3, 1)[:, 1:3, ::2, -1]         # permute, slice, slice with step, select
        return a.transpose(0, 1), b[-1], w


def _capture():
    torch.manual_seed(0)
    m = Small().eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        ref = m(x)
        with genie.capture("small") as cap:
            out = m.to(DEV)(x.to(DEV))
            out = [o.cpu() for o in out]
    return ref, out, cap.trace()


def _nodes(tr, aten):
    return [n for st in tr["steps"] for n in st["nodes"] if n.get("attrs", {}).get("aten") == aten]


def test_recorded_order_and_arguments():
    ref, out, tr = _capture()
    assert all(torch.equal(r, o) for r, o in zip(ref, out))
    assert genie.validate(tr) == []
    T = tr["steps"][0]["tensors"]

    # addmm: (A, W, bias) as the vocabulary says, not aten's (bias, A, W); cost unchanged
    mm, = _nodes(tr, "addmm")
    shapes = [T[i]["shape"] for i in mm["inputs"]]
    assert shapes == [[2, 8], [8, 6], [6]]
    assert T[mm["inputs"][2]].get("storage") == "fc.bias"
    assert mm["flops"] == 2 * 2 * 6 * 8 + 2 * 6
    assert mm["bytes"] == 4 * (16 + 48 + 6 + 12)

    # max_pool2d: padding recorded (the output size follows from it)
    pool, = _nodes(tr, "max_pool2d_with_indices")
    a = pool["attrs"]
    assert (a["fn"], a["kernel"], a["stride"], a["padding"]) == ("max", [3, 3], [2, 2], [1, 1])
    assert "dilation" not in a and "ceil_mode" not in a
    H = T[pool["inputs"][0]]["shape"][2]
    assert T[pool["outputs"][0]]["shape"][2] == (H + 2 * 1 - 3) // 2 + 1

    # scalar operands: one input, the value and its place
    mul, = _nodes(tr, "mul")
    assert len(mul["inputs"]) == 1 and mul["attrs"]["scalar"] == 0.5 and mul["attrs"]["scalar_pos"] == 1
    rsub, = _nodes(tr, "rsub")
    assert len(rsub["inputs"]) == 1
    assert (rsub["attrs"]["fn"], rsub["attrs"]["scalar"], rsub["attrs"]["scalar_pos"]) == ("sub", 1, 0)
    gt, = _nodes(tr, "gt")
    assert gt["attrs"]["scalar"] == 0 and gt["attrs"]["scalar_pos"] == 1
    fills = [n["attrs"]["value"] for n in _nodes(tr, "fill_")]
    assert "-inf" in fills                                  # JSON has no -inf: written as a string
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in fills)

    # views: the arguments that say which elements they take, dims normalised
    sp, = _nodes(tr, "split_with_sizes")
    assert sp["attrs"]["dim"] == 1 and sp["attrs"]["sizes"] == [2, 4] and len(sp["outputs"]) == 2
    pm, = _nodes(tr, "permute")
    assert pm["attrs"]["dims"] == [0, 2, 3, 1]
    sl = [n["attrs"] for n in _nodes(tr, "slice")]
    assert {"dim": 1, "start": 1, "end": 3, "step": 1} in [{k: s[k] for k in ("dim", "start", "end", "step")}
                                                           for s in sl]
    assert any(s["dim"] == 2 and s["step"] == 2 and s["start"] == 0 and s["end"] == 4 for s in sl)
    sels = [n["attrs"] for n in _nodes(tr, "select")]
    assert {"dim": 3, "index": 7} in [{"dim": s["dim"], "index": s["index"]} for s in sels]   # [..., -1]
    assert {"dim": 0, "index": 1} in [{"dim": s["dim"], "index": s["index"]} for s in sels]   # b[-1]
    tp, = _nodes(tr, "transpose")
    assert tp["attrs"]["dims"] == [0, 1]


def test_causal_attention_says_top_left():
    q = torch.randn(1, 2, 3, 8)
    k = torch.randn(1, 2, 5, 8)
    with torch.no_grad(), genie.capture("sdpa") as cap:
        o = torch.nn.functional.scaled_dot_product_attention(q.to(DEV), k.to(DEV), k.to(DEV), is_causal=True)
        o.cpu()
    att, = [n for n in cap.trace()["steps"][0]["nodes"] if n["op"] == "attention"]
    assert att["attrs"]["causal"] and att["attrs"]["causal_align"] == "top_left"


def test_attention_scale_is_recorded():
    """SDPA's scale: recorded when given (the executors read attrs.scale), absent when torch's default."""
    q = torch.randn(1, 2, 3, 8)
    with torch.no_grad(), genie.capture("sdpa") as cap:
        a = torch.nn.functional.scaled_dot_product_attention(q.to(DEV), q.to(DEV), q.to(DEV), scale=0.5)
        b = torch.nn.functional.scaled_dot_product_attention(q.to(DEV), q.to(DEV), q.to(DEV))
        got_a, got_b = a.cpu(), b.cpu()
    torch.testing.assert_close(got_a, torch.nn.functional.scaled_dot_product_attention(q, q, q, scale=0.5))
    att = [n for n in cap.trace()["steps"][0]["nodes"] if n["op"] == "attention"]
    assert att[0]["attrs"]["scale"] == 0.5 and "scale" not in att[1]["attrs"]


def test_standalone_modules_get_distinct_storages():
    """Two modules captured without a parent both call their weight "weight": one storage name
    must be one tensor (libgenie refuses a trace where it is not), so the later one is prefixed."""
    a, b = nn.Linear(4, 4).to(DEV), nn.Linear(4, 2).to(DEV)
    x = torch.randn(1, 4)
    with torch.no_grad(), genie.capture("two") as cap:
        b(a(x.to(DEV))).cpu()
        b(a(x.to(DEV))).cpu()
    tr = cap.trace()
    assert genie.validate(tr) == []
    by_name = {}
    for st in tr["steps"]:
        for t in st["tensors"]:
            if t["kind"] == "param":
                assert by_name.setdefault(t["storage"], t["shape"]) == t["shape"], t["storage"]
    assert {"weight", "bias", "Linear_1.weight", "Linear_1.bias"} == set(by_name)


def test_index_isin_and_full_reductions():
    """x[:, idx] with one 1-D index tensor is index_select along its dim; torch.isin records
    invert; a reduction over every dim (x.any()) lists them all."""
    x = torch.arange(12).reshape(3, 4)
    idx = torch.tensor([3, 0])
    with torch.no_grad(), genie.capture("ix") as cap:
        xd = x.to(DEV)
        y = xd[:, idx.to(DEV)]
        z = torch.isin(xd, torch.tensor([1, 5]).to(DEV), invert=True)
        w = (xd > 4).any()
        assert torch.equal(y.cpu(), x[:, idx]) and torch.equal(z.cpu(), torch.isin(x, torch.tensor([1, 5]),
                                                                                   invert=True))
        assert bool(w) is True
    tr = cap.trace()
    ix, = _nodes(tr, "index")
    assert (ix["attrs"]["fn"], ix["attrs"]["dim"]) == ("index_select", 1)
    isin, = _nodes(tr, "isin")
    assert isin["attrs"]["invert"] is True
    anyn, = _nodes(tr, "any")
    assert anyn["attrs"]["dims"] == [0, 1]


def test_kwarg_only_arguments_are_recorded():
    """alpha / beta are kwarg-only in aten: recorded, so an executor that does not scale refuses
    the node (real/opcheck.c) instead of computing x + y for x + 2y."""
    x, y = torch.randn(2, 3), torch.randn(2, 3)
    with torch.no_grad(), genie.capture("kw") as cap:
        r = torch.add(x.to(DEV), y.to(DEV), alpha=2)
        s = torch.add(x.to(DEV), y.to(DEV))
        assert torch.equal(r.cpu(), torch.add(x, y, alpha=2)) and torch.equal(s.cpu(), x + y)
    adds = [n["attrs"] for n in _nodes(cap.trace(), "add")]
    assert sorted(a.get("alpha", 1) for a in adds) == [1, 2.0]


def test_gelu_forms():
    """aten gelu is exact (erf) unless approximate="tanh"; EXECUTOR.md's "gelu" is the tanh form:
    nn.GELU() must be recorded gelu_erf, nn.GELU("tanh") gelu."""
    x = torch.randn(2, 5)
    seq = nn.Sequential(nn.GELU(), nn.GELU(approximate="tanh")).eval()
    with torch.no_grad(), genie.capture("gelu") as cap:
        y = seq.to(DEV)(x.to(DEV)).cpu()
    assert torch.equal(y, seq(x))
    fns = [n["attrs"]["fn"] for n in cap.trace()["steps"][0]["nodes"] if n["op"] == "elementwise"]
    assert fns == ["gelu_erf", "gelu"]


def test_div_rounding_mode_is_recorded():
    x = torch.tensor([7, -7])
    with torch.no_grad(), genie.capture("div") as cap:
        y = torch.div(x.to(DEV), 2, rounding_mode="floor").cpu()
    assert torch.equal(y, torch.tensor([3, -4]))
    d, = _nodes(cap.trace(), "div")
    assert d["attrs"]["rounding_mode"] == "floor"


def test_attribute_memo_leaves_every_trace_as_derived():
    """Session.record derives a node's op and attributes once per shape-memo key
    (core._attrs_memo); the traces of the zoo models must equal those derived
    op by op (second captures, so both memos hit)."""
    import json

    from genie import core, models

    class Never(dict):
        def get(self, key, default=None):
            return None

        def __setitem__(self, key, value):
            pass

    saved = core._attrs_memo
    try:
        for name, kw in (("gpt2", {"decode": 6}), ("dlrm", {}), ("vilt", {}), ("resnet50", {"image": 32})):
            m, inp, run = models.MODELS[name](**kw)
            with torch.no_grad():
                md = m.to(DEV)
                dinp = models.to_device(inp, DEV)
                traces = []
                for memo in (Never(), {}):
                    core._attrs_memo = memo
                    for _ in range(2):
                        with genie.capture(name) as cap:
                            run(md, dinp).cpu()
                            traces.append(json.dumps(cap.trace(), sort_keys=True, default=str))
            assert traces[1] == traces[2] == traces[3], name
    finally:
        core._attrs_memo = saved
