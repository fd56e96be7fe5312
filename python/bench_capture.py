#!/usr/bin/env python3
"""Prints the capture front end's overhead figures (issue 5).

    .venv/bin/python python/bench_capture.py [--quick] [--decode N] [--llm-size small|tiny]

1. Capture cost per op: a chain of small pointwise ops recorded on
   remote_accelerator (no execution happens while recording), in us/op,
   and the same for the ops of real models (GPT-2 prefill, ResNet-50).
2. End-to-end overhead of capture + analysis (building the SRG trace)
   relative to eager CPU execution of the same model, for each zoo model.
3. LLM decode with >= 64 steps: amortised overhead with the step-graph
   cache (and without it, for comparison), and for the steps after the
   first four, the model's forward and the time between forwards apart.
4. Module-hook time as a share of capture time.

Timings are best of --repeat runs (default 3) on this machine, with
torch.set_num_threads left at its default (--threads sets it). Section 3
also sums per-step minima of the main thread's CPU time: with --threads 1
all of the model's compute runs on that thread, so this estimator counts
the work both sides do and little of what other processes on a shared
machine do to the wall clock.
"""
import argparse
import gc
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402

import genie  # noqa: E402
from genie import core, models  # noqa: E402

DEV = "remote_accelerator"


class plain_torch:
    """Eager baselines run on plain PyTorch: genie's nn.Module.__call__ wrapper,
    installed process-wide at import, is swapped out for the duration (under
    it, the modules of a model that is not being captured take genie's slow
    path, ~2-10 us per module call, which would slow the baseline down)."""

    def __enter__(self):
        core.set_module_hooks(False)

    def __exit__(self, *exc):
        core.set_module_hooks(True)


