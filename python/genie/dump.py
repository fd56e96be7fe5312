"""Session records -> SRG trace v1.0 (traces/SCHEMA.md).

Done once, at the end: module-intent fusion, kinds (reads become outputs),
dense renumbering of tensors and nodes, and FLOP/byte costs by the SCHEMA.md
conventions (optable.cost, the only place costs are computed).

Module-intent fusion: a module whose *class* says what it computes (an
activation written as several pointwise ops such as GPT-2's NewGELU, a
hand-written RMSNorm, a DLRM dot interaction) is collapsed into the one
vocabulary op it implements, with the group's external inputs and outputs.
The C generators count these as one op, so captured and generated traces
of the same model agree.
"""
import gc
import gzip
import json
import math
import re

import torch

from . import optable
from .core import (N_ATEN, N_ATTRS, N_INS, N_MODULE, N_OP, N_OUTS, N_SRC, T_DTYPE, T_EXT, T_KIND,
                   T_SHAPE, T_STORAGE, _fmt_src)

_SIZE = {v[0]: v[1] for v in optable.DTYPES.values()}
_LAYER = re.compile(r"\.(\d+)(?:\.|$)")


# GELU modules that compute the tanh approximation (EXECUTOR.md "gelu"); HF's
# QuickGELU (x·σ(1.702x)) and ClippedGELU are neither form and stay as their ops.
_GELU_TANH = {"NewGELUActivation", "FastGELUActivation", "AccurateGELUActivation", "GELUTanh",
              "PytorchGELUTanh", "NewGELU"}


def _intent(cls):
    """(op, base attrs) a module class implements as one op, or None."""
    if cls.endswith("RMSNorm"):
        return "rms_norm", {}
    c = cls.lower()
    if "interaction" in c:
        return "interaction", {}
    if cls in _GELU_TANH:
        return "elementwise", {"fn": "gelu"}
    if cls == "GELUActivation":          # HF's exact gelu (erf): EXECUTOR.md's gelu_erf
        return "elementwise", {"fn": "gelu_erf"}
    if cls in ("SiLUActivation", "SiLU"):
        return "elementwise", {"fn": "silu"}
    return None


def _fuse(step, classes):
    """Collapses each contiguous run of nodes of an intent module into one node."""
    nodes = step.nodes
    intents = {}
    for mod, cls in classes.items():
        it = _intent(cls)
        if it is not None:
            intents[mod] = it
    if not intents:
        return nodes
    consumers = {}
    for k, n in enumerate(nodes):
        if n[N_MODULE] in intents:
            for i in n[N_INS]:
                consumers.setdefault(i, [])
    for k, n in enumerate(nodes):
        for i in n[N_INS]:
            c = consumers.get(i)
            if c is not None:
                c.append(k)
    for n in nodes:
        if n[N_MODULE] in intents:
            for o in n[N_OUTS]:
                consumers.setdefault(o, [])
    for k, n in enumerate(nodes):
        for i in n[N_INS]:
            c = consumers.get(i)
            if c is not None and (not c or c[-1] != k):
                c.append(k)
    read_ids = {r[0] for r in step.reads}
    out = []
    k = 0
    while k < len(nodes):
        n = nodes[k]
        mod = n[N_MODULE]
        it = intents.get(mod)
        if it is None:
            out.append(n)
            k += 1
            continue
        j = k
        while j < len(nodes) and nodes[j][N_MODULE] == mod:
            j += 1
        group = nodes[k:j]
        if len(group) == 1 and it[0] == "elementwise":
            g = list(group[0])
            g[N_ATTRS] = {**(g[N_ATTRS] or {}), **it[1]}
            g[N_OP] = "elementwise"
            out.append(g)
            k = j
            continue
        produced = set()
        for g in group:
            produced.update(g[N_OUTS])
        ins = []
        for g in group:
            for i in g[N_INS]:
                if i not in produced and i not in ins:
                    ins.append(i)
        outs = [i for g in group for i in g[N_OUTS]
                if i in read_ids or step.tensors[i][T_EXT] or step.tensors[i][T_KIND] == "state"
                or any(c >= j or c < k for c in consumers.get(i, ()))]
        if not outs:
            outs = list(group[-1][N_OUTS])
        attrs = dict(it[1])
        if it[0] == "interaction":
            mm = next((g for g in group if g[N_OP] == "matmul"), None)
            if mm is None:
                out.extend(group)
                k = j
                continue
            a = mm[N_ATTRS]
            attrs.update({"batch": a.get("batch", 1), "features": a["m"], "dim": a["k"]})
        fused = list(group[0])
        fused[N_OP], fused[N_INS], fused[N_OUTS], fused[N_ATTRS] = it[0], ins, outs, attrs
        fused[N_ATEN] = "+".join(sorted({g[N_ATEN] for g in group}))
        out.append(fused)
        k = j
    return out


