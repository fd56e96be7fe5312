#!/usr/bin/env python3
"""Counts the instructions the capture front end adds to an LLM decode (issue 5).

    .venv/bin/python python/bench_instructions.py [--layers 12] [--d 64] [--steps 6,16]

Wall-clock overhead on a shared VM moves with the machine (bench_capture.py
prints how steady it is); instruction counts do not.  This runs one warm
generate() of a GPT-2 (random weights, vocabulary 50257, prompt 32, greedy,
KV cache) under valgrind's callgrind, with instrumentation switched on only
around that generate() (callgrind_control), eagerly and under genie.capture
(step cache on), for two decode lengths, and the analysis that follows
capture (building the SRG trace of that session: cap.trace()) on its own.
The difference between the lengths divided by their difference gives the
instructions of one later decode step; the rest, those of the prefill and
the steps before the step cache replays (the "head").

The default width (d=64) keeps the run to minutes: the per-step Python work
of capture depends on the number of layers (tensors to swap, KV tensors to
wrap), not on their width, while the model's own compute, which eager and
captured runs share, shrinks, so the overhead's share is larger than in a
GPT-2 small of d=768.  Instructions are not time: Python's bookkeeping
misses the caches more often than the model's kernels, so a share of
instructions understates the share of time.  Needs valgrind (Debian
package `valgrind`); not part of CI.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def child(a):
    """Inside valgrind: build the model, run one warm-up generate(), count the next one."""
    sys.path.insert(0, HERE)
    import torch
    torch.set_num_threads(1)
    import genie
    from genie import core, models
    m, inp, run = models.gpt2(prompt=32, decode=a.n, layers=a.layers, d=a.d, heads=4, vocab=50257,
                              max_pos=1024)

    def count(on):
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                       capture_output=True, check=True)
    with torch.no_grad():
        if a.mode == "eager":
            core.set_module_hooks(False)
            run(m, inp)
            count(True)
            run(m, inp)
            count(False)
        else:
            md = m.to("remote_accelerator")
            dinp = models.to_device(inp, "remote_accelerator")
            with genie.capture("warm-up") as cap:
                run(md, dinp).cpu()
                cap.trace()
            with genie.capture("decode") as cap:
                if a.mode == "capture":
                    count(True)
                run(md, dinp).cpu()
                if a.mode == "capture":
                    count(False)
                else:          # analysis: building the trace of that session
                    count(True)
                    cap.trace()
                    count(False)


def instructions(a, mode, n):
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
           sys.executable, os.path.abspath(__file__), "--child", mode, "--n", str(n),
           "--layers", str(a.layers), "--d", str(a.d)]
    env = dict(os.environ, GENIE_STEP_CACHE="1")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    m = re.findall(r"Collected : (\d+)", p.stderr)
    if p.returncode != 0 or not m:
        sys.exit(f"bench_instructions: {mode} run of {n} steps failed (exit {p.returncode}):\n{p.stderr[-2000:]}")
    return int(m[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", type=int, default=12, help="transformer layers (GPT-2 small has 12)")
    ap.add_argument("--d", type=int, default=64, help="model width (768 is GPT-2 small: hours under valgrind)")
    ap.add_argument("--steps", default="6,16", help="the two decode lengths (generate's max_new_tokens - 1)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="valgrind runs at once")
    ap.add_argument("--child", choices=("eager", "capture", "analysis"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        a.mode = a.child
        return child(a)
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            sys.exit(f"bench_instructions: {tool} not found (apt-get install valgrind)")
    n1, n2 = (int(x) for x in a.steps.split(","))
    if not 4 <= n1 < n2:
        sys.exit("bench_instructions: --steps wants two lengths 4 <= N1 < N2 (the step cache replays from the 4th)")
    print(f"GPT-2, {a.layers} layers, d={a.d}, vocabulary 50257: instructions of one warm generate() "
          f"(valgrind callgrind), decode lengths {n1} and {n2}")
    modes = ("eager", "capture", "analysis")
    runs = [(mode, n) for mode in modes for n in (n1, n2)]
    # counts do not depend on timing, so the runs may share the cores
    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as pool:
        counts = list(pool.map(lambda r: instructions(a, *r), runs))
    res = dict(zip(runs, counts))
    for (mode, n), c in res.items():
        print(f"   {mode:8} {n:3} steps: {c / 1e6:10.2f} M")
    step = {mode: (res[mode, n2] - res[mode, n1]) / (n2 - n1) for mode in modes}
    fixed = {mode: res[mode, n1] - step[mode] * n1 for mode in modes}
    e = step["eager"]
    head = fixed["capture"] - fixed["eager"]
    print(f"   later decode step: eager {e / 1e6:.2f} M, captured {step['capture'] / 1e6:.2f} M "
          f"({(step['capture'] / e - 1) * 100:+.1f}%)")
    print(f"   head (prefill and the steps before replay, beyond eager): {head / 1e6:.1f} M "
          f"= {head / e:.1f} eager decode steps")
    print(f"   analysis (building the trace): {step['analysis'] / 1e6:.2f} M a later step "
          f"({step['analysis'] / e * 100:+.1f}% of an eager step), {fixed['analysis'] / 1e6:.1f} M besides "
          f"= {fixed['analysis'] / e:.1f} eager decode steps")
    tot = {n: res["capture", n] + res["analysis", n] for n in (n1, n2)}
    print(f"   capture + analysis vs eager: {n1} steps {(tot[n1] / res['eager', n1] - 1) * 100:+.1f}%, "
          f"{n2} steps {(tot[n2] / res['eager', n2] - 1) * 100:+.1f}%")


if __name__ == "__main__":
    main()
