"""The remote_accelerator device: lazy tensors, deferred execution, capture.

Design
------
* ``remote_accelerator`` is PyTorch's PrivateUse1 device, renamed.  The
  only kernels registered for the PrivateUse1 dispatch key are the two
  allocators (``empty.memory_format``, ``empty_strided``); every factory
  function (``randn``, ``zeros``, ``x.to(dev)``, ``module.to(dev)``)
  decomposes into one of them followed by an op on the result.
* A tensor on the device is a ``LazyTensor``: a wrapper subclass
  (``_make_wrapper_subclass``) whose ``__torch_dispatch__`` sees every aten
  op after autograd and composite decompositions.  It holds a *meta*
  tensor (shape, strides, dtype; shape propagation runs the op on meta
  tensors) and, once executed, its *value*: a real CPU tensor.
* Every op is appended to the *pending* list (program order) and to the
  trace of the current step.  Nothing runs until a value is needed; then
  ``flush()`` executes all pending ops in program order on the CPU through
  PyTorch itself.  Program order (rather than demand order) keeps in-place
  ops on views exactly as eager: the same kernels on the same aliased CPU
  storage in the same order, hence bit-identical results.
* Materialisation points (``.item() .cpu() .tolist() .numpy() print bool()
  int() float() index``, data-dependent ops) flush, are recorded as
  ``reads`` of the step with the user's source line, and return the value.
* Module paths come from a wrapper installed as ``nn.Module.__call__`` (a
  stack of names); each top-level forward starts a new *step*.
* Trace identity: each LazyTensor carries a ``_tr`` (step, local id).  A
  tensor used in a later step than the one that produced it is imported
  there as a leaf: ``param`` if it is a module parameter or buffer,
  ``state`` otherwise (the producer's record becomes ``state`` too); KV
  caches found in ``past_key_values`` are named ``<attention module>.k_cache``
  / ``.v_cache`` like the C generators name them.
* Views share an alias *root* ``[version, last mutated alias]``; a write
  through one alias bumps the version, and a stale alias used afterwards
  gets a ``view`` node from the newest version, so the trace's data
  dependencies stay right under mutation.
"""
import functools
import gc
import math
import os
import weakref
import sys
import time

import torch

from . import optable
from .errors import GenieExecutionError, GenieUnsupportedDtype, GenieUnsupportedOp

BACKEND = "remote_accelerator"
aten = torch.ops.aten

# ====================================================================== device registration

_lib = None


def _register_backend():
    """Registers PrivateUse1 as remote_accelerator (idempotent)."""
    global _lib
    if _lib is not None:
        return
    name = torch._C._get_privateuse1_backend_name()
    if name != BACKEND:
        try:
            from torch.utils.backend_registration import _setup_privateuseone_for_python_backend
            _setup_privateuseone_for_python_backend(BACKEND)
        except ImportError:  # torch < 2.5: rename only (device guard from C++ stubs)
            torch.utils.rename_privateuse1_backend(BACKEND)
            torch.utils.generate_methods_for_privateuse1_backend()
    _lib = torch.library.Library("aten", "IMPL")
    _lib.impl("empty.memory_format", _empty_memory_format, "PrivateUse1")
    _lib.impl("empty_strided", _empty_strided, "PrivateUse1")
    # torch.tensor(data, device=...) copies with the Python key excluded
    _lib.impl("_copy_from", _copy_from, "PrivateUse1")
    # factories that resize an empty output: computed at once on the CPU, recorded as fill
    for ov in ("arange", "arange.start", "arange.start_step", "randperm", "tril_indices",
               "triu_indices", "linspace", "logspace"):
        _lib.impl(ov, _factory(ov), "PrivateUse1")


def _factory(ov):
    pkt, _, name = ov.partition(".")
    func = getattr(getattr(aten, pkt), name or "default")

    def kernel(*args, **kwargs):
        S = _S
        if S.tail is not None:
            S.tail_sync(ov)
        elif S.tail_log is not None:
            S.tail_log.append((ov, None, len(S.cur.nodes), len(S.cur.nodes) + 1))
        kwargs["device"] = torch.device("cpu")
        if pkt == "randperm":
            _S.flush()
        val = func(*args, **kwargs)
        if _S.replaying:
            return val
        _S.check_dtype(val.dtype, pkt)
        t = _wrap_val(val, None)
        i = _S.new_tensor(val, "activation")
        t._tr = _TRef(_S.cur, i)
        _S.stats["ops"] += 1
        _S.aten_seen.setdefault(pkt, "fill")
        _S.add_node("fill", [], [i], {"fn": pkt}, pkt)
        return t
    return kernel


def _copy_from(src, dst, non_blocking=False):
    return _h_copy_(_S, aten.copy_.default, (dst, src), {})


def _empty_memory_format(size, dtype=None, layout=None, device=None, pin_memory=None, memory_format=None):
    dtype = dtype or torch.get_default_dtype()
    if _S.replaying:   # a step-cache replay runs eagerly on the CPU
        return torch.empty(size, dtype=dtype, memory_format=memory_format or torch.contiguous_format)
    _S.check_dtype(dtype, "empty")
    val = torch.empty(size, dtype=dtype, memory_format=memory_format or torch.contiguous_format)
    return _wrap_val(val, None)


def _empty_strided(size, stride, dtype=None, layout=None, device=None, pin_memory=None):
    dtype = dtype or torch.get_default_dtype()
    if _S.replaying:
        return torch.empty_strided(size, stride, dtype=dtype)
    _S.check_dtype(dtype, "empty_strided")
    val = torch.empty_strided(size, stride, dtype=dtype)
    return _wrap_val(val, None)


DEVICE = None  # torch.device("remote_accelerator", 0), set by install()

# ====================================================================== LazyTensor

_mk = torch.Tensor._make_wrapper_subclass


def _wrap_val(val, root):
    """A LazyTensor holding the CPU value val; its meta tensor is built on first use (_MetaOf)."""
    t = _mk(LazyTensor, val.size(), strides=val.stride(), storage_offset=val.storage_offset(),
            dtype=val.dtype, device=DEVICE)
    t._val = val
    if root is None:
        root = [0, None]
    t._root = root
    t._rver = root[0]
    return t


def _meta_from_val(v):
    """The meta tensor of CPU tensor v; a view stays a view (shape propagation keys on it)."""
    b = v._base
    if b is not None:
        try:
            return torch.empty_strided(b.size(), b.stride(), dtype=b.dtype, device="meta").as_strided(
                v.size(), v.stride(), v.storage_offset())
        except RuntimeError:
            pass
    return v.to("meta")


class _MetaOf:
    """LazyTensor._meta when only the value is known: computed once, on first access.

    A non-data descriptor, so a meta tensor stored on the instance (every
    recorded op's output) is found first and this costs nothing there.
    """

    def __get__(self, t, typ=None):
        if t is None:
            return None
        v = t._val
        m = _meta_from_val(v) if v is not None else None
        t._meta = m
        return m


def _wrap(meta, val, root):
    t = _mk(LazyTensor, meta.size(), strides=meta.stride(), storage_offset=meta.storage_offset(),
            dtype=meta.dtype, device=DEVICE)
    t._meta = meta
    t._val = val
    if root is None:
        root = [0, None]
    t._root = root
    t._rver = root[0]
    return t


class LazyTensor(torch.Tensor):
    """A tensor on remote_accelerator: deferred, recorded, executed on demand."""

    _meta = _MetaOf()  # meta tensor: shape, strides, dtype (built from _val on first use when unset)
    _val = None     # CPU tensor once executed (or allocated)
    _tr = None      # _TRef: where the current version lives in the trace
    _pname = None   # parameter / buffer name when it is a module's
    _root = None    # alias group [version, newest mutated alias]
    _rver = 0       # root version this tensor's _tr reflects
    _alias = None   # the tensor this one is a tied copy of (same data, same trace tensor)
    _failed = None  # GenieExecutionError of the deferred op that was to compute this value

    __torch_function__ = torch._C._disabled_torch_function_impl

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return _S.dispatch(func, args, kwargs or {})

    # ---- materialisation points (each recorded as a read)
    def item(self):
        return _S.read(self, "item").item()

    def tolist(self):
        return _S.read(self, "tolist").tolist()

    def numpy(self, *, force=False):
        return _S.read(self, "numpy").clone().numpy()

    def __array__(self, dtype=None, copy=None):
        a = _S.read(self, "numpy").clone().numpy()
        return a.astype(dtype) if dtype is not None else a

    def cpu(self, memory_format=torch.preserve_format):
        return _S.read(self, "cpu").clone(memory_format=memory_format)

    def __bool__(self):
        return bool(_S.read(self, "bool"))

    def __int__(self):
        return int(_S.read(self, "int"))

    def __float__(self):
        return float(_S.read(self, "float"))

    def __index__(self):
        return _S.read(self, "index").__index__()

    def __format__(self, spec):
        if self.dim() == 0:
            return _S.read(self, "print").item().__format__(spec)
        return object.__format__(self, spec) if spec else self.__repr__()

    def __repr__(self, *, tensor_contents=None):
        if _S.in_flush:
            return f"LazyTensor(shape={list(self.shape)}, dtype={self.dtype})"
        s = repr(_S.read(self, "print"))
        if s.endswith(")"):
            s = s[:-1] + f", device='{DEVICE}')"
        return s

    def __reduce_ex__(self, proto):
        return self.cpu().__reduce_ex__(proto)


