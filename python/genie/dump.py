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
from itertools import compress, count
from operator import is_not, ne

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


def _fusion_plan(step, classes):
    """How _apply_plan collapses each contiguous run of an intent module's nodes into one node.

    The plan depends only on the step's structure (modules, tensor ids,
    reads, kinds), so a later step of the same structure reuses it
    (build_trace).  Entries: ("n", k) node k as it is; ("e", k, intent) node
    k alone in an elementwise intent module; ("g", k, j, ins, outs, intent,
    aten) nodes k..j-1 as one node.
    """
    nodes = step.nodes
    intents = {}
    for mod, cls in classes.items():
        it = _intent(cls)
        if it is not None:
            intents[mod] = it
    if not intents:
        return [("n", k) for k in range(len(nodes))]
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
    plan = []
    k = 0
    while k < len(nodes):
        n = nodes[k]
        mod = n[N_MODULE]
        it = intents.get(mod)
        if it is None:
            plan.append(("n", k))
            k += 1
            continue
        j = k
        while j < len(nodes) and nodes[j][N_MODULE] == mod:
            j += 1
        group = nodes[k:j]
        if len(group) == 1 and it[0] == "elementwise":
            plan.append(("e", k, it))
            k = j
            continue
        if it[0] == "interaction" and not any(g[N_OP] == "matmul" for g in group):
            plan.extend(("n", x) for x in range(k, j))
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
        plan.append(("g", k, j, ins, outs, it, "+".join(sorted({g[N_ATEN] for g in group}))))
        k = j
    return plan


def _apply_one(nodes, p):
    """The node record that plan entry p (_fusion_plan) makes of the step's node records."""
    if p[0] == "n":
        return nodes[p[1]]
    if p[0] == "e":
        g = list(nodes[p[1]])
        g[N_ATTRS] = {**(g[N_ATTRS] or {}), **p[2][1]}
        g[N_OP] = "elementwise"
        return g
    _, k, j, ins, outs, it, aten = p
    attrs = dict(it[1])
    if it[0] == "interaction":
        a = next(g for g in nodes[k:j] if g[N_OP] == "matmul")[N_ATTRS]
        attrs.update({"batch": a.get("batch", 1), "features": a["m"], "dim": a["k"]})
    fused = list(nodes[k])
    fused[N_OP], fused[N_INS], fused[N_OUTS], fused[N_ATTRS], fused[N_ATEN] = it[0], ins, outs, attrs, aten
    return fused


def _apply_plan(nodes, plan):
    """The step's node records after module-intent fusion (plan from _fusion_plan)."""
    return [nodes[p[1]] if p[0] == "n" else _apply_one(nodes, p) for p in plan]


class _PlanIndex:
    """Where a fused node comes from and what it touches, for build_like: the fused index of
    each node record, and the fused nodes that read or write each tensor record."""
    __slots__ = ("rec2f", "users")

    def __init__(self, plan, fused):
        self.rec2f = []
        for f, p in enumerate(plan):
            self.rec2f.extend([f] * (p[2] - p[1] if p[0] == "g" else 1))
        users = {}
        for f, n in enumerate(fused):
            for i in n[N_INS]:
                users.setdefault(i, []).append(f)
            for i in n[N_OUTS]:
                users.setdefault(i, []).append(f)
        self.users = users


def _num(x):
    return int(x) if float(x).is_integer() and abs(x) < 2 ** 53 else float(x)


def _operands(n):
    """Node record n's inputs in the vocabulary's operand order (aten's may differ: EXECUTOR.md)."""
    n_ins = n[N_INS]
    perm = optable.INPUT_ORDER.get(n[N_ATEN], {}).get(len(n_ins))
    return n_ins if perm is None else [n_ins[j] for j in perm]


def _node_attrs(n):
    """The trace "attrs" of node record n (None when empty)."""
    attrs = n[N_ATTRS] or {}
    a = {k2: v for k2, v in attrs.items() if not k2.startswith("_") and k2 != "macs_per_out"}
    if n[N_OP] == "opaque":
        a = {"name": n[N_ATEN]}
    elif n[N_ATEN] not in ("scaled_dot_product_attention",):
        a["aten"] = n[N_ATEN]
    if n[N_OP] == "attention" and a.get("causal"):
        a["causal_align"] = "top_left"   # torch's is_causal (EXECUTOR.md "attention")
    return a or None


