"""A validator for SRG traces v1.x (traces/SCHEMA.md), used by the tests.

validate(trace) returns a list of "JSON-PATH: what was expected" strings,
empty when the trace is valid, mirroring the C loader's messages.
"""
import math

from .optable import DTYPES, VOCAB

_SIZES = {v[0]: v[1] for v in DTYPES.values()}
_KINDS = ("param", "input", "activation", "state", "output")
_PHASES = ("prefill", "decode", "forward", "backward", "unknown")


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x):
    return (isinstance(x, (int, float)) and not isinstance(x, bool)) and math.isfinite(x)


def validate(tr):
    errs = []
    e = errs.append
    if not isinstance(tr, dict):
        return ["$: expected an object"]
    if tr.get("schema") != "genie.srg":
        e('$.schema: expected "genie.srg"')
    v = tr.get("version")
    if not isinstance(v, str) or v.split(".")[0] != "1":
        e('$.version: expected "1.x"')
    if not isinstance(tr.get("name"), str):
        e("$.name: expected a string")
    steps = tr.get("steps")
    if not isinstance(steps, list) or not steps:
        e("$.steps: expected a non-empty array")
        return errs
    produced_storage = set()
    for s, st in enumerate(steps):
        p = f"$.steps[{s}]"
        if st.get("phase", "unknown") not in _PHASES:
            e(f"{p}.phase: unknown phase {st.get('phase')!r}")
        ts, ns = st.get("tensors"), st.get("nodes")
        if not isinstance(ts, list) or not isinstance(ns, list):
            e(f"{p}: expected arrays tensors and nodes")
            continue
        for i, t in enumerate(ts):
            q = f"{p}.tensors[{i}]"
            if t.get("id") != i:
                e(f"{q}.id: expected {i} (ids are dense)")
            dt = t.get("dtype")
            if dt not in _SIZES:
                e(f"{q}.dtype: unknown dtype {dt!r}")
                continue
            shape = t.get("shape")
            if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
                e(f"{q}.shape: expected an array of integers >= 0")
                continue
            if t.get("bytes") != math.prod(shape) * _SIZES[dt]:
                e(f"{q}.bytes: expected numel x dtype size = {math.prod(shape) * _SIZES[dt]}, got {t.get('bytes')}")
            if t.get("kind") not in _KINDS:
                e(f"{q}.kind: unknown kind {t.get('kind')!r}")
            if t.get("kind") in ("param", "state") and not isinstance(t.get("storage"), str):
                e(f"{q}.storage: required for kind {t.get('kind')}")
        producer = {}
        for k, n in enumerate(ns):
            q = f"{p}.nodes[{k}]"
            if n.get("id") != k:
                e(f"{q}.id: expected {k} (ids are dense)")
            if n.get("op") not in VOCAB:
                e(f"{q}.op: unknown op {n.get('op')!r}")
            for f in ("inputs", "outputs"):
                ids = n.get(f)
                if not isinstance(ids, list) or not all(_is_int(i) and 0 <= i < len(ts) for i in ids):
                    e(f"{q}.{f}: expected an array of tensor ids < {len(ts)}")
            if not n.get("outputs"):
                e(f"{q}.outputs: expected at least one output")
            for f in ("flops", "bytes"):
                if not _is_num(n.get(f)) or n.get(f) < 0:
                    e(f"{q}.{f}: expected a number >= 0")
            if n.get("op") == "opaque" and not isinstance((n.get("attrs") or {}).get("name"), str):
                e(f"{q}.attrs.name: required for opaque")
            for o in n.get("outputs") or []:
                if _is_int(o) and o in producer:
                    e(f"{q}.outputs: tensor {o} already produced by node {producer[o]}")
                producer[o] = k
        for i, t in enumerate(ts):
            if i not in producer and t.get("kind") not in ("param", "input", "state"):
                e(f"{p}.tensors[{i}].kind: a leaf (produced by no node) must be param, input or state, got {t.get('kind')!r}")
            if i not in producer and t.get("kind") == "state" and t.get("storage") not in produced_storage:
                e(f"{p}.tensors[{i}].storage: state {t.get('storage')!r} read before any step produced it")
        # acyclic
        indeg = {k: 0 for k in range(len(ns))}
        succ = {k: [] for k in range(len(ns))}
        for k, n in enumerate(ns):
            for i in n.get("inputs") or []:
                if i in producer:
                    succ[producer[i]].append(k)
                    indeg[k] += 1
        ready = [k for k, d in indeg.items() if d == 0]
        seen = 0
        while ready:
            k = ready.pop()
            seen += 1
            for m in succ[k]:
                indeg[m] -= 1
                if indeg[m] == 0:
                    ready.append(m)
        if seen != len(ns):
            e(f"{p}.nodes: the graph has a cycle")
        for r, rd in enumerate(st.get("reads") or []):
            if not _is_int(rd.get("tensor")) or not 0 <= rd["tensor"] < len(ts):
                e(f"{p}.reads[{r}].tensor: expected a tensor id < {len(ts)}")
        for i, t in enumerate(ts):
            if i in producer and t.get("kind") == "state":
                produced_storage.add(t.get("storage"))
    return errs


def summary(tr):
    """Totals used by tests and reports: flops, param bytes (distinct storages, module buffers
    such as GPT-2's causal-mask ``attn.bias`` excluded: they are listed in model.buffers),
    nodes, opaque count."""
    flops = sum(n["flops"] for st in tr["steps"] for n in st["nodes"])
    params = {}
    buffers = set((tr.get("model") or {}).get("buffers") or ())
    for st in tr["steps"]:
        for t in st["tensors"]:
            if t["kind"] == "param" and t["storage"] not in buffers:
                params[t["storage"]] = t["bytes"]
    nodes = sum(len(st["nodes"]) for st in tr["steps"])
    opaque = sum(1 for st in tr["steps"] for n in st["nodes"] if n["op"] == "opaque")
    return {"flops": flops, "param_bytes": sum(params.values()), "nodes": nodes, "opaque": opaque,
            "steps": len(tr["steps"])}
