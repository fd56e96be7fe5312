"""Step-graph cache: repeated LLM decode steps are executed once, not traced op by op.

A decode step's structure repeats; only sizes that grow with the KV cache
change, and they change by the same amount each step.  So once three
consecutive decode steps of one model have been captured op by op, the
cache holds a *template* of the forward region (its tensors and nodes,
with the forward's tensor arguments and results as numbered slots), and
it has checked that every number in the template (shapes, attributes)
moves affinely: step3 == 2*step2 - step1, exactly, and that everything
else the step depends on stayed the same (argument dtypes, the plain
values among the arguments, the modules' training flags and hooks).

Later decode steps then run the model's unmodified forward *eagerly on the
CPU* (parameters, buffers and the KV cache swapped to their CPU values for
the call), so no op goes through __torch_dispatch__; the step's trace is
the template instantiated at the next point of the progression, and the
results are wrapped back into lazy tensors.  Guards: the same argument
structure and dtypes, argument shapes equal to the predicted ones, the
same plain argument values (output_hidden_states=True) and types, the
same training flags and forward-hook counts; on any mismatch the step is
captured op by op and the template relearned.

The values are those of eager CPU execution of the same forward, so
outputs stay bit-identical.

The ops outside the forward (generate's logits processing, sampling,
stopping criteria, the next step's inputs: the step's *tail*) run on lazy
tensors in the application's own code, so they cannot be skipped; a
TailTemplate, learned from the same three steps, lets each of them run at
once on the CPU and be recorded with the template's attributes and source
line instead of going through shape propagation, deferral and a stack walk
(core.Session.tail_dispatch), after checking that it is the op expected
there.
"""
import functools

import torch

from . import core

_NUM = (int, float)


