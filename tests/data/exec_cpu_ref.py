#!/usr/bin/env python3
"""Reference numbers for tests/test_exec_cpu.c, computed independently by torch.

The cases of test_exec_cpu.c marked "torch reference" paste what this prints
(inputs and expected outputs as C initialisers).  Rerun after changing a case:

    .venv/bin/python tests/data/exec_cpu_ref.py

Printed with torch 2.13.0+cpu.  Inputs are small fixed numbers (not random)
so that the C file can state them too.
"""
import torch
import torch.nn.functional as F


def cfloat(v):
    """V as a C float literal."""
    if v != v:
        return "NAN"
    if v in (float("inf"), float("-inf")):
        return "INFINITY" if v > 0 else "-INFINITY"
    s = "%.9g" % v
    return s + ("f" if any(ch in s for ch in ".e") else ".0f")


def arr(name, t, fmt=None, ctype="float"):
    vals = t.flatten().tolist()
    f = cfloat if ctype == "float" else (lambda v: fmt % v)
    print(f"    {ctype} {name}[{len(vals)}] = {{" + ", ".join(f(v) for v in vals) + "};")


def bits(name, t):
    """An f16/bf16 tensor as its uint16 bit patterns."""
    vals = t.contiguous().view(torch.int16).flatten().tolist()
    print(f"    uint16_t {name}[{len(vals)}] = {{" + ", ".join("0x%04x" % (v & 0xffff) for v in vals) + "};")


def seq(n, mul=7, mod=13, off=6, div=4.0):
    return torch.tensor([((i * mul) % mod - off) / div for i in range(n)], dtype=torch.float32)


print("/* test_half_conversion */")
vals = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 65519.0, 65520.0, 1e6, 6.1035156e-05, 6.0e-05, 5.96e-08,
                     2.98e-08, 2.9802322e-08, 1.0009766, 1.00048828125, 1.00146484375, 3.14159265, -1e-3,
                     float("inf"), float("-inf"), 3.0e38, 1.00390625, 1.01171875, 1.0e-40],
                    dtype=torch.float32)
arr("cv", vals)
bits("cv16", vals.to(torch.float16))
bits("cvbf", vals.to(torch.bfloat16))
arr("cv16back", vals.to(torch.float16).float())

print("/* test_half_ops: matmul f16 [2,3] @ [4,3]^T + bias, our rule: f32 compute, one rounding */")
a, w, b = seq(6).half(), seq(12, 5, 11, 5, 3.0).half(), seq(4, 3, 7, 3, 8.0).half()
bits("ha", a), bits("hw", w), bits("hb", b)
bits("hmm", (a.float().view(2, 3) @ w.float().view(4, 3).t() + b.float()).half())
bits("hmm_torch", F.linear(a.view(2, 3), w.view(4, 3), b))
print("/* layer_norm bf16 [2,4], weight, bias */")
x, lw, lb = seq(8, 3, 11, 5, 2.0).bfloat16(), seq(4, 5, 7, 2, 3.0).bfloat16(), seq(4, 2, 5, 2, 4.0).bfloat16()
bits("bx", x), bits("blw", lw), bits("blb", lb)
bits("bln", F.layer_norm(x.float().view(2, 4), [4], lw.float(), lb.float(), 1e-5).bfloat16())
bits("bln_torch", F.layer_norm(x.view(2, 4), [4], lw, lb, 1e-5))
print("/* softmax f16 [2,4], gelu(tanh) bf16 */")
bits("hsm", F.softmax(seq(8).half().float().view(2, 4), -1).half())
bits("hsm_torch", F.softmax(seq(8).half().view(2, 4), -1))
bits("bge", F.gelu(x.float(), approximate="tanh").bfloat16())
bits("bge_torch", F.gelu(x, approximate="tanh"))

print("/* test_group_norm: x [2,4,3], groups 2, eps 1e-5 */")
gx, gw, gb = seq(24, 5, 17, 8, 3.0), seq(4, 3, 5, 2, 2.0), seq(4, 2, 3, 1, 4.0)
arr("gx", gx), arr("gw", gw), arr("gb", gb)
y, mean, rstd = torch.ops.aten.native_group_norm(gx.view(2, 4, 3), gw, gb, 2, 4, 3, 2, 1e-5)
arr("gy", y), arr("gmean", mean), arr("grstd", rstd)
arr("gy_noaffine", F.group_norm(gx.view(2, 4, 3), 4, eps=1e-5))

print("/* test_bag_offsets: weight [6,3], ids [8], offsets [0,2,2,5] (bag 1 empty) */")
ew = seq(18, 5, 19, 9, 4.0)
ids = torch.tensor([1, 2, 4, 5, 4, 3, 2, 0])
off = torch.tensor([0, 2, 2, 5])
psw = seq(8, 3, 7, 2, 2.0)
arr("ew", ew), arr("epsw", psw)
for mode, name in ((0, "sum"), (1, "mean"), (2, "max")):
    r = torch.ops.aten._embedding_bag(ew.view(6, 3), ids, off, False, mode, False, None, False, -1)
    arr(f"e_{name}", r[0])
    if mode:
        arr(f"e_{name}_o2b", r[1], "%d", "int64_t"), arr(f"e_{name}_bsz", r[2], "%d", "int64_t")
        arr(f"e_{name}_maxi", r[3], "%d", "int64_t")
r = torch.ops.aten._embedding_bag(ew.view(6, 3), ids, off, False, 0, False, psw, False, -1)
arr("e_psw", r[0])
r = torch.ops.aten._embedding_bag(ew.view(6, 3), ids, torch.tensor([0, 2, 2, 5, 7]), False, 0, False, None, True, -1)
arr("e_last", r[0])  # include_last_offset: the last bag ends at offsets[4] = 7
r = F.embedding_bag(ids, ew.view(6, 3), off, mode="mean", padding_idx=4)
arr("e_pad_mean", r)

print("/* test_attention_mask: q [1,2,2,4], k, v [1,1,3,4] (GQA) */")
q, k, v = seq(16, 5, 11, 5, 4.0).view(1, 2, 2, 4), seq(12, 7, 9, 4, 3.0).view(1, 1, 3, 4), seq(12, 4, 13, 6, 5.0).view(1, 1, 3, 4)
arr("aq", q), arr("ak", k), arr("av", v)
kk, vv = k.expand(1, 2, 3, 4), v.expand(1, 2, 3, 4)
bm = torch.tensor([[True, False, True], [False, False, False]])           # [T, Tk]: row 1 all masked
arr("a_bool", F.scaled_dot_product_attention(q, kk, vv, attn_mask=bm))
am = seq(12, 5, 7, 3, 2.0).view(1, 2, 2, 3)                               # per head, additive
arr("amask", am)
arr("a_add", F.scaled_dot_product_attention(q, kk, vv, attn_mask=am))
cm = torch.tensor([[True, True, False], [True, False, True]])
# causal with T = 2 < Tk = 3: torch aligns top-left; the executor (a KV cache) bottom-right,
# so the causal case is computed with T = Tk = 3 queries, where both agree
q3 = seq(24, 5, 11, 5, 4.0).view(1, 2, 3, 4)
cm3 = torch.tensor([[True, True, True], [False, True, True], [True, False, True]])
arr("aq3", q3)
arr("a_causal", F.scaled_dot_product_attention(q3, kk, vv, attn_mask=cm3, is_causal=True))