# ====================================================================== helpers

_GENIE_DIR = os.path.dirname(os.path.abspath(__file__))
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
# Frame walks look code objects up by id: hashing a code object hashes its
# name, bytecode and constants (1.7 us for generate()'s sampling loop), and
# a walk looked up several per op.  The code objects are kept alive in
# _codes, so an id is never reused for another code object.
_code_cat = {}    # id(code) -> category
_codes = []


def _category(code):
    """0: genie/torch internals, 1: library (site-packages, stdlib), 2: user code."""
    c = _code_cat.get(id(code))
    if c is None:
        fn = os.path.abspath(code.co_filename)
        if fn.startswith(_GENIE_DIR) or fn.startswith(_TORCH_DIR) or fn.startswith("<"):
            c = 0
        elif "site-packages" in fn or "dist-packages" in fn or fn.startswith(sys.base_prefix):
            c = 1
        else:
            c = 2
        _code_cat[id(code)] = c
        _codes.append(code)
    return c


_src_cache = {}


def _fmt_src(loc):
    if loc is None:
        return None
    key = (id(loc[0]), loc[1])       # locations come from frame walks: the code is in _codes
    s = _src_cache.get(key)
    if s is None:
        s = _src_cache[key] = _fmt_src_uncached(loc)
    return s


def _fmt_src_uncached(loc):
    code, line = loc
    fn = os.path.abspath(code.co_filename)
    for marker in ("site-packages" + os.sep, "dist-packages" + os.sep):
        i = fn.rfind(marker)
        if i >= 0:
            return f"{fn[i + len(marker):]}:{line}"
    try:
        rel = os.path.relpath(fn)
        fn = rel if not rel.startswith("..") else os.path.basename(fn)
    except ValueError:
        fn = os.path.basename(fn)
    return f"{fn}:{line}"


_LINES = {}   # (id(code), instruction offset) -> line number (_lineno)


def _lineno(f):
    """f.f_lineno, memoised on (code, instruction offset).

    CPython computes a frame's line number by scanning its code's line
    table up to the current instruction, so the cost grows with the
    function: for generate()'s long sampling loop one lookup cost as much
    as dispatching a small op, and the step cache's tail replay made one
    per op.  An instruction's line never changes, so it is computed once.
    """
    code = f.f_code
    key = (id(code), f.f_lasti)       # by id, as _code_cat: the code is kept in _codes
    n = _LINES.get(key)
    if n is None:
        n = f.f_lineno
        if len(_LINES) < 1 << 16:
            _category(code)
            _LINES[key] = n
    return n


def _where():
    """(innermost non-internal frame, innermost user frame) as (code, line) pairs.

    Inside a top-level forward the user frame is the one that called the
    model, found once per forward (begin_forward); the walk stops at the
    first frame outside genie and torch.
    """
    f = sys._getframe(2)
    lib = None
    cat = _code_cat
    while f is not None:
        code = f.f_code
        c = cat.get(id(code))
        if c is None:
            c = _category(code)
        if c:
            if lib is None:
                lib = (code, _lineno(f))
                if c == 1 and _S.fwd_user is not None:
                    return lib, _S.fwd_user
            if c == 2:
                return lib, (code, _lineno(f))
        f = f.f_back
    return lib, lib


def _lib_frame_depth():
    """((code, line), depth) of the innermost frame outside genie and torch, depth
    counted from the caller's frame (the op's library line, as _where() finds it)."""
    f = sys._getframe(2)
    d = 1
    cat = _code_cat
    while f is not None:
        code = f.f_code
        c = cat.get(id(code))
        if c is None:
            c = _category(code)
        if c:
            return (code, _lineno(f)), d
        f = f.f_back
        d += 1
    return None, 0


_DT = {}
for _tdt in (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32,
             torch.int16, torch.int8, torch.uint8, torch.bool):
    _DT[_tdt] = optable.DTYPES[str(_tdt)[6:]]


class _OpInfo:
    """What the schema of one aten overload says, computed once."""
    __slots__ = ("name", "gop", "fn", "mut", "out_kw", "ret_alias", "list_alias", "view", "overwrite", "ignored",
                 "random", "attrs")

    def __init__(self, func):
        self.name = func.__name__.split(".")[0] if hasattr(func, "__name__") else str(func)
        try:
            self.name = func._opname
        except AttributeError:
            pass
        self.gop, self.fn = optable.lookup(self.name)
        self.attrs = optable.ATTRS.get(self.name)
        if self.attrs is None and self.name.endswith("_"):
            self.attrs = optable.ATTRS.get(self.name[:-1])
        sch = func._schema
        args = sch.arguments
        self.mut = [i for i, a in enumerate(args)
                    if a.alias_info is not None and a.alias_info.is_write and not a.kwarg_only]
        self.out_kw = [a.name for a in args if a.alias_info is not None and a.alias_info.is_write and a.kwarg_only]
        self.ret_alias = []
        for r in sch.returns:
            ai = r.alias_info
            tgt = None
            if ai is not None:
                for i, a in enumerate(args):
                    if a.alias_info is not None and a.alias_info.before_set & ai.before_set:
                        tgt = ("kw", a.name) if a.kwarg_only else ("arg", i)
                        break
            self.ret_alias.append((tgt, ai is not None and ai.is_write))
        # a list of views of one operand (unbind, split, chunk: "Tensor(a)[]"): the schema
        # gives no alias set for the list's elements; every output is a view of that operand
        self.list_alias = (None, False)
        rets = sch.returns
        if len(rets) == 1 and isinstance(rets[0].type, torch.ListType) and rets[0].alias_info is not None \
                and not rets[0].alias_info.is_write:
            src = next((i for i, a in enumerate(args)
                        if a.alias_info is not None and not a.alias_info.is_write and not a.kwarg_only), None)
            if src is not None:
                self.ret_alias = []
                self.list_alias = (("arg", src), False)
        self.view = any(t is not None and not w for t, w in self.ret_alias) or self.list_alias[0] is not None
        self.overwrite = self.name in _OVERWRITE or bool(self.out_kw)
        self.ignored = self.name in optable.IGNORED
        self.random = self.name in _RANDOM


_OVERWRITE = {"fill_", "zero_", "normal_", "uniform_", "random_", "exponential_", "copy_", "bernoulli_",
              "cauchy_", "log_normal_", "geometric_"}
_RANDOM = {"normal_", "uniform_", "random_", "exponential_", "bernoulli_", "bernoulli", "multinomial",
           "randperm", "native_dropout", "rand_like", "randn_like", "randint_like", "cauchy_",
           "log_normal_", "geometric_", "poisson", "normal"}


_NUMBER = (int, float, bool)


def _plain_operands(args):
    """The operands of args that are not lazy tensors, as (type, value) pairs, where each
    is a Python number, None, or a list or tuple of numbers (equal lists of these mean
    equal values, 1 and 1.0 and True apart); None where any is something else (a CPU
    tensor, whose == would compare elements)."""
    out = []
    for a in args:
        t = type(a)
        if t is LazyTensor:
            continue
        if t in _NUMBER or a is None or (t in (list, tuple) and all(type(e) in _NUMBER for e in a)):
            out.append((t, a))
        else:
            return None
    return out


def _meta_of(a):
    t = type(a)
    if t is LazyTensor:
        return a._meta
    if t is list or t is tuple:
        if a and any(isinstance(x, torch.Tensor) for x in a):
            return t(_meta_of(x) for x in a)
        return a
    if isinstance(a, torch.Tensor):
        if a.device.type != "cpu" or a.dim() != 0:
            raise _MixedDevice(a)
        return a.to("meta")
    if isinstance(a, torch.device):
        return torch.device("meta")
    return a


def _cpu_of(a):
    t = type(a)
    if t is LazyTensor:
        return a._val
    if t is list or t is tuple:
        if a and any(type(x) is LazyTensor for x in a):
            return t(_cpu_of(x) for x in a)
        return a
    if isinstance(a, torch.device):
        return torch.device("cpu")
    return a


def _upload_cpu(args):
    out = []
    for a in args:
        if isinstance(a, torch.Tensor) and type(a) is not LazyTensor and a.dim() != 0:
            a = _wrap_val(a.clone(), None)
        elif type(a) in (list, tuple):
            a = type(a)(_upload_cpu(a))
        out.append(a)
    return out


# ---- memoised shape propagation
#
# Meta kernels of many aten ops are Python decompositions (~100 us each).
# Output metadata depends only on the inputs' metadata and the other
# arguments, so it is memoised: key = (op, per-argument signature), value =
# per output (shape, stride, offset, dtype, multi).  Replaying a hit builds
# the meta output directly: a view of the aliased input (views, so _base and
# aliasing stay right) or a fresh empty_strided meta tensor.

_meta_cache = {}
_attrs_memo = {}    # _meta_key -> (genie op, node attributes) (Session.record)


def _sig(a):
    t = type(a)
    if t is LazyTensor:
        m = a._meta
        return (1, m.shape, m.stride(), m.storage_offset(), m.dtype, m._base is not None)
    if t is list or t is tuple:
        return (2,) + tuple(_sig(x) for x in a)
    if isinstance(a, torch.Tensor):
        return None            # CPU tensors (mixed devices, scalars) take the slow path
    if t is float or t is int or t is bool or a is None or t is str:
        return (t, a)
    if isinstance(a, (torch.dtype, torch.device, torch.layout, torch.memory_format)):
        return a
    return None


