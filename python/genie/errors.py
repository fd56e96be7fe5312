"""Exceptions raised by the capture front end.

Every error names the aten op, the module path and the user's source line
that recorded it, and carries a hint, so that nothing is silently computed
wrong and the user knows where to look.
"""


class GenieError(RuntimeError):
    """Base class: a capture or deferred-execution failure."""

    def __init__(self, what, op=None, module=None, source=None, user=None, hint=None):
        self.what, self.op, self.module = what, op, module
        self.source, self.user, self.hint = source, user, hint
        parts = [what]
        if op:
            parts.append(f"op: {op}")
        if module:
            parts.append(f"module: {module}")
        if user:
            parts.append(f"at: {user}")
        if source and source != user:
            parts.append(f"library line: {source}")
        if hint:
            parts.append(f"hint: {hint}")
        super().__init__("\n  ".join(parts))


class GenieUnsupportedOp(GenieError):
    """An op the remote_accelerator device cannot capture."""


class GenieUnsupportedDtype(GenieError):
    """A dtype outside the SRG vocabulary (f32 f16 bf16 f64 i64 i32 i16 i8 u8 bool)."""


class GenieExecutionError(GenieError):
    """A recorded op failed when the deferred graph was executed."""