def _flatten(x, nums):
    """Replaces numbers in a nested structure by '#', appending them to nums."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, _NUM):
        nums.append(x)
        return "#"
    if isinstance(x, (list, tuple)):
        return tuple(_flatten(v, nums) for v in x)
    if isinstance(x, dict):
        return tuple((k, _flatten(v, nums)) for k, v in x.items())
    return repr(x)


class _Region:
    """The forward region of one captured step, in slot form."""

    def __init__(self, st):
        t0, t1, n0, n1 = st.fwd_t0, st.fwd_t1, st.fwd_n0, st.fwd_n1
        argpos = {}
        for k, i in enumerate(st.arg_ids):
            argpos.setdefault(i, k)
        self.ok = True

        def rid(x):
            if t0 <= x < t1:
                return ("r", x - t0)
            if x in argpos:
                return ("a", argpos[x])
            self.ok = False
            return ("x", x)
        T = core
        self.tensors = [(r[T.T_DTYPE][0], list(r[T.T_SHAPE]), r[T.T_KIND], r[T.T_STORAGE], r[T.T_MODULE])
                        for r in st.tensors[t0:t1]]
        self.dtypes = [r[T.T_DTYPE] for r in st.tensors[t0:t1]]
        self.nodes = [(n[T.N_OP], [rid(i) for i in n[T.N_INS]], [rid(o) for o in n[T.N_OUTS]],
                       dict(n[T.N_ATTRS]) if n[T.N_ATTRS] else None, n[T.N_MODULE], n[T.N_ATEN])
                      for n in st.nodes[n0:n1]]
        self.srcs = [(n[T.N_SRC], n[T.N_USER], n[T.N_ORD]) for n in st.nodes[n0:n1]]
        self.outs = [rid(x) for x in st.out_ids]
        r0 = st.fwd_r0
        self.reads = [(rid(r[0]), r[1], r[2]) for r in st.reads[r0:r0 + (st.fwd_reads or 0)]]
        self.argshapes = [list(st.tensors[i][T.T_SHAPE]) for i in st.arg_ids]
        self.argdtypes = [st.tensors[i][T.T_DTYPE] for i in st.arg_ids]
        self.argconsts = st.arg_consts
        self.modstate = st.mod_state
        self.argpaths = st.arg_paths
        self.outpaths = st.out_paths
        # numbers in a fixed order (Template.__init__ walks the same order);
        # everything else in the skeleton, which must match exactly
        nums, skel = [], []
        for t in self.tensors:
            nums.extend(t[1])
            skel.append((t[0], len(t[1]), t[2], t[3], t[4]))
        for op, ins, outs, attrs, module, aten_name in self.nodes:
            for _, i in ins:
                nums.append(i)
            for _, i in outs:
                nums.append(i)
            a = tuple((key, _flatten(v, nums)) for key, v in attrs.items()) if attrs else None
            skel.append((op, tuple(k for k, _ in ins), tuple(k for k, _ in outs), a))
        for k, i in self.outs:
            nums.append(i)
            skel.append(k)
        for sh in self.argshapes:
            nums.extend(sh)
            skel.append(len(sh))
        self.skel = tuple(skel)
        self.nums = nums
        self.modules = [n[4] for n in self.nodes]
        self.atens = [n[5] for n in self.nodes]


class Template:
    """Three consecutive decode regions that progress affinely; emits the next ones.

    Precomputed so that emitting a step costs little per node: records whose
    numbers do not change are shared between steps (records are never
    mutated once a step is built), and only the numbers that move (the KV
    length, attention sizes) are patched.
    """

    def __init__(self, r1, r2, r3):
        self.base = r3
        self.k = 0
        delta = [c - b for b, c in zip(r2.nums, r3.nums)]
        it = iter(zip(r3.nums, delta))   # the layout of _Region.skel, in _flatten order
        self.tensors = []          # [dtype, shape, kind, storage, module]
        self.tvar = []             # (tensor index, dim, base, delta)
        for ti, t in enumerate(r3.tensors):
            shape = []
            for d in range(len(t[1])):
                b, dl = next(it)
                shape.append(b)
                if dl:
                    self.tvar.append((ti, d, b, dl))
            self.tensors.append([r3.dtypes[ti], shape, t[2], t[3], t[4]])
        self.nodes = []            # [op, ins, outs, attrs, module, src, user, aten, ord]; ids encoded
        self.nvar = []             # (node index, attr key, base, delta)
        self.ok = True
        for ni, (n, (src, user, o)) in enumerate(zip(r3.nodes, r3.srcs)):
            op, ins, outs, attrs, module, aten_name = n
            enc = []
            for lst in (ins, outs):
                e = []
                for kind, idx in lst:
                    _, dl = next(it)
                    if dl:
                        self.ok = False
                    e.append(idx if kind == "r" else -(idx + 1))
                enc.append(e)
            if attrs is not None:
                for key, v in attrs.items():
                    nums = []
                    _flatten(v, nums)
                    for _ in nums:
                        b, dl = next(it)
                        if dl:
                            if isinstance(v, (int, float)) and not isinstance(v, bool):
                                self.nvar.append((ni, key, b, dl))
                            else:
                                self.ok = False
            self.nodes.append([op, enc[0], enc[1], attrs, module, src, user, aten_name, o])
        self.outs = []
        for kind, idx in r3.outs:
            next(it)
            self.outs.append(idx if kind == "r" else -(idx + 1))
        self.args = []             # (base shape, delta shape)
        for sh in r3.argshapes:
            bs, ds = [], []
            for _ in sh:
                b, dl = next(it)
                bs.append(b)
                ds.append(dl)
            self.args.append((bs, ds))
        self.reads = [((idx if kind == "r" else -(idx + 1)), reason, src) for (kind, idx), reason, src in r3.reads]
        self.out_node = None       # region tensor -> the node that writes it (emit)
        self.out_var = None        # [(region output, [(dim, base, delta)] of its moving sizes)] (emit)
        self.placed = None         # (placement, tensor and node record prototypes) (expand)

    @staticmethod
    def fits(r1, r2, r3):
        if not (r1.ok and r2.ok and r3.ok):
            return False
        if not (r1.skel == r2.skel == r3.skel and len(r1.nums) == len(r2.nums) == len(r3.nums)):
            return False
        if not (r1.modules == r2.modules == r3.modules and r1.atens == r2.atens == r3.atens
                and [r[:2] for r in r1.reads] == [r[:2] for r in r2.reads] == [r[:2] for r in r3.reads]
                and r1.argpaths == r2.argpaths == r3.argpaths and r1.outpaths == r2.outpaths == r3.outpaths
                and r1.argdtypes == r2.argdtypes == r3.argdtypes and r1.dtypes == r2.dtypes == r3.dtypes
                and r1.argconsts == r2.argconsts == r3.argconsts and r1.modstate == r2.modstate == r3.modstate):
            return False
        return all(c - b == b - a for a, b, c in zip(r1.nums, r2.nums, r3.nums))

    def predict_args(self):
        k = self.k + 1
        return [[b + d * k for b, d in zip(bs, ds)] for bs, ds in self.args]

    def emit(self, st, arg_ids):
        """Reserves the next step's forward region in step st; returns (output tensor ids, node count).

        Only the region's outputs (which later code may look up) are built
        now; the rest is built by expand() when the trace is written.
        """
        k = self.k + 1
        base, nbase = len(st.tensors), len(st.nodes)
        if self.out_node is None:
            self.out_node = {}
            for ni, n in enumerate(self.nodes):
                for o in n[2]:
                    if o >= 0:
                        self.out_node[o] = ni
            moving = {}
            for ti, d, b, dl in self.tvar:
                moving.setdefault(ti, []).append((d, b, dl))
            self.out_var = [(i, moving.get(i, ())) for i in self.outs if i >= 0]
        st.tensors.extend([None] * len(self.tensors))
        st.nodes.extend([None] * len(self.nodes))
        for i, var in self.out_var:
            t = self.tensors[i]
            sh = list(t[1])
            for d, b, dl in var:
                sh[d] = b + dl * k
            st.tensors[base + i] = [t[0], sh, t[2], t[3], t[4], False, nbase + self.out_node.get(i, -1)]
        st.deferred.append((self, k, list(arg_ids), base, nbase))
        for idx, reason, src in self.reads:
            st.reads.append((base + idx if idx >= 0 else arg_ids[-idx - 1], reason, src))
        self.k = k
        return [base + i if i >= 0 else arg_ids[-i - 1] for i in self.outs], len(self.nodes)

    def expand(self, st, k, arg_ids, base, nbase):
        """Builds the records of a region reserved by emit().

        Consecutive replayed steps usually place the region at the same
        record indices with the same arguments: the records (ids resolved)
        are kept for that placement; the tensor records are copied (a later
        step may mark one as exported), and every node record whose
        attributes do not move is shared between those steps, the very
        same list (node records are never mutated once a step is built), so
        that dump._same_structure finds the ones that differ by identity.
        """
        key = (base, nbase, arg_ids)
        c = self.placed
        if c is None or c[0] != key:
            owner = self.out_node
            tprotos = [(t[0], t[1], t[2], t[3], t[4], False, nbase + owner.get(i, -1))
                       for i, t in enumerate(self.tensors)]
            nprotos = [[n[0], [base + i if i >= 0 else arg_ids[-i - 1] for i in n[1]],
                        [base + i if i >= 0 else arg_ids[-i - 1] for i in n[2]], n[3], n[4], n[5], n[6], n[7], n[8]]
                       for n in self.nodes]
            self.placed = c = (key, tprotos, nprotos)
        _, tprotos, nprotos = c
        n = len(tprotos)
        recs = [r if r is not None else list(p) for r, p in zip(st.tensors[base:base + n], tprotos)]
        patched = {}
        for ti, d, b, dl in self.tvar:
            if st.tensors[base + ti] is not None:
                continue          # built by emit()
            sh = patched.get(ti)
            if sh is None:
                sh = patched[ti] = list(recs[ti][1])
                recs[ti][1] = sh
            sh[d] = b + dl * k
        st.tensors[base:base + n] = recs
        nodes = nprotos.copy()     # the records themselves, shared by every step at this placement
        for ni, key_, b, dl in self.nvar:
            rec = nodes[ni]
            if rec is nprotos[ni]:
                rec = nodes[ni] = list(rec)
                rec[3] = dict(rec[3])
            rec[3][key_] = b + dl * k
        st.nodes[nbase:nbase + len(nodes)] = nodes


# ---------------------------------------------------------------------- decode-step tails

def _subst(x, it):
    """x with its numbers (in _flatten order) replaced by the next values of it."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, _NUM):
        return next(it)
    if isinstance(x, (list, tuple)):
        return type(x)(_subst(v, it) for v in x)
    if isinstance(x, dict):
        return {k: _subst(v, it) for k, v in x.items()}
    return x