def _meta_key(func, args, kwargs):
    try:
        sa = tuple(_sig(a) for a in args)
        if None in sa:
            return None
        if kwargs:
            sk = tuple((k, _sig(v)) for k, v in kwargs.items())
            if any(v is None for _, v in sk):
                return None
            return (func, sa, sk)
        return (func, sa)
    except TypeError:
        return None


def _meta_summary(mout):
    single = not isinstance(mout, (tuple, list))
    outs = [mout] if single else list(mout)
    summ = []
    for m in outs:
        if isinstance(m, torch.Tensor):
            summ.append((tuple(m.shape), m.stride(), m.storage_offset(), m.dtype))
        else:
            summ.append(("v", m))
    return (single, type(mout) if not single else None, tuple(summ))


def _meta_replay(hit, info, args, kwargs):
    single, typ, summ = hit
    outs = []
    for k, sm in enumerate(summ):
        if sm[0] == "v":
            outs.append(sm[1])
            continue
        shape, stride, off, dtype = sm
        tgt, write = info.ret_alias[k] if k < len(info.ret_alias) else info.list_alias
        if tgt is not None:
            src = args[tgt[1]] if tgt[0] == "arg" else kwargs[tgt[1]]
            if write:
                outs.append(src._meta)
            else:
                outs.append(src._meta.as_strided(shape, stride, off))
        else:
            outs.append(torch.empty_strided(shape, stride, dtype=dtype, device="meta"))
    if single:
        return outs[0]
    return typ(outs) if typ is not list else outs


class _MixedDevice(Exception):
    pass


def _lazies(args, kwargs, skip_kw=()):
    out = []
    for a in args:
        t = type(a)
        if t is LazyTensor:
            out.append(a)
        elif t is list or t is tuple:
            out.extend(x for x in a if type(x) is LazyTensor)
    for k, a in kwargs.items():
        if k in skip_kw:
            continue
        if type(a) is LazyTensor:
            out.append(a)
        elif type(a) in (list, tuple):
            out.extend(x for x in a if type(x) is LazyTensor)
    return out


class _TRef:
    __slots__ = ("step", "tid", "imp_step", "imp_tid", "storage")

    def __init__(self, step, tid):
        self.step = step
        self.tid = tid
        self.imp_step = None
        self.imp_tid = -1
        self.storage = None


# tensor record fields (lists, for speed)
T_DTYPE, T_SHAPE, T_KIND, T_STORAGE, T_MODULE, T_EXT, T_NODE = range(7)
# node record fields
N_OP, N_INS, N_OUTS, N_ATTRS, N_MODULE, N_SRC, N_USER, N_ATEN, N_ORD = range(9)


class Step:
    """One step of the session: tensors, nodes and reads, as records."""

    def __init__(self, index):
        self.index = index
        self.phase = None
        self.label = None
        self.tensors = []
        self.nodes = []
        self.reads = []
        self.has_forward = False
        self.root = None
        self.counts = {}
        self.fwd_t0 = None    # forward region (step cache): tensor / node / read ranges, slots
        self.fwd_t1 = self.fwd_n0 = self.fwd_n1 = self.fwd_reads = self.fwd_r0 = None
        self.arg_ids = self.arg_paths = self.out_ids = self.out_paths = None
        self.arg_consts = self.mod_state = None   # step cache guards (stepcache.arg_consts, module_state)
        self.replayed = False
        self.state_imports = 0    # state leaves imported from earlier steps
        self.deferred = []        # step-cache regions reserved, built by expand()
        self.tail_events = None   # (aten op, how handled, node range) after the forward (step cache)

    def expand(self):
        """Builds the records of replayed forward regions (step cache)."""
        d, self.deferred = self.deferred, []
        for tpl, k, arg_ids, base, nbase in d:
            tpl.expand(self, k, arg_ids, base, nbase)
        self.t0 = time.perf_counter()


# ====================================================================== session