def _num(x):
    return int(x) if float(x).is_integer() and abs(x) < 2 ** 53 else float(x)


def build_step(step, classes):
    step.expand()
    nodes = _fuse(step, classes)
    used = set()
    for n in nodes:
        used.update(n[N_INS])
        used.update(n[N_OUTS])
    for r in step.reads:
        used.add(r[0])
    order = sorted(used)
    remap = {old: new for new, old in enumerate(order)}
    produced = set()
    for n in nodes:
        produced.update(n[N_OUTS])
    tensors = []
    sizes = {}
    read_ids = {r[0] for r in step.reads}
    for old in order:
        rec = step.tensors[old]
        dt, shape, kind, storage = rec[T_DTYPE][0], rec[T_SHAPE], rec[T_KIND], rec[T_STORAGE]
        numel = math.prod(shape)
        nbytes = numel * _SIZE[dt]
        sizes[old] = (numel, nbytes)
        if old in produced:
            if kind in ("param", "input"):
                kind = "activation"
            if kind == "activation" and old in read_ids:
                kind = "output"
        else:
            if kind not in ("param", "input", "state"):
                kind = "input"
        t = {"id": remap[old], "dtype": dt, "shape": shape, "bytes": nbytes, "kind": kind}
        if kind in ("param", "state"):
            t["storage"] = storage
        tensors.append(t)
    out_nodes = []
    for k, n in enumerate(nodes):
        attrs = n[N_ATTRS] or {}
        n_ins = n[N_INS]
        perm = optable.INPUT_ORDER.get(n[N_ATEN], {}).get(len(n_ins))
        if perm is not None:          # aten's operand order -> the vocabulary's (EXECUTOR.md)
            n_ins = [n_ins[j] for j in perm]
        ins = [sizes[i] for i in n_ins]
        outs = [sizes[i] for i in n[N_OUTS]]
        flops, nbytes = optable.cost(n[N_OP], attrs, ins, outs)
        node = {"id": k, "op": n[N_OP], "inputs": [remap[i] for i in n_ins],
                "outputs": [remap[i] for i in n[N_OUTS]], "flops": _num(flops), "bytes": _num(nbytes)}
        if n[N_MODULE]:
            node["module"] = n[N_MODULE]
        a = {k2: v for k2, v in attrs.items() if not k2.startswith("_") and k2 != "macs_per_out"}
        if n[N_OP] == "opaque":
            a = {"name": n[N_ATEN]}
        elif n[N_ATEN] not in ("scaled_dot_product_attention",):
            a["aten"] = n[N_ATEN]
        if n[N_OP] == "attention" and a.get("causal"):
            a["causal_align"] = "top_left"   # torch's is_causal (EXECUTOR.md "attention")
        if a:
            node["attrs"] = a
        m = _LAYER.search(n[N_MODULE] or "")
        if m:
            node["hints"] = {"layer": int(m.group(1))}
        src = _fmt_src(n[N_SRC])
        if src:
            node["source"] = src
        out_nodes.append(node)
    reads = []
    for r in step.reads:
        d = {"tensor": remap[r[0]], "reason": r[1]}
        src = _fmt_src(r[2])
        if src:
            d["source"] = src
        reads.append(d)
    s = {"phase": step.phase or ("forward" if step.has_forward else "unknown")}
    if step.label:
        s["label"] = step.label
    s.update({"tensors": tensors, "nodes": out_nodes})
    if reads:
        s["reads"] = reads
    return s


def build_trace(session):
    was = gc.isenabled()
    gc.disable()          # building creates many small dicts; collector scans would double the cost
    try:
        steps = [build_step(st, session.classes) for st in session.steps if st.nodes or st.reads or st.deferred]
    finally:
        if was:
            gc.enable()
    if not steps:
        raise ValueError("the session recorded nothing: no op ran on remote_accelerator")
    model = dict(session.model)
    model.setdefault("aten_ops", dict(sorted(session.aten_seen.items())))
    used = {t["storage"] for st in steps for t in st["tensors"] if t["kind"] == "param"}
    model.setdefault("buffers", sorted(used & session.buffers))
    return {"schema": "genie.srg", "version": "1.0", "name": session.name,
            "source": f"capture torch-{torch.__version__.split('+')[0]}", "model": model, "steps": steps}


def save_trace(trace, path):
    """Writes trace as compact JSON (gzip when path ends in .gz). Returns path."""
    data = json.dumps(trace, separators=(",", ":")).encode()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb", compresslevel=9, mtime=0) as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
    return path


def load_trace(path):
    if str(path).endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return json.loads(f.read())
    with open(path, "rb") as f:
        return json.loads(f.read())
