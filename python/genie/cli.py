"""genie-capture: run an unmodified script with the remote_accelerator device.

    genie-capture [-o TRACE] [--name NAME] script.py [script args...]

The script needs not import genie; it only has to put its model and
inputs on "remote_accelerator".  At exit the session is written as an SRG
trace (gzip when TRACE ends in .gz) and summarised on stderr.
"""
import argparse
import os
import runpy
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(prog="genie-capture", description=__doc__.split("\n\n")[1])
    ap.add_argument("-o", "--output", default="trace.json", help="trace file (default trace.json)")
    ap.add_argument("--name", help="session name (default: the script's name)")
    ap.add_argument("script")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    import genie
    s = genie.new_session(a.name or os.path.basename(a.script))
    sys.argv = [a.script] + a.args
    sys.path.insert(0, os.path.dirname(os.path.abspath(a.script)))
    rc = 0
    try:
        runpy.run_path(a.script, run_name="__main__")
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    s = genie.session()
    if not any(st.nodes for st in s.steps):
        print(f"genie-capture: {a.script} ran nothing on remote_accelerator; no trace written "
              f"(hint: move the model and inputs with .to('remote_accelerator'))", file=sys.stderr)
        return rc or 1
    tr = s.trace()
    errs = genie.validate(tr)
    if errs:
        print("genie-capture: internal error, the trace is invalid:\n  " + "\n  ".join(errs[:10]), file=sys.stderr)
        return 2
    genie.save_trace(tr, a.output)
    sm = genie.summary(tr)
    print(f"genie-capture: {a.output}: {sm['steps']} steps, {sm['nodes']} nodes, {sm['flops']:.4g} FLOPs, "
          f"{sm['param_bytes']} parameter bytes", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