class Session:
    """Records one capture session; the process-wide one is ``genie.session()``."""

    def __init__(self, name="capture"):
        self.name = name
        self.model = {}
        self.steps = [Step(0)]
        self.cur = self.steps[0]
        self.pending = []
        self.in_flush = False
        self.modstack = []
        self.names = {}           # module -> qualified name
        self.roots = {}           # id(root) -> root
        self.step_active = False
        self.root_mod = None
        self.aten_seen = {}       # aten packet name -> genie op
        self.buffers = set()      # names of module buffers (kind param, but not weights)
        self.classes = {}         # module path -> class name (module intent, dump.py)
        self.lm_forwards = 0
        self.stats = {"ops": 0, "reads": 0, "flush_s": 0.0}
        self.step_s = 0.0         # time in step begin/end bookkeeping, s
        self.profile = False
        self._opinfo = {}
        self.step_cache = os.environ.get("GENIE_STEP_CACHE", "1") != "0"
        self.root_caches = {}     # id(root) -> stepcache.RootCache
        self.replaying = False
        self.gc_paused = False
        self.fwd_user = None      # the user frame that called the current top-level forward
        self.gc_frozen = False
        self.gc_freeze_base = 0   # objects frozen before the session first froze (the application's)
        self.tail_log = None      # events of the decode-step tail being captured (step cache)
        self.tail = None          # stepcache.TailRun: the tail being replayed, or None
        self.ev_path = None       # how the last dispatched op was handled ("rec", "alias", None)

    # ---------------------------------------------------------------- errors
    def check_dtype(self, dtype, opname):
        if dtype not in _DT:
            lib, user = _where()
            raise GenieUnsupportedDtype(
                f"dtype {dtype} is not supported on {BACKEND}", op=opname,
                module=self.modstack[-1] if self.modstack else None,
                source=_fmt_src(lib), user=_fmt_src(user),
                hint="the SRG trace format knows f32 f16 bf16 f64 i64 i32 i16 i8 u8 bool; "
                     "cast with .to(torch.float32) before moving the tensor to the device")

    # ---------------------------------------------------------------- trace records
    def new_tensor(self, meta, kind, storage=None, module=None):
        """Appends a tensor record; meta is anything with the tensor's dtype and shape
        (its meta tensor, its CPU value or the LazyTensor itself); returns its local id."""
        dt = _DT.get(meta.dtype)
        if dt is None:
            self.check_dtype(meta.dtype, "?")
        st = self.cur
        st.tensors.append([dt, list(meta.shape), kind, storage, module, False, -1])
        return len(st.tensors) - 1

    def tid(self, t):
        """Local id in the current step of t's current version (importing it if needed)."""
        if t._alias is not None and t._tr is None:
            return self.tid(t._alias)
        root = t._root
        if t._rver != root[0] and root[1] is not None and root[1] is not t:
            self.refresh_alias(t)
        r = t._tr
        st = self.cur
        if r is None:
            if t._pname is not None:
                i = self.new_tensor(t, "param", t._pname)
            else:
                i = self.new_tensor(t, "input")
            t._tr = r = _TRef(st, i)
            return i
        if r.step is st:
            return r.tid
        if r.imp_step is st:
            return r.imp_tid
        # produced (or first used) in an earlier step: import as a leaf
        prec = r.step.tensors[r.tid]
        prec[T_EXT] = True
        if t._pname is not None:
            i = self.new_tensor(t, "param", t._pname)
        elif prec[T_KIND] == "input" and prec[T_MODULE] is None:
            i = self.new_tensor(t, "input")
        else:
            if r.storage is None:
                r.storage = prec[T_STORAGE] or self._state_name(r, prec)
            prec[T_KIND] = "state"
            prec[T_STORAGE] = r.storage
            i = self.new_tensor(t, "state", r.storage)
            st.state_imports += 1
        r.imp_step = st
        r.imp_tid = i
        return i

    def _state_name(self, r, prec):
        k = prec[T_NODE]
        if k >= 0 and r.step.nodes[k] is None:
            r.step.expand()
        if k >= 0:
            n = r.step.nodes[k]
            if r.tid in n[N_OUTS]:
                return f"{n[N_MODULE] or 'client'}.{n[N_ATEN]}.{n[N_ORD]}.{n[N_OUTS].index(r.tid)}"
        return f"client.s{r.step.index}.t{r.tid}"

    def refresh_alias(self, t):
        """t is a view whose storage was written through another alias: link it to the newest version."""
        root = t._root
        src = self.tid(root[1])
        out = self.new_tensor(t._meta, "activation")
        self.add_node("view", [src], [out], {"fn": "alias"}, "alias")
        t._tr = _TRef(self.cur, out)
        t._rver = root[0]

    def add_node(self, gop, ins, outs, attrs, aten_name, where=None):
        st = self.cur
        mod = self.modstack[-1] if self.modstack else ""
        key = (mod, aten_name)
        o = st.counts.get(key, 0)
        st.counts[key] = o + 1
        lib, user = where if where is not None else _where()
        k = len(st.nodes)
        st.nodes.append([gop, ins, outs, attrs, mod, lib, user, aten_name, o])
        for i in outs:
            rec = st.tensors[i]
            rec[T_MODULE] = mod
            rec[T_NODE] = k

    # ---------------------------------------------------------------- dispatch
    def opinfo(self, func):
        info = self._opinfo.get(func)
        if info is None:
            info = self._opinfo[func] = _OpInfo(func)
        return info

    def dispatch(self, func, args, kwargs):
        if self.replaying:
            # a lazy tensor the step cache did not swap (held somewhere it
            # does not look): the replay is eager CPU execution, so use its
            # value (flushed before the replay) and stay on the CPU
            self.stats["replay_unswapped"] = self.stats.get("replay_unswapped", 0) + 1
            return func(*[_cpu_of(a) for a in args], **{k: _cpu_of(v) for k, v in kwargs.items()})
        if self.tail is not None:
            return self.tail_dispatch(func, args, kwargs)
        log = self.tail_log
        if log is None:
            return self._dispatch(func, args, kwargs)
        # a decode step's tail being captured: log the events for the tail template
        n0 = len(self.cur.nodes)
        self.ev_path = None
        res = self._dispatch(func, args, kwargs)
        log.append((func, self.ev_path, n0, len(self.cur.nodes)))
        return res

    def tail_dispatch(self, func, args, kwargs):
        """An op in the tail of a replayed decode step (stepcache.TailTemplate).

        The op is the template's next event (same aten overload, same library
        line): it runs at once on the CPU values and is recorded by record()
        with the template's attributes, without shape propagation, deferral
        or a stack walk.  Anything else ends the tail replay for this step:
        from there ops are captured as usual.
        """
        run = self.tail
        j = run.j
        evs = run.tpl.events
        ev = evs[j] if j < len(evs) else None
        if ev is None or ev.func is not func:
            self.end_tail()
            return self._dispatch(func, args, kwargs)
        run.j = j + 1
        path = ev.path
        if path is None:                 # reads, uploads, data-dependent ops: as usual
            return self._dispatch(func, args, kwargs)
        if self.pending:
            self.flush()
        if path == "alias":              # no node: the same trace tensor under a new object
            src = args[0]
            t = _wrap_val(func(src._val), src._root)
            t._tr = src._tr
            t._rver = src._rver
            t._pname = src._pname
            return t
        # the library line that called the op: first at the depth where it was last time
        lib = ev.where[0]
        f = None
        if ev.depth:
            try:
                f = sys._getframe(ev.depth)
            except ValueError:
                pass
        if f is None or lib is None or f.f_code is not lib[0] or _lineno(f) != lib[1]:
            got, depth = _lib_frame_depth()
            if got != lib:
                self.end_tail()
                return self._dispatch(func, args, kwargs)
            ev.depth = depth
        info = ev.info
        if info is None:
            info = ev.info = self.opinfo(func)
            ev.lean = not info.out_kw and (not info.mut or bool(info.ret_alias and info.ret_alias[0][1]))
            ra = info.ret_alias
            ev.sv = optable.SCALAR_ATTRS.get(info.name) if ev.attrs is not None else None
            # one tensor out, new or a view of a positional operand (not a write to one)
            ev.simple = (not info.out_kw and not info.mut and ev.tshapes is not None and len(ev.tshapes) == 1
                         and (not ra or ra[0][0] is None or (ra[0][0][0] == "arg" and not ra[0][1])))
        if ev.simple and not kwargs:
            return self.tail_simple(ev, func, info, args, run.k)
        cargs = [a._val if type(a) is LazyTensor else _cpu_of(a) for a in args]
        res = self.tail_exec(ev, func, cargs, {k: _cpu_of(v) for k, v in kwargs.items()} if kwargs else None)
        k = run.k
        if not ev.shapes_ok(res, k):
            self.end_tail()              # sizes left the progression: derive this node's attributes
            return self.record(func, info, args, kwargs, None, res, executed=True)
        if ev.sv is not None and not self.scalars_match(ev, info, args, k):
            self.end_tail()
            return self.record(func, info, args, kwargs, None, res, executed=True)
        if ev.lean:
            return self.tail_record(info, args, kwargs, res, ev, k)
        return self.record(func, info, args, kwargs, None, res, executed=True, ev=ev, kstep=k)

    def end_tail(self):
        """Ends the replay of this step's tail (its next op is not the template's): the
        rest of the step is captured as usual."""
        self.tail = None
        self.stats["tail_misses"] = self.stats.get("tail_misses", 0) + 1

    def tail_exec(self, ev, func, cargs, ckw):
        """Runs a replayed tail op on its CPU operands (keyword operands ckw, or None)."""
        try:
            # the overload's C++ callable directly (what OpOverload.__call__ does, one frame less)
            res = ev.op(*cargs, **ckw) if ckw else ev.op(*cargs)
        except Exception as e:
            raise self._exec_error(func, e, ev.where, "") from e
        self.stats["tail_ops"] = self.stats.get("tail_ops", 0) + 1
        return res

    def scalars_match(self, ev, info, args, k):
        """Whether a Python scalar operand that lands in the node's attributes (fill_(is_done),
        x * c) has the template's value at step k (a flag that turns at the last step is not
        affine); where the attributes do not move, operands equal (in type too) to the last
        ones checked pass without rebuilding the attributes."""
        seen = _plain_operands(args)
        if ev.avar or seen is None or seen != ev.scalars_seen:
            want = ev.attrs_at(k)
            if any(want.get(key) != v for key, v in ev.sv(info.name, args, (), ()).items()):
                return False
            ev.scalars_seen = seen
        return True

    def tail_simple(self, ev, func, info, args, k):
        """tail_dispatch for the common event (stepcache._TailEvent.simple): positional
        operands, one tensor out, new or a view of an operand (not a write to one).  The
        records are tail_record's, in the same order (input ids, then the output tensor,
        then the node), built in one pass over the operands; an input produced earlier in
        this step (most of them) is looked up without tid()."""
        st = self.cur
        cargs, lz = [], []
        for a in args:
            t = type(a)
            if t is LazyTensor:
                cargs.append(a._val)
                lz.append(a)
            elif t is list or t is tuple:
                cargs.append(_cpu_of(a))
                lz.extend(x for x in a if type(x) is LazyTensor)
            else:
                cargs.append(torch.device("cpu") if t is torch.device else a)
        res = self.tail_exec(ev, func, cargs, None)
        if type(res) is not torch.Tensor or \
                not (ev.shapes_ok(res, k) if ev.svar else res.shape == ev.tshapes[0]) or \
                (ev.sv is not None and not self.scalars_match(ev, info, args, k)):
            self.end_tail()              # left the progression: derive this node's attributes
            return self.record(func, info, args, {}, None, res, executed=True)
        ins = []
        for x in lz:
            r = x._tr
            if r is not None and r.step is st and x._rver == x._root[0]:
                ins.append(r.tid)        # what tid() returns for it
            else:
                ins.append(self.tid(x))
        dt = _DT.get(res.dtype)
        if dt is None:
            self.check_dtype(res.dtype, str(info.name))
        tensors = st.tensors
        i = len(tensors)
        nidx = len(st.nodes)
        mod = self.modstack[-1] if self.modstack else ""
        tensors.append([dt, list(res.shape), "activation", None, mod, False, nidx])
        root = None
        ra = info.ret_alias
        if ra and ra[0][0] is not None:   # a view: one alias group with its operand
            j = ra[0][0][1]
            src = args[j] if j < len(args) else None
            if type(src) is LazyTensor:
                root = src._root
        t = _wrap_val(res, root)
        t._tr = _TRef(st, i)
        self.stats["ops"] += 1
        self.ev_path = "rec"
        self.tail_node(st, ev, info.name, ins, [i], mod, k)
        return t

    @staticmethod
    def tail_node(st, ev, name, ins, outs, mod, k):
        """Appends a replayed tail op's node: the template's attributes at step k and its source."""
        key = (mod, name)
        o = st.counts.get(key, 0)
        st.counts[key] = o + 1
        where = ev.where
        st.nodes.append([ev.gop, ins, outs, ev.attrs_at(k) if ev.avar else ev.attrs, mod, where[0], where[1],
                         name, o])

    def tail_record(self, info, args, kwargs, res, ev, k):
        """record(executed=True, ev=ev) for ops without out= arguments or unreturned mutations
        (the single-output ones with positional operands take tail_simple).

        The same records in the same order (input ids, then one tensor per
        output, then the node), without record()'s general case analysis.
        """
        st = self.cur
        ins_l = _lazies(args, kwargs)
        if info.overwrite and info.mut:
            dst = args[info.mut[0]]
            ins_l = [x for x in ins_l if x is not dst]
            # (every value exists during a tail replay; its view-ness is its meta's)
            if dst._root[1] is not None or dst._val._base is not None:
                ins_l.append(dst)
        tid = self.tid
        ins = [tid(x) for x in ins_l]
        ra = info.ret_alias
        tensors = st.tensors
        nidx = len(st.nodes)
        mod = self.modstack[-1] if self.modstack else ""
        single = not isinstance(res, (tuple, list))
        mouts = (res,) if single else res
        outs, results = [], []
        for idx, m in enumerate(mouts):
            if not isinstance(m, torch.Tensor):
                results.append(m)
                continue
            dt = _DT.get(m.dtype)
            if dt is None:
                self.check_dtype(m.dtype, str(info.name))
            tgt, write = ra[idx] if idx < len(ra) else info.list_alias
            i = len(tensors)
            tensors.append([dt, list(m.shape), "activation", None, mod, False, nidx])
            if tgt is not None and write:
                t = args[tgt[1]] if tgt[0] == "arg" else kwargs[tgt[1]]
                t._tr = _TRef(st, i)
                root = t._root
                root[0] += 1
                root[1] = t
                t._rver = root[0]
            else:
                root = None
                if tgt is not None and tgt[0] == "arg":
                    src = args[tgt[1]]
                    if type(src) is LazyTensor:
                        root = src._root
                t = _wrap_val(m, root)
                t._tr = _TRef(st, i)
            outs.append(i)
            results.append(t)
        self.stats["ops"] += 1
        self.ev_path = "rec"
        if outs:
            self.tail_node(st, ev, info.name, ins, outs, mod, k)
        if single:
            return results[0]
        return type(res)(results) if isinstance(res, tuple) else results

    def _dispatch(self, func, args, kwargs):
        h = _HANDLERS.get(func)
        if h is not None:
            return h(self, func, args, kwargs)
        info = self.opinfo(func)
        if info.ignored:
            return None if not func._schema.returns else self.eager(func, args, kwargs, info, read=False)
        # shape propagation: memoised on (op, input metadata, other arguments)
        key = _meta_key(func, args, kwargs)
        if key is not None:
            hit = _meta_cache.get(key)
            if hit is not None:
                return self.record(func, info, args, kwargs, None, _meta_replay(hit, info, args, kwargs), akey=key)
        try:
            margs = [_meta_of(a) for a in args]
            mkw = {k: _meta_of(v) for k, v in kwargs.items()}
        except _MixedDevice as e:
            # CPU indices are allowed, as on any device: upload them; a CPU tensor that the op
            # writes (index_put_ into a CPU tensor) is not: the write would land in the copy
            if info.gop == "index" and not any(i < len(args) and isinstance(args[i], torch.Tensor)
                                               and type(args[i]) is not LazyTensor for i in info.mut) \
                    and not any(isinstance(kwargs.get(k), torch.Tensor) and type(kwargs[k]) is not LazyTensor
                                for k in info.out_kw):
                args = _upload_cpu(args)
                kwargs = dict(zip(kwargs, _upload_cpu(list(kwargs.values()))))
                res = self._dispatch(func, args, kwargs)
                self.ev_path = None      # uploads leaves: not replayable as a tail event
                return res
            lib, user = _where()
            raise GenieUnsupportedOp(
                f"expected all tensors on {BACKEND}, found one on {e.args[0].device}",
                op=str(func), module=self.modstack[-1] if self.modstack else None,
                source=_fmt_src(lib), user=_fmt_src(user),
                hint=f"move it with .to('{BACKEND}') (eager PyTorch would refuse the mix too)") from None
        try:
            mout = func(*margs, **mkw)
        except Exception:
            return self.eager(func, args, kwargs, info, read=True)
        if not isinstance(mout, torch.Tensor) and not (
                isinstance(mout, (tuple, list)) and any(isinstance(m, torch.Tensor) for m in mout)):
            return self.eager(func, args, kwargs, info, read=True)
        if key is not None and len(_meta_cache) < 200000:
            _meta_cache[key] = _meta_summary(mout)
        return self.record(func, info, args, kwargs, margs, mout)

    def record(self, func, info, args, kwargs, margs, mout, executed=False, ev=None, kstep=0, akey=None):
        """Records one op whose output metadata is mout (meta tensors) and defers it.

        executed: mout are the op's CPU results, already computed (step-cache
        tail replay): the outputs hold them and nothing is deferred.  With ev
        (a tail event of stepcache.TailTemplate) the node's attributes and
        source come from the template, instantiated at its kstep-th step,
        instead of being derived again.  akey: the op's shape-memo key
        (_meta_key): the node's op and attributes depend only on what it
        holds, so they are derived once per key (_attrs_memo), except where
        a write through a view adds the written tensor to the inputs.
        """
        self.stats["ops"] += 1
        name = info.name
        self.aten_seen.setdefault(name, info.gop)
        single = not isinstance(mout, (tuple, list))
        mouts = [mout] if single else list(mout)
        # inputs (before versions change)
        skip = set(info.out_kw)
        ins_l = _lazies(args, kwargs, skip)
        if info.overwrite and info.mut:
            dst = args[info.mut[0]]
            ins_l = [x for x in ins_l if x is not dst]
            # a partial write (through a view) also reads the rest of the storage
            if dst._root[1] is not None or dst._meta._base is not None:
                ins_l.append(dst)
        ins = [self.tid(x) for x in ins_l]
        where = _where() if ev is None else ev.where
        results = []
        outs = []
        new_lazy = []
        for k, m in enumerate(mouts):
            tgt, write = info.ret_alias[k] if k < len(info.ret_alias) else info.list_alias
            if not isinstance(m, torch.Tensor):
                results.append(m)
                continue
            if tgt is not None and write:
                t = args[tgt[1]] if tgt[0] == "arg" else kwargs[tgt[1]]
                if not executed and (tuple(t._meta.shape) != tuple(t.shape) or t._meta.stride() != t.stride()):
                    raise GenieUnsupportedOp(
                        f"in-place op changes the tensor's shape or strides, which {BACKEND} cannot defer",
                        op=str(func), module=self.modstack[-1] if self.modstack else None,
                        source=_fmt_src(where[0]), user=_fmt_src(where[1]),
                        hint="use the out-of-place form (x = x.unsqueeze(0) rather than x.unsqueeze_(0))")
                i = self.new_tensor(m if executed else t._meta, "activation")
                t._tr = _TRef(self.cur, i)
                root = t._root
                root[0] += 1
                root[1] = t
                t._rver = root[0]
                outs.append(i)
                results.append(t)
                continue
            if m.dtype not in _DT:
                self.check_dtype(m.dtype, str(func))
            root = None
            if tgt is not None and tgt[0] == "arg":
                src = args[tgt[1]]
                if type(src) is LazyTensor:
                    root = src._root
            t = _wrap(m, None, root) if not executed else _wrap_val(m, root)
            i = self.new_tensor(m, "activation")
            t._tr = _TRef(self.cur, i)
            outs.append(i)
            results.append(t)
            new_lazy.append((k, t))
        # mutated args that are not returned (rare): bump their versions too
        if not info.ret_alias or not info.ret_alias[0][1]:
            for mi in info.mut:
                t = args[mi]
                if type(t) is LazyTensor:
                    i = self.new_tensor(t._meta, "activation")
                    t._tr = _TRef(self.cur, i)
                    t._root[0] += 1
                    t._root[1] = t
                    t._rver = t._root[0]
                    outs.append(i)
        if ev is not None:
            if outs:
                self.add_node(ev.gop, ins, outs, ev.attrs_at(kstep), name, where)
            if single:
                return results[0]
            return type(mout)(results) if isinstance(mout, tuple) else results
        memo = akey is not None and not (info.overwrite and info.mut)
        got = _attrs_memo.get(akey) if memo else None
        if got is not None:
            gop, attrs = got         # shared between records, which are never mutated
        else:
            attrs = None
            gop = info.gop
            if info.fn is not None:
                attrs = {"fn": info.fn}
            if info.attrs is not None:
                try:
                    extra = info.attrs(name, args, [x._meta for x in ins_l],
                                       [m for m in mouts if isinstance(m, torch.Tensor)])
                    attrs = {**(attrs or {}), **extra}
                except Exception:
                    pass
            if kwargs:       # kwarg-only arguments that change the result (alpha, beta, invert)
                kwa = optable.kwargs_attrs(name, kwargs)
                if kwa:
                    attrs = {**(attrs or {}), **kwa}
            if info.mut or info.out_kw:
                attrs = {**(attrs or {}), "inplace": True}   # outputs are new versions of mutated inputs
            if gop == "opaque":
                attrs = {"name": name}
            elif gop == "elementwise" and name in ("_to_copy", "to") and mouts and ins_l and \
                    isinstance(mouts[0], torch.Tensor) and mouts[0].dtype == ins_l[0]._meta.dtype:
                gop, attrs = "copy", {"fn": "to"}
            if memo and len(_attrs_memo) < 200000:
                _attrs_memo[akey] = (gop, attrs)
        if outs:
            self.add_node(gop, ins, outs, attrs, name, where)
        self.ev_path = "rec"
        if not executed:
            for a in args:
                if isinstance(a, torch.Tensor) and type(a) is not LazyTensor:
                    # a CPU 0-d operand (x * torch.tensor(2.)): its value now, not when the work runs
                    args = [x.clone() if isinstance(x, torch.Tensor) and type(x) is not LazyTensor else x
                            for x in args]
                    break
            self.pending.append((func, args, kwargs, new_lazy, where, self.modstack[-1] if self.modstack else ""))
        if info.random and not executed:
            self.flush()
        if single:
            return results[0]
        return type(mout)(results) if isinstance(mout, tuple) else results

    def eager(self, func, args, kwargs, info, read):
        """Ops meta cannot run (data-dependent shapes, scalar results): flush and run now."""
        self.flush()
        cargs = [_cpu_of(a) for a in args]
        ckw = {k: _cpu_of(v) for k, v in kwargs.items()}
        where = _where()
        try:
            res = func(*cargs, **ckw)
        except Exception as e:
            raise self._exec_error(func, e, where, self.modstack[-1] if self.modstack else "") from e
        if info.ignored:
            return res
        self.stats["ops"] += 1
        self.aten_seen.setdefault(info.name, info.gop)
        ins_l = _lazies(args, kwargs)
        ins = [self.tid(x) for x in ins_l]
        single = not isinstance(res, (tuple, list))
        rs = [res] if single else list(res)
        outs, results = [], []
        for k, r in enumerate(rs):
            tgt, write = info.ret_alias[k] if k < len(info.ret_alias) else info.list_alias
            if isinstance(r, torch.Tensor):
                if tgt is not None and write:
                    t = args[tgt[1]] if tgt[0] == "arg" else kwargs[tgt[1]]
                    i = self.new_tensor(t._meta, "activation")
                    t._tr = _TRef(self.cur, i)
                    results.append(t)
                else:
                    t = _wrap_val(r, None)
                    i = self.new_tensor(t._meta, "activation")
                    t._tr = _TRef(self.cur, i)
                    results.append(t)
                outs.append(i)
            else:
                results.append(r)
        gop = info.gop
        attrs = {"fn": info.fn} if info.fn else None
        if gop == "opaque":
            attrs = {"name": info.name}
        if read and ins:
            self.stats["reads"] += 1
            for i in dict.fromkeys(ins):
                self.cur.reads.append((i, "data-dependent " + info.name, where[0]))
        if outs:
            self.add_node(gop, ins, outs, attrs, info.name, where)
        if single:
            return results[0]
        return type(res)(results) if isinstance(res, tuple) else results

    def call_python(self, fn, name, gop, args, kwargs, out_meta, attrs):
        """Records a torch-level function (SDPA) as one node; executes it as eager would."""
        self.stats["ops"] += 1
        self.aten_seen.setdefault(name, gop)
        ins_l = _lazies(args, kwargs)
        ins = [self.tid(x) for x in ins_l]
        t = _wrap(out_meta, None, None)
        i = self.new_tensor(out_meta, "activation")
        t._tr = _TRef(self.cur, i)
        where = _where()
        self.add_node(gop, ins, [i], attrs, name, where)
        self.pending.append((fn, args, kwargs, [(0, t)], where, self.modstack[-1] if self.modstack else ""))
        return t

    # ---------------------------------------------------------------- execution
    def _exec_error(self, func, e, where, module):
        where = where or (None, None)
        return GenieExecutionError(
            f"deferred execution failed: {type(e).__name__}: {e}", op=str(getattr(func, "__name__", func)),
            module=module or None, source=_fmt_src(where[0]), user=_fmt_src(where[1]),
            hint="the op was recorded at the line above and failed when its value was needed; "
                 "run the same code on the CPU to see the eager error")

    @staticmethod
    def _failed_input(args, kwargs):
        """The error of the failed op that was to compute one of these inputs, or None."""
        for a in _lazies(args, kwargs):
            if a._val is None and a._failed is not None:
                return a._failed
        return None

    def flush(self):
        """Executes every pending op in program order on the CPU.

        An op that fails raises GenieExecutionError; its outputs are marked
        failed, and the ops after it stay pending (values that do not
        depend on it can still be read)."""
        if not self.pending:
            return
        t0 = time.perf_counter()
        pend = self.pending
        self.pending = []
        self.in_flush = True
        try:
            for n, (func, args, kwargs, outs, where, module) in enumerate(pend):
                cargs = [a._val if type(a) is LazyTensor else (_cpu_of(a) if type(a) in (list, tuple) else a)
                         for a in args]
                ckw = {k: _cpu_of(v) for k, v in kwargs.items()} if kwargs else kwargs
                try:
                    # an OpOverload's C++ callable directly (what its __call__ does)
                    res = (func._op if type(func) is _OpOverload else func)(*cargs, **ckw)
                except Exception as e:
                    first = self._failed_input(args, kwargs)
                    if first is not None:
                        # an input was lost to an earlier failure (already raised): so is this output
                        for _, t in outs:
                            t._failed = first
                        continue
                    # this op's outputs are lost; the work after it stays pending, so values
                    # that do not depend on them can still be read
                    err = self._exec_error(func, e, where, module)
                    for _, t in outs:
                        t._failed = err
                    self.pending = pend[n + 1:]
                    raise err from e
                if outs:
                    if len(outs) == 1 and outs[0][0] == 0 and not isinstance(res, (tuple, list)):
                        outs[0][1]._val = res
                    else:
                        for k, t in outs:
                            t._val = res[k]
        finally:
            self.in_flush = False
            self.stats["flush_s"] += time.perf_counter() - t0

    def read(self, t, reason):
        """Materialises t (flushing), records the read, returns the CPU value (borrowed)."""
        self.flush()
        if t._val is None and t._failed is not None:
            f = t._failed
            lib, user = _where()
            raise GenieExecutionError(
                f"this value depends on an op that failed when it ran ({f.what})", op=f.op, module=f.module,
                source=f.source, user=f.user,
                hint=f"read at {_fmt_src(user)}; the failed op was recorded at the line above")
        self.stats["reads"] += 1
        lib, user = _where()
        i = self.tid(t)
        self.cur.reads.append((i, reason, lib))
        return t._val

    # ---------------------------------------------------------------- steps
    def begin_forward(self, root):
        # The garbage collector's scans of the many young capture objects cost
        # about as much as the capture itself; it is paused for the forward
        # pass (resumed in end_forward, or at the next capture boundary).
        # The model, the session's trace records and the interpreter's own
        # objects are long-lived: they are moved out of the cyclic collector's
        # scans (gc.freeze) at every top-level forward, so the cost of
        # collections does not grow with the trace.  Reference counting still
        # frees them; only cyclic garbage alive at that moment waits for
        # gc.unfreeze(), which ending the session does (release_gc_state()).
        self.tail = None
        self.tail_log = None
        if not self.gc_frozen:
            self.gc_frozen = True
            self.gc_freeze_base = gc.get_freeze_count()
        gc.freeze()
        if gc.isenabled():
            gc.disable()
            self.gc_paused = True
        self.fwd_user = None
        self.fwd_user = _where()[1]
        st = self.cur
        if st.has_forward:
            st = Step(len(self.steps))
            self.steps.append(st)
            self.cur = st
        st.has_forward = True
        st.root = type(root).__name__
        if id(root) not in self.roots:
            # A later root whose parameter names another root already uses (two standalone
            # nn.Linear both have "weight") gets its class and ordinal as a prefix: one storage
            # name must be one tensor (traces/SCHEMA.md), and libgenie refuses it otherwise.
            taken = {p._pname for r in self.roots.values()
                     for _, p in list(r.named_parameters()) + list(r.named_buffers())
                     if type(p) is LazyTensor and p._pname is not None}
            pre = ""
            if any(n in taken for n, p in list(root.named_parameters()) + list(root.named_buffers())
                   if type(p) is LazyTensor and p._pname is None):
                pre = f"{type(root).__name__}_{len(self.roots)}"
            self.roots[id(root)] = root
            for n, m in root.named_modules():
                n = f"{pre}.{n}" if pre and n else (pre or n)
                self.names[m] = n
                self.classes[n] = type(m).__name__
            for n, b in root.named_buffers():
                self.buffers.add(f"{pre}.{n}" if pre else n)
            self.flush()
            tied = {}
            for n, p in list(root.named_parameters()) + list(root.named_buffers()):
                if type(p) is not LazyTensor or p._pname is not None:
                    continue
                key = (p._val.data_ptr(), tuple(p._val.shape), p._val.stride()) if p._val is not None else None
                first = tied.get(key) if key is not None else None
                if first is not None and first is not p:
                    p._pname, p._alias = first._pname, first
                    continue
                if key is not None:
                    tied[key] = p
                p._pname = f"{pre}.{n}" if pre else n
                r = p._tr
                if r is not None:
                    rec = r.step.tensors[r.tid]
                    if rec[T_KIND] == "input" and rec[T_MODULE] is None:
                        rec[T_KIND], rec[T_STORAGE] = "param", n
        self.step_active = True
        self.root_mod = root
        if self.step_cache and hasattr(root, "prepare_inputs_for_generation"):
            from . import stepcache
            stepcache.install_forward(self, root)

    # ---------------------------------------------------------------- step cache
    def forward_call(self, root, orig, args, kwargs):
        """Root forward (LLM): capture op by op, or replay a cached decode step."""
        from . import stepcache
        st = self.cur
        if not self.step_active or self.root_mod is not root or self.replaying or not self.step_cache:
            return orig(*args, **kwargs)
        rc = self.root_caches.get(id(root))
        if rc is None:
            rc = self.root_caches[id(root)] = stepcache.RootCache(root)
        self._learn(rc)
        flat = stepcache.lazies((args, kwargs))
        st.arg_ids = [self.tid(t) for _, t in flat]
        st.arg_paths = [p for p, _ in flat]
        st.arg_consts = stepcache.arg_consts(args, kwargs)
        st.mod_state = stepcache.module_state(rc.mods)
        st.fwd_t0, st.fwd_n0, st.fwd_r0 = len(st.tensors), len(st.nodes), len(st.reads)
        r0 = st.fwd_r0
        tpl = rc.template
        if tpl is not None:
            b = tpl.base
            if [list(t.shape) for _, t in flat] == tpl.predict_args() and [p for p, _ in flat] == b.argpaths \
                    and [_DT.get(t.dtype) for _, t in flat] == b.argdtypes and st.arg_consts == b.argconsts \
                    and st.mod_state == b.modstate:
                return self._replay(rc, tpl, orig, args, kwargs)
            rc.reset()
        out = orig(*args, **kwargs)
        st.fwd_t1, st.fwd_n1, st.fwd_reads = len(st.tensors), len(st.nodes), len(st.reads) - r0
        oflat = stepcache.lazies(out)
        st.out_ids = [self.tid(t) for _, t in oflat]
        st.out_paths = [p for p, _ in oflat]
        st.fwd_t1 = max(st.fwd_t1, len(st.tensors))
        return out

    def _learn(self, rc):
        """Feeds the previous step's forward region and tail (if a decode step) to the template learners."""
        from . import stepcache
        if len(self.steps) < 2:
            return
        prev = self.steps[-2]
        if rc.tail_tpl is None:
            if prev.phase == "decode" and prev.tail_events is not None:
                rc.tails.append(stepcache._TailRegion(prev))
                rc.tails = rc.tails[-3:]
                if len(rc.tails) == 3 and stepcache.TailTemplate.fits(*rc.tails):
                    rc.tail_tpl = stepcache.TailTemplate(*rc.tails)
                    rc.tails = []
            else:
                rc.tails = []
        if rc.template is not None:
            return
        if prev.phase != "decode" or prev.fwd_t1 is None or prev.replayed:
            rc.regions = []
            return
        rc.regions.append(stepcache._Region(prev))
        rc.regions = rc.regions[-3:]
        if len(rc.regions) == 3 and stepcache.Template.fits(*rc.regions):
            tpl = stepcache.Template(*rc.regions)
            rc.template = tpl if tpl.ok else None

    def _replay(self, rc, tpl, orig, args, kwargs):
        from . import stepcache
        st = self.cur
        self.flush()
        swaps = rc.swap_list()
        if not _swap_in(swaps):
            # a parameter, buffer or tensor attribute was replaced since the
            # list was made: make it again, so the forward sees today's values
            rc.swaps = None
            swaps = rc.swap_list()
            _swap_in(swaps)
        to_cpu = lambda p, t: t._val if type(t) is LazyTensor else t  # noqa: E731
        unswapped = self.stats.get("replay_unswapped", 0)
        self.replaying = True
        try:
            cargs = stepcache._visit(list(args), to_cpu, None)
            ckw = stepcache._visit(dict(kwargs), to_cpu, None)
            out = orig(*cargs, **ckw)
        finally:
            for d, k, v in swaps:
                d[k] = v
            self.replaying = False
        if self.stats.get("replay_unswapped", 0) != unswapped:
            # values are right (eager CPU), but the forward reached state the
            # cache does not track: stop replaying, capture op by op again
            rc.reset()
            st.label = "decode (replayed with untracked state)"
        outs_ids, nn = tpl.emit(st, st.arg_ids)
        self.stats["ops"] += nn
        self.stats["replayed_steps"] = self.stats.get("replayed_steps", 0) + 1
        k = [0]

        def wrap(p, t):
            if type(t) is LazyTensor or not isinstance(t, torch.Tensor):
                return t
            lt = _wrap_val(t, None)
            if k[0] < len(outs_ids):
                lt._tr = _TRef(st, outs_ids[k[0]])
            k[0] += 1
            return lt
        out = stepcache._visit(out, wrap, None)
        if k[0] != len(outs_ids):
            raise GenieExecutionError("step cache: the replayed forward returned a different structure",
                                      hint="set GENIE_STEP_CACHE=0 to capture every step op by op")
        st.fwd_t1 = len(st.tensors)
        st.fwd_n1 = len(st.nodes)
        st.fwd_reads = len(tpl.base.reads)
        st.replayed = True
        rc.replays += 1
        return out

    def end_forward(self, root, args, kwargs, out):
        self.fwd_user = None
        if self.gc_paused:
            # what the forward allocated joins the frozen objects first (O(1)):
            # re-enabling would otherwise start with a collection of all of it
            gc.freeze()
            gc.enable()
            self.gc_paused = False
        st = self.cur
        self.step_active = False
        ids = kwargs.get("input_ids")
        if ids is None and args and isinstance(args[0], torch.Tensor):
            ids = args[0]
        pkv = kwargs.get("past_key_values")
        if pkv is None:
            pkv = getattr(out, "past_key_values", None) if not isinstance(out, torch.Tensor) else None
        if hasattr(root, "prepare_inputs_for_generation") and isinstance(ids, torch.Tensor) and ids.dim() >= 1:
            T = ids.shape[-1]
            imported_state = st.state_imports > 0
            st.phase = "decode" if (T == 1 and imported_state) else "prefill"
            self.lm_forwards += 1
            st.label = f"{st.phase} {self.lm_forwards - 1}" if st.phase == "decode" else st.phase
        else:
            st.phase = "forward"
        if pkv is not None and not st.replayed:   # a replayed step's records are named by the template
            self.name_cache(pkv)
        rc = self.root_caches.get(id(root)) if st.phase == "decode" else None
        if rc is not None:
            tpl = rc.tail_tpl
            if tpl is None:
                st.tail_events = []
                self.tail_log = st.tail_events     # learn this step's tail
            elif st.replayed:
                from .stepcache import TailRun
                self.tail = TailRun(tpl, st.index - tpl.base_index)

    def tail_sync(self, key):
        """A factory kernel ran during a tail replay: advance past its event (or end the replay)."""
        run = self.tail
        j = run.j
        evs = run.tpl.events
        if j < len(evs) and evs[j].func == key:
            run.j = j + 1
        else:
            self.end_tail()

    def name_cache(self, pkv):
        """Marks the tensors of a KV cache object as state named <module>.k_cache / .v_cache."""
        st = self.cur
        taken = None
        for path, t in _walk(pkv, (), 0):
            r = t._tr
            if r is None or r.step is not st:
                continue
            layer = next((p for p in path if isinstance(p, int)), None)
            kv = None
            for p in path:
                if isinstance(p, str):
                    if "key" in p:
                        kv = "k"
                    elif "value" in p:
                        kv = "v"
            if kv is None and len(path) >= 2 and path[-1] in (0, 1):
                kv = "kv"[path[-1]]
            rec = st.tensors[r.tid]
            mod = rec[T_MODULE] or f"layers.{layer}"
            name = f"{mod}.{kv or 'x'}_cache"
            if taken is None:
                taken = set()
            if kv is None or name in taken:
                name = f"{mod}.cache.{'.'.join(str(p) for p in path)}"
            taken.add(name)
            r.storage = name
            rec[T_KIND] = "state"
            rec[T_STORAGE] = name

    def release_gc_state(self):
        """Leaves the collector as the session found it: enabled if a forward
        paused it (an exception can leave one unfinished), and the objects
        the session froze unfrozen, so the cyclic garbage among them (each
        capture of a GPT-2 generate() leaves thousands of objects in cycles)
        is collected; where the application had frozen objects itself before
        the session, they stay frozen, with the session's."""
        if self.gc_paused:
            gc.enable()
            self.gc_paused = False
        if self.gc_frozen and self.gc_freeze_base == 0:
            gc.unfreeze()
        self.gc_frozen = False

    # ---------------------------------------------------------------- output
    def trace(self):
        """The session as an SRG trace (dict). Flushes pending work first.

        Steps of the same structure (replayed decode steps) share the tensor
        and node dicts that do not change between them (dump.build_like):
        copy a step (copy.deepcopy) before editing it in place.
        """
        from .dump import build_trace
        self.flush()
        return build_trace(self)

    def save(self, path):
        from .dump import save_trace
        return save_trace(self.trace(), path)


