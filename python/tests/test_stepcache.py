"""The step-graph cache: replayed decode steps give the same values and the same trace."""
import json
import os

import pytest
import torch

import genie
from genie import core, models

DEV = "remote_accelerator"


def _canon(st):
    T = st["tensors"]

    def td(i):
        t = T[i]
        return (t["dtype"], tuple(t["shape"]), t["kind"], t.get("storage") or "")
    nodes = sorted((n["op"], n["flops"], n["bytes"], n.get("module") or "", json.dumps(n.get("attrs"), sort_keys=True),
                    tuple(td(i) for i in n["inputs"]), tuple(td(i) for i in n["outputs"])) for n in st["nodes"])
    reads = sorted((r["reason"], r.get("source") or "", td(r["tensor"])) for r in st.get("reads", []))
    return st["phase"], nodes, reads


def _run(name, cache, decode=10):
    m, inp, run = models.MODELS[name](decode=decode)
    old = os.environ.get("GENIE_STEP_CACHE")
    os.environ["GENIE_STEP_CACHE"] = "1" if cache else "0"
    try:
        with torch.no_grad():
            torch.manual_seed(1)
            ref = run(m, inp)
            md = m.to(DEV)
            with genie.capture(name) as cap:
                torch.manual_seed(1)
                out = run(md, models.to_device(inp, DEV)).cpu()
    finally:
        if old is None:
            os.environ.pop("GENIE_STEP_CACHE")
        else:
            os.environ["GENIE_STEP_CACHE"] = old
    return ref, out, cap.trace(), cap.session.stats


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_replayed_steps_same_values_same_trace(name):
    ref, out, cached, stats = _run(name, True)
    assert torch.equal(ref, out)
    assert stats.get("replayed_steps", 0) == 10 + 1 - 1 - 3   # prefill, 3 learning decode steps
    assert stats.get("tail_ops", 0) > 0                        # generate()'s own ops replayed too
    assert genie.validate(cached) == []
    ref2, out2, full, stats2 = _run(name, False)
    assert "replayed_steps" not in stats2 and torch.equal(ref2, out2)
    assert len(cached["steps"]) == len(full["steps"])
    for a, b in zip(cached["steps"], full["steps"]):
        assert _canon(a) == _canon(b)


@pytest.mark.parametrize("kw", [dict(cache_implementation="static"),
                                dict(do_sample=True, top_k=50)], ids=["static-cache", "sampling"])
def test_replay_with_static_cache_and_sampling(kw):
    """In-place KV updates (StaticCache) and RNG-consuming sampling stay bit-identical under replay."""
    m, inp, _ = models.llama(decode=8)
    gen = dict(max_new_tokens=9, min_new_tokens=9, **kw)
    if not kw.get("do_sample"):
        gen["do_sample"] = False
    with torch.no_grad():
        torch.manual_seed(7)
        ref = m.generate(**inp, **gen)
        md = m.to(DEV)
        with genie.capture("kw") as cap:
            torch.manual_seed(7)
            out = md.generate(**models.to_device(inp, DEV), **gen).cpu()
    assert torch.equal(ref, out)
    assert cap.session.stats.get("replayed_steps", 0) >= 4
    assert genie.validate(cap.trace()) == []


def test_tail_event_shape_guard():
    """A replayed tail op's results must have the shapes the progression predicts, or replay stops.

    The expected shapes are tuples (a torch.Size equals the tuple of its
    sizes, never a list): a guard comparing against lists would reject
    every op and silently stop tail replay, one comparing nothing would
    accept a result that left the progression.
    """
    from genie import stepcache
    ev = stepcache._TailEvent()
    ev.tshapes = [(1, 40)]
    ev.svar = [(0, 1, 40, 1)]          # output 0, dim 1: 40 + 1 * k
    assert ev.shapes_ok(torch.zeros(1, 40), 0)
    assert ev.shapes_ok(torch.zeros(1, 43), 3)
    assert not ev.shapes_ok(torch.zeros(1, 43), 2)
    assert not ev.shapes_ok(torch.zeros(2, 43), 3)
    ev.svar = []
    assert ev.shapes_ok(torch.zeros(1, 40), 5)
    assert not ev.shapes_ok(torch.zeros(1, 41), 5)
    assert not ev.shapes_ok(torch.zeros(40), 5)
    # several results: each checked; more results than the template knew is a mismatch
    ev.tshapes = [(2,), (3, 1)]
    assert ev.shapes_ok((torch.zeros(2), torch.zeros(3, 1)), 0)
    assert not ev.shapes_ok((torch.zeros(2), torch.zeros(3, 2)), 0)
    ev.tshapes = [(2,)]
    assert not ev.shapes_ok((torch.zeros(2), torch.zeros(3, 1)), 0)


def test_tail_replay_runs_every_op_of_the_template():
    """In a replayed step every tail op of generate() is replayed, not captured as usual.

    Only the last step may leave the template (generate stops instead of
    preparing another step); a guard that rejected good ops would show as
    one miss per replayed step.
    """
    ref, out, cached, stats = _run("gpt2", True)
    assert torch.equal(ref, out)
    replayed = stats["replayed_steps"]
    assert stats.get("tail_misses", 0) <= 1
    assert stats["tail_ops"] >= 10 * (replayed - 1)