def _node_dict(k, n, remap, sizes):
    """The trace node of fused node record n (the k-th of its step)."""
    n_ins = _operands(n)
    flops, nbytes = optable.cost(n[N_OP], n[N_ATTRS] or {}, [sizes[i] for i in n_ins],
                                 [sizes[i] for i in n[N_OUTS]])
    node = {"id": k, "op": n[N_OP], "inputs": [remap[i] for i in n_ins],
            "outputs": [remap[i] for i in n[N_OUTS]], "flops": _num(flops), "bytes": _num(nbytes)}
    if n[N_MODULE]:
        node["module"] = n[N_MODULE]
    a = _node_attrs(n)
    if a:
        node["attrs"] = a
    m = _LAYER.search(n[N_MODULE] or "")
    if m:
        node["hints"] = {"layer": int(m.group(1))}
    src = _fmt_src(n[N_SRC])
    if src:
        node["source"] = src
    return node


def _node_like(proto, n, same_attrs, sizes):
    """_node_dict for record n, of the same structure as the record proto was built from."""
    node = dict(proto)
    flops, nbytes = optable.cost(n[N_OP], n[N_ATTRS] or {}, [sizes[i] for i in _operands(n)],
                                 [sizes[i] for i in n[N_OUTS]])
    node["flops"], node["bytes"] = _num(flops), _num(nbytes)
    if not same_attrs:
        a = _node_attrs(n)
        if a:
            node["attrs"] = a
        else:
            node.pop("attrs", None)
    return node


def _step_dict(step, tensors, nodes, reads):
    s = {"phase": step.phase or ("forward" if step.has_forward else "unknown")}
    if step.label:
        s["label"] = step.label
    s.update({"tensors": tensors, "nodes": nodes})
    if reads:
        s["reads"] = reads
    return s


class _Built:
    """A step as built, with what a later step of the same structure can reuse."""
    __slots__ = ("step", "plan", "index", "order", "remap", "sizes", "tensors", "nodes", "reads")


def build_step(step, classes):
    """(trace step dict, _Built) of step's records (expanded: Step.expand), built from scratch."""
    plan = _fusion_plan(step, classes)
    nodes = _apply_plan(step.nodes, plan)
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
    out_nodes = [_node_dict(k, n, remap, sizes) for k, n in enumerate(nodes)]
    reads = []
    for r in step.reads:
        d = {"tensor": remap[r[0]], "reason": r[1]}
        src = _fmt_src(r[2])
        if src:
            d["source"] = src
        reads.append(d)
    b = _Built()
    b.step, b.plan, b.index, b.order, b.remap, b.sizes = step, plan, _PlanIndex(plan, nodes), order, remap, sizes
    b.tensors, b.nodes, b.reads = tensors, out_nodes, reads
    return _step_dict(step, tensors, out_nodes, reads), b


def _same_structure(a, b):
    """Whether steps a and b differ at most in tensor shapes and node attributes: None if
    not, else (the indices of a's tensor records unequal to b's, the indices of a's node
    records that are not b's very objects).

    Then fusion, the dense renumbering, kinds, modules and sources of b's
    built form hold for a too (build_like).  Most records are equal as a
    whole (a replayed step's node records are shared with the step before
    it: stepcache.Template.expand); the unequal ones are found by loops in
    C (map, compress) and compared field by field, as slices of the
    records: T_KIND, T_STORAGE; N_OP, N_INS, N_OUTS; N_MODULE, N_SRC.
    """
    if len(a.tensors) != len(b.tensors) or len(a.nodes) != len(b.nodes) or a.reads != b.reads \
            or a.phase != b.phase or a.has_forward != b.has_forward:
        return None
    at, bt = a.tensors, b.tensors
    dt = list(compress(count(), map(ne, at, bt)))
    for i in dt:
        x, y = at[i], bt[i]
        if x[2:4] != y[2:4] or x[T_DTYPE] != y[T_DTYPE] or x[T_EXT] != y[T_EXT] or len(x[T_SHAPE]) != len(y[T_SHAPE]):
            return None
    an, bn = a.nodes, b.nodes
    dn = list(compress(count(), map(is_not, an, bn)))
    for i in dn:
        x, y = an[i], bn[i]
        if x != y and (x[:3] != y[:3] or x[4:6] != y[4:6] or x[N_ATEN] != y[N_ATEN]):
            return None
    return dt, dn