class _TailRegion:
    """The tail of one captured decode step: the events after its forward.

    Events are what core.Session.dispatch logged (aten overload, how it was
    handled, the nodes it added) and the factory kernels; an event replays
    cheaply only if it was an ordinary recorded op ("rec", exactly one node)
    or an alias ("alias", no node); every other event (reads, uploads,
    data-dependent ops, factories) is captured as usual on replay too.
    """

    def __init__(self, st):
        self.index = st.index
        T = core
        nums, skel, events = [], [], []
        for func, path, n0, n1 in st.tail_events:
            node = None
            if path == "rec" and n1 == n0 + 1:
                node = st.nodes[n0]
            elif path != "alias":
                path = None
            if node is None:
                skel.append((func, path))
                events.append((func, path, None, None))
                continue
            attrs = node[T.N_ATTRS]
            a = tuple((k, _flatten(v, nums)) for k, v in attrs.items()) if attrs else None
            shapes = [list(st.tensors[o][T.T_SHAPE]) for o in node[T.N_OUTS]]
            for sh in shapes:
                nums.extend(sh)
            skel.append((func, path, node[T.N_OP], node[T.N_ATEN], node[T.N_SRC], node[T.N_USER], a,
                         tuple(len(sh) for sh in shapes)))
            events.append((func, path, node, shapes))
        self.skel = tuple(skel)
        self.nums = nums
        self.events = events