def _swap_in(swaps):
    """Puts the CPU value of each (dict, key, LazyTensor) in its place; on finding a
    place that no longer holds its LazyTensor, undoes what it did and returns False."""
    for n, (d, k, v) in enumerate(swaps):
        if d.get(k) is not v:
            for d2, k2, v2 in swaps[:n]:
                d2[k2] = v2
            return False
        d[k] = v._val
    return True


def _walk(obj, path, depth):
    if type(obj) is LazyTensor:
        yield path, obj
        return
    if depth > 5:
        return
    if isinstance(obj, (list, tuple)):
        for i, x in enumerate(obj):
            yield from _walk(x, path + (i,), depth + 1)
    elif isinstance(obj, dict):
        for k, x in obj.items():
            yield from _walk(x, path + (str(k),), depth + 1)
    elif hasattr(obj, "__dict__") and not isinstance(obj, (torch.nn.Module, type)):
        for k, x in vars(obj).items():
            if isinstance(x, (LazyTensor, list, tuple, dict)) or (hasattr(x, "__dict__") and "Layer" in type(x).__name__):
                yield from _walk(x, path + (k,), depth + 1)


# ====================================================================== special handlers

def _h_local_scalar_dense(S, func, args, kwargs):
    return S.read(args[0], "item").item()


