"""Genie's PyTorch front end: ``remote_accelerator`` as a lazy, recording device.

``import genie`` is all an application needs: it registers PyTorch's
PrivateUse1 backend as ``remote_accelerator``, so that unmodified code
(``model.to("remote_accelerator")``, ``torch.randn(..., device=...)``,
``x.to(...)``) runs on lazy tensors whose ops are deferred and recorded as
an SRG trace (traces/SCHEMA.md).  Values are computed, bit-identically to
eager CPU PyTorch, only when the application reads them.

    import genie
    ...                                   # unmodified model code
    genie.session().save("trace.json")    # or: genie-capture app.py -o trace.json

Set GENIE_TRACE=path to write the trace at interpreter exit.
"""
import atexit
import os

from .core import BACKEND, LazyTensor, install, new_session, session
from .dump import load_trace, save_trace
from .errors import GenieError, GenieExecutionError, GenieUnsupportedDtype, GenieUnsupportedOp
from .validate import summary, validate

__version__ = "0.1.0"
__all__ = ["BACKEND", "LazyTensor", "session", "new_session", "capture", "save_trace", "load_trace",
           "validate", "summary", "GenieError", "GenieExecutionError", "GenieUnsupportedDtype",
           "GenieUnsupportedOp"]

install()


class capture:
    """Context manager: a fresh session for the block; ``.trace()`` / ``.save()`` afterwards.

        with genie.capture("gpt2 generate") as cap:
            out = model.generate(ids, max_new_tokens=8)
        cap.save("gpt2.json")
    """

    def __init__(self, name="capture", model=None):
        self.name, self.model_info = name, model or {}
        self.session = None

    def __enter__(self):
        self.session = new_session(self.name)
        self.session.model.update(self.model_info)
        return self

    def __exit__(self, *exc):
        self.session.flush()
        new_session("capture")
        return False

    def trace(self):
        return self.session.trace()

    def save(self, path):
        return self.session.save(path)


def _save_at_exit():
    path = os.environ.get("GENIE_TRACE")
    if path:
        s = session()
        if any(st.nodes for st in s.steps):
            s.save(path)


atexit.register(_save_at_exit)