class _TailEvent:
    __slots__ = ("func", "path", "gop", "where", "attrs", "avar", "shapes", "svar", "info", "lean", "depth",
                 "tshapes", "op", "scalars_seen", "simple", "sv")

    def attrs_at(self, k):
        """The node's attributes at step k of the progression (shared when constant)."""
        if not self.avar:
            return self.attrs
        a = dict(self.attrs)
        for key, base, delta in self.avar:
            it = iter([b + d * k for b, d in zip(base, delta)])
            a[key] = _subst(self.attrs[key], it)
        return a

    def shapes_ok(self, res, k):
        """Whether the op's CPU results have the shapes the progression predicts at step k."""
        sh = self.tshapes       # tuples: a torch.Size compares equal to the tuple of its sizes
        if self.svar:
            sh = [list(x) for x in sh]
            for i, d, b, dl in self.svar:
                sh[i][d] = b + dl * k
            sh = [tuple(x) for x in sh]
        if type(res) is torch.Tensor:       # the common case: one plain CPU tensor
            return len(sh) > 0 and res.shape == sh[0]
        if isinstance(res, torch.Tensor):
            rs = (res,)
        else:
            rs = [x for x in res if isinstance(x, torch.Tensor)]
        if len(rs) > len(sh):
            return False
        for x, s in zip(rs, sh):
            if x.shape != s:
                return False
        return True