def _same_types(a, b):
    """Whether equal values a and b also have the same types throughout, so they write the
    same JSON (1 == 1.0 and True == 1 in Python)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        for k, v in a.items():
            w = b[k]
            if type(v) is not type(w) or (type(v) in _NESTED and not _same_types(v, w)):
                return False
        return True
    if type(a) in _NESTED:
        return all(_same_types(x, y) for x, y in zip(a, b))
    return True


_NESTED = (list, tuple, dict)


def build_like(step, proto, diff):
    """build_step for a step with proto's structure (diff: what _same_structure found unequal):
    only what changed is built.

    A decode step replayed from the step cache differs from the previous
    one in the shapes the KV length moves and in the attributes of the
    nodes that touch them; every other tensor and node dict is proto's own
    object, shared (the trace is the same as built from scratch; copy a
    step before editing it in place).  Only the fused nodes of the unequal
    node records and those that read or write a tensor whose shape changed
    are looked at.
    """
    dt, dn = diff
    recs, precs = step.tensors, proto.step.tensors
    remap = proto.remap
    sizes = proto.sizes
    changed = set()
    for old in dt:
        sh = recs[old][T_SHAPE]
        if old in remap and sh != precs[old][T_SHAPE]:
            if not changed:
                sizes = dict(sizes)
            numel = math.prod(sh)
            sizes[old] = (numel, numel * _SIZE[recs[old][T_DTYPE][0]])
            changed.add(old)
    tensors = proto.tensors
    if changed:
        tensors = list(tensors)
        for old in changed:
            t = dict(tensors[remap[old]])
            t["shape"] = recs[old][T_SHAPE]
            t["bytes"] = sizes[old][1]
            tensors[remap[old]] = t
    index, plan = proto.index, proto.plan
    dirty = {index.rec2f[k] for k in dn}
    users = index.users
    for old in changed:
        dirty.update(users.get(old, ()))
    out_nodes = proto.nodes
    if dirty:
        out_nodes = list(out_nodes)
        nochange = changed.isdisjoint
        nodes, pnodes = step.nodes, proto.step.nodes
        for f in dirty:
            n, pn = _apply_one(nodes, plan[f]), _apply_one(pnodes, plan[f])
            a, pa = n[N_ATTRS], pn[N_ATTRS]
            same = a is pa or (a == pa and _same_types(a, pa))
            if not (same and nochange(n[N_INS]) and nochange(n[N_OUTS])):
                out_nodes[f] = _node_like(out_nodes[f], n, same, sizes)
    b = _Built()
    b.step, b.plan, b.index, b.order, b.remap, b.sizes = step, plan, index, proto.order, remap, sizes
    b.tensors, b.nodes, b.reads = tensors, out_nodes, proto.reads
    return _step_dict(step, tensors, out_nodes, proto.reads), b


def build_trace(session):
    was = gc.isenabled()
    gc.disable()          # building creates many small dicts; collector scans would double the cost
    try:
        steps = []
        prev = None
        for st in session.steps:
            if not (st.nodes or st.reads or st.deferred):
                continue
            st.expand()
            diff = _same_structure(st, prev.step) if prev is not None else None
            if diff:
                s, prev = build_like(st, prev, diff)
            else:
                s, prev = build_step(st, session.classes)
            steps.append(s)
    finally:
        if was:
            if session.gc_frozen:
                # the trace joins the objects the session froze (unfrozen when it ends:
                # Session.release_gc_state): re-enabling the collector would
                # otherwise start with a scan of every dict just built
                gc.freeze()
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