def test_trace_of_replayed_steps_built_like_the_previous_equals_built_from_scratch(monkeypatch):
    """dump.build_like (a step of the previous one's structure: only what changed is built)
    writes exactly the trace that building every step from scratch writes."""
    from genie import dump
    m, inp, run = models.gpt2(decode=10)
    with torch.no_grad():
        md = m.to(DEV)
        with genie.capture("like") as cap:
            run(md, models.to_device(inp, DEV)).cpu()
    calls = []
    like = dump.build_like
    monkeypatch.setattr(dump, "build_like", lambda st, proto, diff: calls.append(st) or like(st, proto, diff))
    fast = json.dumps(cap.trace(), sort_keys=True)
    assert len(calls) >= 6                     # the replayed decode steps took the fast path
    monkeypatch.setattr(dump, "_same_structure", lambda a, b: False)
    assert json.dumps(cap.trace(), sort_keys=True) == fast


def test_built_like_writes_an_attribute_whose_type_alone_changed(monkeypatch):
    """An attribute equal to the previous step's in value but not in type (1 vs 1.0)
    is written as this step's, as building the step from scratch writes it."""
    from genie import dump
    from genie.core import N_ATTRS
    m, inp, run = models.gpt2(decode=8)
    with torch.no_grad():
        md = m.to(DEV)
        with genie.capture("like-types") as cap:
            run(md, models.to_device(inp, DEV)).cpu()
    steps = cap.session.steps
    for st in steps:
        st.expand()
    calls = []
    like = dump.build_like
    monkeypatch.setattr(dump, "build_like", lambda st, proto, diff: calls.append(st) or like(st, proto, diff))
    cap.trace()
    st = calls[len(calls) // 2]                         # a step built like the one before it
    prev = steps[steps.index(st) - 1]
    for k, (n, pn) in enumerate(zip(st.nodes, prev.nodes)):
        a = n[N_ATTRS]
        key = next((x for x, v in (a or {}).items() if type(v) is int), None)
        if key is not None and a == pn[N_ATTRS]:
            n = list(n)                                # a new record: records are shared between steps
            n[N_ATTRS] = {**a, key: float(a[key])}
            st.nodes[k] = n
            break
    else:
        raise AssertionError("no node with an integer attribute equal to the previous step's")
    fast = cap.trace()
    got = [s for s in fast["steps"] if s.get("label") == st.label][0]["nodes"]
    assert any(isinstance(v, float) for nd in got for x, v in nd.get("attrs", {}).items() if x == key)
    monkeypatch.setattr(dump, "_same_structure", lambda a, b: False)
    assert json.dumps(cap.trace(), sort_keys=True) == json.dumps(fast, sort_keys=True)


def _manual_decode(model, dev, change):
    """A hand-written decode loop (9 steps) that changes something the step's
    shapes do not show from the 7th step on (CHANGE)."""
    m, inp, _ = models.gpt2(decode=8)
    x = inp["input_ids"].to(dev)
    am = torch.ones_like(x)
    out = model(input_ids=x, attention_mask=am, use_cache=True)
    pkv, toks, hooks = out.past_key_values, [], []
    for i in range(9):
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        toks.append(nxt)
        am = torch.cat([am, torch.ones_like(nxt)], 1)
        kw = {}
        if i >= 6:
            if change == "kwarg":
                kw["output_hidden_states"] = True
            elif change == "dtype":
                am = am.float()
            elif change == "hook" and i == 6:
                hooks.append(model.transformer.h[0].mlp.register_forward_hook(lambda mod, a, o: o * 2))
        out = model(input_ids=nxt, attention_mask=am, past_key_values=pkv, use_cache=True, **kw)
        pkv = out.past_key_values
    for h in hooks:
        h.remove()
    return torch.cat(toks, 1), out.logits


@pytest.mark.parametrize("change", ["kwarg", "dtype", "hook"])
def test_replay_guards_see_what_shapes_do_not(change):
    """output_hidden_states=True, a mask of another dtype, a forward hook added mid-loop:
    the step is captured again (same values, same trace as op by op), not replayed
    from a template that lacks it."""
    m, _, _ = models.gpt2(decode=8)
    with torch.no_grad():
        ref = _manual_decode(m, "cpu", change)
        md = m.to(DEV)
        traces = {}
        old = os.environ.get("GENIE_STEP_CACHE")
        try:
            for cache in ("1", "0"):
                os.environ["GENIE_STEP_CACHE"] = cache
                with genie.capture("guards") as cap:
                    toks, logits = _manual_decode(md, DEV, change)
                    toks, logits = toks.cpu(), logits.cpu()
                assert torch.equal(toks, ref[0]) and torch.equal(logits, ref[1])
                traces[cache] = (cap.trace(), cap.session.stats.get("replayed_steps", 0))
        finally:
            if old is None:
                os.environ.pop("GENIE_STEP_CACHE", None)
            else:
                os.environ["GENIE_STEP_CACHE"] = old
    (cached, replayed), (full, _) = traces["1"], traces["0"]
    assert replayed > 0                       # steps before the change were replayed
    assert len(cached["steps"]) == len(full["steps"])
    for a, b in zip(cached["steps"], full["steps"]):
        assert _canon(a) == _canon(b)