class TailTemplate:
    """Three consecutive decode-step tails with the same events whose numbers move affinely.

    Replaying a tail (core.Session.tail_dispatch) still records every op
    through the usual record() path, so tensor ids, imports of earlier steps'
    state and reads are exactly those of op-by-op capture; the template only
    supplies each node's attributes and source line (and so skips shape
    propagation, deferral and the stack walk), after checking that the op is
    the expected aten overload called from the expected library line and
    that its outputs have the predicted shapes.
    """

    def __init__(self, r1, r2, r3):
        self.base_index = r3.index
        delta = [c - b for b, c in zip(r2.nums, r3.nums)]
        it = iter(zip(r3.nums, delta))
        self.events = []
        for func, path, node, shapes in r3.events:
            ev = _TailEvent()
            ev.func, ev.path = func, path
            ev.gop = ev.where = ev.attrs = ev.shapes = ev.tshapes = None
            ev.avar, ev.svar = [], []
            ev.info, ev.lean, ev.depth = None, False, 0     # set on first replay (core)
            ev.simple, ev.sv = False, None                  # set on first replay (core)
            ev.scalars_seen = None                          # non-tensor operands last checked (core)
            ev.op = getattr(func, "_op", func)              # what OpOverload.__call__ calls
            if node is not None:
                ev.gop = node[core.N_OP]
                ev.where = (node[core.N_SRC], node[core.N_USER])
                ev.attrs = node[core.N_ATTRS]
                if ev.attrs:
                    for key, v in ev.attrs.items():
                        nums = []
                        _flatten(v, nums)
                        bs, ds = [], []
                        for _ in nums:
                            b, dl = next(it)
                            bs.append(b)
                            ds.append(dl)
                        if any(ds):
                            ev.avar.append((key, bs, ds))
                ev.shapes = shapes
                ev.tshapes = [tuple(sh) for sh in shapes]
                for i, sh in enumerate(shapes):
                    for d in range(len(sh)):
                        b, dl = next(it)
                        if dl:
                            ev.svar.append((i, d, b, dl))
            self.events.append(ev)

    @staticmethod
    def fits(r1, r2, r3):
        if not (r1.skel == r2.skel == r3.skel and len(r1.nums) == len(r2.nums) == len(r3.nums)):
            return False
        if r2.index != r1.index + 1 or r3.index != r2.index + 1:
            return False
        return all(c - b == b - a for a, b, c in zip(r1.nums, r2.nums, r3.nums))


class TailRun:
    """A tail being replayed: the template, the step's place k in the progression, the next event."""
    __slots__ = ("tpl", "k", "j")

    def __init__(self, tpl, k):
        self.tpl, self.k, self.j = tpl, k, 0


# ---------------------------------------------------------------------- object traversal

_TK = {}   # type -> how _visit treats its instances (decided once per type)
_SKIP, _TENSOR, _LIST, _NAMEDTUPLE, _TUPLE, _TUPLESUB, _DICT, _HOLDER, _OBJECT = range(9)


def _tkind(t):
    k = _TK.get(t)
    if k is None:
        if issubclass(t, torch.Tensor):
            k = _TENSOR
        elif issubclass(t, list):
            k = _LIST
        elif issubclass(t, tuple):
            k = _NAMEDTUPLE if hasattr(t, "_fields") else (_TUPLE if t is tuple else _TUPLESUB)
        elif issubclass(t, dict):
            k = _DICT
        elif issubclass(t, (torch.nn.Module, type)) or not getattr(t, "__dictoffset__", 0):
            k = _SKIP
        elif "Cache" in t.__name__ or "Layer" in t.__name__:
            k = _HOLDER      # cache objects and their layers: visited at any depth
        else:
            k = _OBJECT      # other objects: visited only as direct arguments / fields
        _TK[t] = k
    return k