def best(f, n):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def per_op_chain(n=5000, rep=3):
    x = torch.randn(64)

    def eager():
        y = x
        for _ in range(n):
            y = y * 1.0001 + 0.5

    xd = x.to(DEV)
    rec = {}

    def capture():
        with genie.capture("chain") as cap:
            y = xd
            t0 = time.perf_counter()
            for _ in range(n):
                y = y * 1.0001 + 0.5
            rec["record"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            cap.session.flush()
            rec["flush"] = time.perf_counter() - t0
    te = best(eager, rep)
    rs, fs = [], []
    for _ in range(rep):
        capture()
        rs.append(rec["record"])
        fs.append(rec["flush"])
    ops = 2 * n
    return te / ops * 1e6, min(rs) / ops * 1e6, min(fs) / ops * 1e6


def model_overhead(name, rep, **kw):
    m, inp, run = models.MODELS[name](**kw)
    with torch.no_grad():
        with plain_torch():
            run(m, inp)   # warm up
            te = best(lambda: run(m, inp), rep)
        # module calls per run (to price the hooks)
        calls = [0]
        h = torch.nn.modules.module.register_module_forward_pre_hook(lambda mod, a: calls.__setitem__(0, calls[0] + 1))
        try:
            run(m, inp)
        finally:
            h.remove()

        md = m.to(DEV)
        dinp = models.to_device(inp, DEV)
        res = {}

        def cap_run():
            with genie.capture(name) as cap:
                t0 = time.perf_counter()
                run(md, dinp).cpu()
                t1 = time.perf_counter()
                tr = cap.trace()
                t2 = time.perf_counter()
            stats = dict(cap.session.stats)
            res.setdefault("runs", []).append((t1 - t0, t2 - t1, stats, tr))
        for _ in range(rep):
            cap_run()
    run_s, ana_s, stats, tr = min(res["runs"], key=lambda r: r[0] + r[1])
    stats["module_calls"] = calls[0]
    return te, run_s, ana_s, stats, tr


def _bare_call(self, *args, **kwargs):
    """nn.Module.__call__ with genie's fast path but no module tracking (the bench's reference)."""
    if (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or self._backward_pre_hooks
            or core._gh0 or core._gh1 or core._gh2 or core._gh3
            or self._compiled_call_impl is not None or core._tracing()):
        return core._torch_call(self, *args, **kwargs)
    return self.forward(*args, **kwargs)


def hook_cost_per_call(rep):
    """Seconds genie's module tracking adds to one submodule call during a capture.

    A chain of 2000 Identity modules runs on a lazy tensor inside a capture
    (module names known, as in a real forward) with genie's
    ``nn.Module.__call__`` wrapper, with torch's own ``__call__``, and with
    a wrapper that takes the same fast path without tracking anything; the
    step bookkeeping of each top-level call (begin/end_forward, capture work
    that any design pays once per forward) is left out.  Returns (vs torch,
    tracking alone), in seconds per call; negative means genie's call path
    is cheaper than torch's.
    """
    n = 2000
    net = torch.nn.Sequential(*[torch.nn.Identity() for _ in range(n)])
    x = torch.zeros(1, device=DEV)
    reps = max(20, rep * 10)
    ts, without, bare = [], [], []
    with genie.capture("module calls") as cap:
        S = cap.session
        net(x)   # registers the names
        for _ in range(reps):   # interleaved, so all three see the same machine load; min of each
            s0 = S.step_s
            t0 = time.perf_counter()
            net(x)
            ts.append(time.perf_counter() - t0 - (S.step_s - s0))
            core.set_module_hooks(False)
            try:
                without.append(best(lambda: net(x), 1))
                torch.nn.Module.__call__ = _bare_call
                bare.append(best(lambda: net(x), 1))
            finally:
                core.set_module_hooks(True)
    return (min(ts) - min(without)) / n, (min(ts) - min(bare)) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller LLM")
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--llm-size", default="small", choices=["tiny", "small", "medium"])
    ap.add_argument("--sections", default="1,2,3", help="which figures to measure (comma list)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--cache", default="on,off", help="section 3: step cache settings to measure (on, off)")
    a = ap.parse_args()
    rep = 1 if a.quick else a.repeat
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, genie {genie.__version__}")

    secs = set(a.sections.split(","))
    if "1" in secs:
        per_op_section(rep)
    if "2" in secs:
        models_section(rep)
    if "3" in secs:
        decode_section(a, rep)


def per_op_section(rep):
    e, r, f = per_op_chain(rep=rep)
    print("\n1. capture cost per op (chain of 10,000 pointwise ops on float32[64])")
    print(f"   eager CPU: {e:.2f} us/op; recording: {r:.2f} us/op; deferred execution: {f:.2f} us/op")



def models_section(rep):
    per_call, tracking = hook_cost_per_call(rep)
    print("\n2. end-to-end: capture + analysis vs eager CPU (same model, same inputs)")
    print(f"   {'model':10} {'eager ms':>9} {'capture+exec ms':>16} {'analysis ms':>12} {'overhead':>9} "
          f"{'ops':>6} {'us/op':>7} {'hooks %':>8} {'tracking %':>11}")
    for name, kw in [("gpt2", {}), ("llama", {}), ("resnet50", {"image": 224}), ("dlrm", {}), ("vilt", {})]:
        te, rs, an, st, tr = model_overhead(name, rep, **kw)
        ops = st["ops"]
        over = (rs + an) / te - 1
        percap = max(0.0, (rs - st["flush_s"])) / max(1, ops) * 1e6
        hooks = st["module_calls"] * per_call / rs * 100
        track = st["module_calls"] * tracking / rs * 100
        print(f"   {name:10} {te * 1e3:9.2f} {rs * 1e3:16.2f} {an * 1e3:12.2f} {over * 100:8.0f}% "
              f"{ops:6d} {percap:7.1f} {hooks:7.2f}% {track:10.2f}%")
    print(f"   hooks % = module calls x {per_call * 1e6:+.3f} us (what genie's nn.Module.__call__ wrapper adds to "
          f"one module call vs torch's own call path, measured) / capture time;")
    print(f"   tracking % = module calls x {tracking * 1e6:+.3f} us (the path-stack bookkeeping alone, vs the "
          f"same wrapper tracking nothing) / capture time")



def _stamp(model, stamps, ends):
    """Wraps model.forward (an instance attribute) to note when each forward starts and ends.

    Installed before the first capture, so the step cache's own wrapper
    (stepcache.install_forward) calls this one: the stamps bracket the
    model's forward itself (eager on a replayed step, recorded op by op
    otherwise), and the step cache's bookkeeping falls between forwards.
    """
    f = model.forward

    def forward(*args, **kwargs):
        stamps.append((time.perf_counter(), time.thread_time()))
        try:
            return f(*args, **kwargs)
        finally:
            ends.append(time.perf_counter())
    model.forward = forward


def _share_weights(cpu_m, md):
    """Makes the eager twin compute on the very tensors the captured model computes on.

    Two copies of the same weights in one process need not cost the same:
    measured on GPT-2 small decode (eager, one thread, per-step minima), two
    deepcopies of one model, run alternately, differed by 1-11% a step in
    three processes, as much as the overhead being measured. Every
    parameter and buffer of cpu_m is pointed at the
    CPU value of md's (the storage that deferred execution and step replay
    use), so both sides read the same memory.
    """
    dev = dict(md.named_parameters())
    dev.update(md.named_buffers())
    for n, p in list(cpu_m.named_parameters()) + list(cpu_m.named_buffers()):
        v = dev[n]._val
        assert v is not None and v.shape == p.shape and v.dtype == p.dtype, n
        p.data = v


def _intervals(t0, stamps, t1):
    """(wall s, thread CPU s) of each interval between forward starts (t0 and t1 bracket the run)."""
    pts = [t0] + stamps + [t1]
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(pts, pts[1:])]


