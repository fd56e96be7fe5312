import os
import shutil
import subprocess

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import pytest  # noqa: E402
import torch  # noqa: E402

import genie  # noqa: E402
from genie import models  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEV = "remote_accelerator"


def capture_model(name, **kw):
    """Runs a zoo model eagerly and captured (same seed); returns (eager out, captured out, trace)."""
    m, inp, run = models.MODELS[name](**kw)
    with torch.no_grad():
        torch.manual_seed(1)
        ref = run(m, inp)
        md = m.to(DEV)
        with genie.capture(name) as cap:
            torch.manual_seed(1)
            out = run(md, models.to_device(inp, DEV)).cpu()
    return ref, out, cap.trace()


def tool(name):
    """Path of a C program built in build/, or None."""
    p = os.path.join(REPO, "build", name)
    return p if os.path.isfile(p) and os.access(p, os.X_OK) else None


@pytest.fixture(scope="session")
def captured():
    cache = {}

    def get(name, **kw):
        key = (name, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = capture_model(name, **kw)
        return cache[key]
    return get