def _visit(obj, fn, path=(), depth=0):
    """Calls fn(path, tensor) -> tensor on every tensor in obj (lists, tuples, dicts,
    ModelOutputs, cache objects), replacing in place where the container allows; returns obj.

    With path None, fn gets None for the path (cheaper when it is not used).
    """
    k = _TK.get(type(obj))
    if k is None:
        k = _tkind(type(obj))
    if k == _TENSOR:
        return fn(path, obj)
    if k == _SKIP or depth > 5:
        return obj
    d = depth + 1
    if k == _LIST:
        for i, x in enumerate(obj):
            obj[i] = _visit(x, fn, None if path is None else path + (i,), d)
        return obj
    if k <= _TUPLESUB:
        new = [_visit(x, fn, None if path is None else path + (i,), d) for i, x in enumerate(obj)]
        if k == _NAMEDTUPLE:
            return type(obj)(*new)
        return tuple(new) if k == _TUPLE else type(obj)(new)
    if k == _DICT:
        for key in list(obj.keys()):
            v = obj[key]
            nv = _visit(v, fn, None if path is None else path + (str(key),), d)
            if nv is not v:
                obj[key] = nv
        return obj
    if k == _HOLDER or depth == 1:
        tk = _TK
        for key, v in list(vars(obj).items()):
            kv = tk.get(type(v))
            if kv is None:
                kv = _tkind(type(v))
            if kv != _SKIP:
                nv = _visit(v, fn, None if path is None else path + (key,), d)
                if nv is not v:
                    setattr(obj, key, nv)
    return obj


def lazies(obj):
    out = []
    _visit(obj, lambda p, t: (out.append((p, t)) if type(t) is core.LazyTensor else None) or t)
    return out


# ---------------------------------------------------------------------- guards

_PLAIN = (bool, int, float, str, type(None))


def arg_consts(args, kwargs):
    """What a forward's top-level arguments say besides their tensors: plain values
    (output_hidden_states=True, a count) as they are, anything else by its type (a
    tensor, a cache object, None where a tensor was).  A replay needs them equal."""
    return (tuple(a if isinstance(a, _PLAIN) else type(a) for a in args),
            tuple((k, v if isinstance(v, _PLAIN) else type(v)) for k, v in kwargs.items()))


_MM = torch.nn.modules.module


def module_state(mods):
    """The module state a replay would not see: each module's training flag (dropout
    runs in train mode) and the forward hooks, per module and global, by count (a hook
    added mid-generation changes the step's ops)."""
    return (tuple(m.training for m in mods),
            sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in mods),
            len(_MM._global_forward_hooks) + len(_MM._global_forward_pre_hooks))


# ---------------------------------------------------------------------- per-root state

class RootCache:
    def __init__(self, root):
        self.root = root
        self.regions = []        # last captured decode regions (at most 3)
        self.template = None
        self.tails = []          # last captured decode-step tails (at most 3)
        self.tail_tpl = None     # TailTemplate
        self.swaps = None
        self.replays = 0
        self.mods = list(root.modules())   # module_state's (a module replaced later is not seen)

    def reset(self):
        """Forgets the templates (the steps left the progression): relearn from captured steps."""
        self.template = None
        self.regions = []
        self.tail_tpl = None
        self.tails = []

    def swap_list(self):
        if self.swaps is None:
            sw = []
            for m in self.root.modules():
                for d in ("_parameters", "_buffers"):
                    for k, v in getattr(m, d).items():
                        if type(v) is core.LazyTensor:
                            sw.append((getattr(m, d), k, v))
                for k, v in vars(m).items():
                    if type(v) is core.LazyTensor:
                        sw.append((m.__dict__, k, v))
            self.swaps = sw
        return self.swaps


def install_forward(S, root):
    """Wraps root.forward (instance attribute) so decode steps can be replayed."""
    if getattr(root, "_genie_wrapped", False):
        return
    orig = root.forward

    @functools.wraps(orig)
    def forward(*args, **kwargs):
        return core._S.forward_call(root, orig, args, kwargs)
    root.forward = forward
    root._genie_wrapped = True