def _split(stamps, ends):
    """(forward durations, gaps from each forward's end to the next one's start), wall s."""
    starts = [x[0] for x in stamps]
    return [e - b for b, e in zip(starts, ends)], [b - e for e, b in zip(ends, starts[1:])]


def _per_step_min(runs):
    """Sum over steps of each step's minimum over runs (runs: lists of per-step seconds)."""
    return [min(col) for col in zip(*runs)]


def steadiness(tag):
    """Prints how steady the CPU is now (build/bench_steady, where built): the decode
    overhead moves with it, the Python work between forwards more than the forward."""
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bench_steady")
    if not os.access(exe, os.X_OK):
        return
    import subprocess
    out = subprocess.run([exe, "2"], capture_output=True, text=True).stdout.split()
    if len(out) >= 9 and out[-9] == "steady":
        print(f"   steadiness ({tag}): one kernel's mean time per 0.5 s window / its fastest: "
              f"x{out[-3]} to x{out[-1]} (bench/bench_steady.c)")


def decode_section(a, rep):
    sizes = {"tiny": dict(layers=2, d=64, heads=4, vocab=512),
             "small": dict(layers=12, d=768, heads=12, vocab=50257, max_pos=1024),
             "medium": dict(layers=24, d=1024, heads=16, vocab=50257, max_pos=1024)}
    size = "tiny" if a.quick else a.llm_size
    print(f"\n3. LLM decode, GPT-2 {size} ({sizes[size]}), prompt 32, {a.decode} decode steps "
          f"(generate(), greedy, KV cache)")
    print("   cold = first capture in the process (shape-propagation memo empty); warm = best of the next runs;")
    print("   per-step minima = each step's (forward start to next forward start) minimum over the warm runs,")
    print("   summed: the same estimator for eager and captured runs, robust to load that comes and goes")
    steadiness("before")
    for cache in [{"on": "1", "off": "0"}[c] for c in a.cache.split(",")]:
        os.environ["GENIE_STEP_CACHE"] = cache
        m, inp, run = models.gpt2(prompt=32, decode=a.decode, **sizes[size])
        with torch.no_grad():
            run(m, inp)
            # eager timings use a CPU twin of the model, interleaved with the
            # captured runs, so both see the same machine load; min of each
            import copy
            cpu_m = copy.deepcopy(m)
            md = m.to(DEV)
            dinp = models.to_device(inp, DEV)
            _share_weights(cpu_m, md)
            stamps, ends = [], []
            _stamp(cpu_m, stamps, ends)
            _stamp(md, stamps, ends)
            runs, eager, esteps, csteps, esplit, csplit = [], [], [], [], [], []
            for _ in range(max(rep, 2) + 1):
                # both sides start from a collected heap: a capture's session leaves its cyclic
                # garbage to the collector when it ends, which must not land in the eager run
                gc.collect()
                c0 = time.process_time()
                del stamps[:], ends[:]
                with plain_torch():
                    t0 = (time.perf_counter(), time.thread_time())
                    run(cpu_m, inp)
                    t1 = (time.perf_counter(), time.thread_time())
                eager.append((t1[0] - t0[0], time.process_time() - c0))
                esteps.append(_intervals(t0, stamps, t1))
                esplit.append(_split(stamps, ends))
                gc.collect()
                with genie.capture("decode") as cap:
                    c0 = time.process_time()
                    del stamps[:], ends[:]
                    t0 = (time.perf_counter(), time.thread_time())
                    run(md, dinp).cpu()
                    t1 = (time.perf_counter(), time.thread_time())
                    c1 = time.process_time() - c0
                    csteps.append(_intervals(t0, stamps, t1))
                    csplit.append(_split(stamps, ends))
                    tr = cap.trace()
                    t2 = time.perf_counter()
                runs.append((t1[0] - t0[0], t2 - t1[0], dict(cap.session.stats, cpu_s=c1), len(tr["steps"])))
                del tr, cap   # an application writes its trace and drops it
            del md, dinp, cpu_m
        te = min(e[0] for e in eager)
        tc = min(e[1] for e in eager)
        cold, warm = runs[0], min(runs[1:], key=lambda r: r[0])
        label = "on " if cache == "1" else "off"
        for tag, (rs, an, st, nsteps) in (("cold", cold), ("warm", warm)):
            print(f"   step cache {label} {tag}: eager {te:.3f} s, capture+exec {rs:.3f} s "
                  f"(overhead {(rs / te - 1) * 100:5.1f}%; CPU time {(st['cpu_s'] / tc - 1) * 100:5.1f}%), "
                  f"trace build {an * 1e3:6.1f} ms "
                  f"(with it {((rs + an) / te - 1) * 100:5.1f}%), "
                  f"{st.get('replayed_steps', 0)} of {nsteps} steps replayed")
        an_min = min(r[1] for r in runs[1:])     # building the trace (the analysis), fastest warm run
        for clock, name in ((0, "per-step minima"), (1, "per-step minima of thread CPU time")):
            e = _per_step_min([[x[clock] for x in r] for r in esteps[1:]])
            c = _per_step_min([[x[clock] for x in r] for r in csteps[1:]])
            se, sc = sum(e), sum(c)
            # intervals: [0] setup before the prefill, [1] prefill, [2..4] the 3 learning decode steps,
            # [5..-2] replayed (or, cache off, captured) decode steps, [-1] after the last forward
            head = (sum(c[:5]) - sum(e[:5])) * 1e3
            mid = len(c) - 6
            per = (sum(c[5:-1]) - sum(e[5:-1])) / max(1, mid) * 1e3
            print(f"   step cache {label} {name}: eager {se:.3f} s, capture+exec {sc:.3f} s "
                  f"(overhead {(sc / se - 1) * 100:5.1f}%; with the fastest warm trace build, capture + "
                  f"analysis {((sc + an_min) / se - 1) * 100:5.1f}%): prefill + 3 decode steps {head:+.1f} ms, "
                  f"{per:+.2f} ms per later step ({mid} steps), end {(c[-1] - e[-1]) * 1e3:+.1f} ms")
        # where a later step's overhead lies: the model's forward itself, or
        # between forwards (generate()'s tail, the step cache's bookkeeping)
        fe = _per_step_min([r[0] for r in esplit[1:]])[4:]
        fc = _per_step_min([r[0] for r in csplit[1:]])[4:]
        ge = _per_step_min([r[1] for r in esplit[1:]])[4:]
        gcap = _per_step_min([r[1] for r in csplit[1:]])[4:]
        if fe and ge:
            mf, mfc = statistics.median(fe), statistics.median(fc)
            mg, mgc = statistics.median(ge), statistics.median(gcap)
            print(f"   step cache {label} later steps ({len(fe)}; medians of each step's minimum over the warm runs): "
                  f"forward eager {mf * 1e3:.2f} ms, captured {mfc * 1e3:.2f} ms ({(mfc - mf) * 1e3:+.2f}); "
                  f"between forwards eager {mg * 1e3:.2f} ms, captured {mgc * 1e3:.2f} ms ({(mgc - mg) * 1e3:+.2f}): "
                  f"{((mfc + mgc) / (mf + mg) - 1) * 100:+.1f}% a step")
    os.environ["GENIE_STEP_CACHE"] = "1"
    steadiness("after")


if __name__ == "__main__":
    main()