def _h_to_copy(S, func, args, kwargs):
    dev = kwargs.get("device")
    if dev is not None and torch.device(dev).type == "cpu":
        v = S.read(args[0], "cpu")
        return func(v, **kwargs)
    info = S.opinfo(func)
    if "device" in kwargs:
        kwargs = dict(kwargs)
        kwargs.pop("device")
    return S.record(func, info, args, kwargs, [args[0]._meta], func(args[0]._meta, **kwargs))


_MODULE_APPLY = torch.nn.Module._apply.__code__


def _in_module_apply():
    """Whether this host-to-device copy is Module.to converting a module's tensors
    (nn.Module._apply a few frames up: convert, __torch_dispatch__, dispatch, the handler)."""
    f = sys._getframe(2)
    for _ in range(12):
        if f is None:
            return False
        if f.f_code is _MODULE_APPLY:
            return True
        f = f.f_back
    return False


def _h_copy_(S, func, args, kwargs):
    dst, src = args[0], args[1]
    if type(dst) is LazyTensor and type(src) is not LazyTensor:
        # host -> device: the destination becomes a new leaf fed by the client
        S.flush()
        if isinstance(src, torch.nn.Parameter) and dst._meta._base is None and _in_module_apply():
            # Module.to converts a tied parameter once per owner; keep the tie:
            # the second copy shares the first's storage (begin_forward then
            # gives both one name and one trace tensor).  Only there: two
            # copies the application makes itself (w.to(dev, copy=True)) are two tensors
            prev = _param_copies.get(src)
            if prev is not None and prev[1] == src._version and prev[0].shape == dst._val.shape \
                    and prev[0].stride() == dst._val.stride() and prev[0].dtype == dst._val.dtype:
                dst._val = prev[0]
                dst._tr = None
                return dst
            _param_copies[src] = (dst._val, src._version)
        dst._val.copy_(src, *args[2:])
        dst._tr = None
        root = dst._root
        if root[1] is not None or dst._meta._base is not None:
            root[0] += 1
            root[1] = dst
            dst._rver = root[0]
        return dst
    if type(dst) is not LazyTensor:
        v = S.read(src, "cpu")
        dst.copy_(v, *args[2:])
        return dst
    info = S.opinfo(func)
    return S.record(func, info, args, kwargs, [dst._meta, src._meta], func(dst._meta, src._meta, *args[2:]))


def _h_alias(S, func, args, kwargs):
    """detach / alias: the same data under a new tensor object; no trace node."""
    src = args[0]
    m = func(src._meta)
    t = _wrap(m, None, src._root)
    t._tr = src._tr
    t._rver = src._rver
    t._pname = src._pname
    S.pending.append((func, args, kwargs, [(0, t)], None, ""))
    S.ev_path = "alias"
    return t


_param_copies = None  # WeakIdKeyDictionary: CPU Parameter -> (weakref to its device copy, version)


_HANDLERS = {
    aten.detach.default: _h_alias,
    aten.alias.default: _h_alias,
    aten._local_scalar_dense.default: _h_local_scalar_dense,
    aten._to_copy.default: _h_to_copy,
    aten.copy_.default: _h_copy_,
}

# ====================================================================== SDPA

_orig_sdpa = torch.nn.functional.scaled_dot_product_attention


def _sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, *args, **kwargs):
    """F.scaled_dot_product_attention: one ``attention`` node, run as eager CPU would.

    On a non-CPU device PyTorch would pick its math fallback; recording the
    call itself keeps the CPU kernel choice (bit-identical results) and gives
    the planner one attention node.
    """
    if type(query) is not LazyTensor or (torch.is_grad_enabled() and
                                         (query.requires_grad or key.requires_grad or value.requires_grad)):
        return _orig_sdpa(query, key, value, attn_mask, dropout_p, is_causal, *args, **kwargs)
    q, k, v = query._meta, key._meta, value._meta
    out = torch.empty(list(q.shape[:-1]) + [v.shape[-1]], dtype=q.dtype, device="meta")
    attrs = {"heads": q.shape[-3] if q.dim() >= 3 else 1, "kv_heads": k.shape[-3] if k.dim() >= 3 else 1,
             "head_dim": q.shape[-1], "causal": bool(is_causal), "masked": attn_mask is not None,
             "_bhqk": q.numel() // max(1, q.shape[-1]) * (k.shape[-2] if k.dim() >= 2 else 1)}
    scale = kwargs.get("scale", args[0] if args else None)   # SDPA(q, k, v, mask, p, causal, scale, ...)
    if scale is not None:                                     # absent: 1/sqrt(head_dim), the executors' default
        attrs["scale"] = float(scale)
    return _S.call_python(_orig_sdpa, "scaled_dot_product_attention", "attention",
                          (query, key, value, attn_mask, dropout_p, is_causal) + args, kwargs, out, attrs)


# ====================================================================== module boundaries
#
# Module paths, steps and phases come from one wrapper installed as
# ``nn.Module.__call__`` (install(); set_module_hooks(False) restores
# torch's).  Global forward hooks would do the same, but once any global
# hook exists every module call takes PyTorch's slow hook-dispatch path
# (building hook lists, a closure, try/except per call), which cost more
# than genie's own bookkeeping.  The wrapper keeps the module-path stack
# (push before forward, pop in ``finally``, so an exception leaves it
# balanced, as ``always_call`` hooks did) and, when the module has no hooks
# of its own, no global hooks are registered, it is not compiled and no JIT
# trace is running, calls ``forward`` directly: exactly the fast path of
# ``Module._call_impl``, one Python frame instead of two.  Anything else
# goes through torch's own ``__call__`` unchanged.

_mm = torch.nn.modules.module
_g_hooks = tuple(getattr(_mm, n, {}) for n in ("_global_backward_pre_hooks", "_global_backward_hooks",
                                                "_global_forward_hooks", "_global_forward_pre_hooks"))
_gh0, _gh1, _gh2, _gh3 = _g_hooks
_tracing = torch._C._get_tracing_state
_torch_call = torch.nn.Module.__call__     # Module._wrapped_call_impl
# the fast path copies torch >= 2.2's _call_impl; elsewhere always defer to torch's __call__
_FAST = hasattr(torch.nn.Module, "_compiled_call_impl") and hasattr(torch.nn.Module, "_wrapped_call_impl")


def _module_call(self, *args, **kwargs):
    S = _S
    st = S.modstack
    if st:                                  # a submodule: the hot path
        name = S.names.get(self)
        if name is not None:
            if (not _FAST or self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                    or self._backward_pre_hooks or _gh0 or _gh1 or _gh2 or _gh3
                    or self._compiled_call_impl is not None or _tracing()):
                fwd = functools.partial(_torch_call, self)
            else:
                fwd = self.forward
            if S.replaying:                 # step-cache replay: eager CPU, no paths needed
                return fwd(*args, **kwargs)
            st.append(name)
            try:
                return fwd(*args, **kwargs)
            finally:
                st.pop()
    return _module_call_slow(S, self, args, kwargs)


def _module_call_slow(S, mod, args, kwargs):
    """A top-level call (maybe a new step), or a module not under a known root."""
    st = S.modstack
    top = not st
    if top:
        lazy = any(type(a) is LazyTensor for a in args) or any(type(a) is LazyTensor for a in kwargs.values())
        if not lazy:
            for p in mod.parameters():
                lazy = type(p) is LazyTensor
                break
        if not lazy:
            for b in mod.buffers():
                lazy = type(b) is LazyTensor
                break
        if lazy:
            t0 = _pc()
            S.begin_forward(mod)
            S.step_s += _pc() - t0
    name = S.names.get(mod)
    if name is None:
        name = type(mod).__name__
        if st:
            name = f"{st[-1]}.{name}" if st[-1] else name
        if S.step_active:
            S.names[mod] = name
            S.classes[name] = type(mod).__name__
    st.append(name)
    out = None
    try:
        out = _torch_call(mod, *args, **kwargs)
        return out
    finally:
        st.pop()
        if not st and S.step_active and S.root_mod is mod:
            t0 = _pc()
            S.end_forward(mod, args, kwargs, out)
            S.step_s += _pc() - t0


_pc = time.perf_counter
_OpOverload = torch._ops.OpOverload
_S = Session()


def install():
    """Registers the device, the SDPA interception and the module-call wrapper (idempotent)."""
    global DEVICE, _param_copies
    if DEVICE is not None:
        return
    from torch.utils.weak import WeakIdKeyDictionary
    _param_copies = WeakIdKeyDictionary()
    _register_backend()
    DEVICE = torch.device(BACKEND, 0)
    torch.nn.functional.scaled_dot_product_attention = _sdpa
    set_module_hooks(True)


def set_module_hooks(enabled):
    """Installs (True) or removes (False) genie's ``nn.Module.__call__`` wrapper.

    Without it no module paths, steps or phases are recorded; used by
    bench_capture.py to measure what module tracking costs.  Removing it
    restores torch's ``__call__`` only if nobody replaced genie's since.
    """
    cur = torch.nn.Module.__dict__.get("__call__")
    if enabled and cur is not _module_call:
        torch.nn.Module.__call__ = _module_call
    elif not enabled and cur is _module_call:
        torch.nn.Module.__call__ = _torch_call


def release_gc():
    """Gives the objects genie moved out of the collector's scans back to it."""
    gc.unfreeze()


def session():
    """The current capture session (borrowed)."""
    return _S


def new_session(name="capture"):
    """Flushes the current session and starts a fresh one; returns the new one."""
    global _S
    _S.flush()
    _S.release_gc_state()
    old_names = _S.names
    _S = Session(name)
    _S.names = {}
    del old_names
    return _S
