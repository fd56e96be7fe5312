"""The one table that maps aten ops to the Genie op vocabulary.

The C side (libgenie, genie-sim) knows only the fixed SRG vocabulary of
traces/SCHEMA.md; it never sees an aten name, so it never depends on the
PyTorch version.  Everything version-specific lives here:

  ATEN[name] = (genie_op, fn)

keyed by the aten overload *packet* name ("addmm", "native_layer_norm",
...).  ``fn`` is the ``attrs.fn`` written for elementwise / reduction /
view / index / fill / copy ops (None for ops whose vocabulary entry has
no fn).  An aten op missing from the table is kept as ``opaque`` with
``attrs.name`` set to its aten name and a cost estimate (one FLOP per
output element, bytes = inputs + outputs).

Attributes that need argument values (matmul m/n/k, conv stride, norm eps,
softmax dim) come from ATTRS[name](args, metas_in, metas_out); FLOPs and
bytes are computed at dump time by cost() from the node's op, attributes
and tensor shapes, following the SCHEMA.md conventions exactly.

To support a new aten op: add one line to ATEN (and an ATTRS entry when
the vocabulary entry has attributes); tests/test_optable.py checks the
table against the vocabulary.
"""
import math

import torch

VOCAB = (
    "matmul conv2d pool2d layer_norm rms_norm batch_norm group_norm softmax attention "
    "embedding embedding_bag elementwise reduction view copy concat index fill interaction opaque"
).split()

DTYPES = {  # torch dtype name -> (SRG dtype, bytes per element)
    "float32": ("f32", 4), "float16": ("f16", 2), "bfloat16": ("bf16", 2), "float64": ("f64", 8),
    "int64": ("i64", 8), "int32": ("i32", 4), "int16": ("i16", 2), "int8": ("i8", 1),
    "uint8": ("u8", 1), "bool": ("bool", 1),
}

_E, _R, _V, _C, _I, _F = "elementwise", "reduction", "view", "copy", "index", "fill"

ATEN = {
    # matmul family
    "mm": ("matmul", None), "addmm": ("matmul", None), "bmm": ("matmul", None),
    "baddbmm": ("matmul", None), "mv": ("matmul", None), "addmv": ("matmul", None),
    "dot": ("matmul", None), "matmul": ("matmul", None), "linear": ("matmul", None),
    "addbmm": ("matmul", None),
    # convolution, pooling
    "convolution": ("conv2d", None), "_convolution": ("conv2d", None),
    "mkldnn_convolution": ("conv2d", None), "conv2d": ("conv2d", None),
    "max_pool2d_with_indices": ("pool2d", "max"), "max_pool2d": ("pool2d", "max"),
    "avg_pool2d": ("pool2d", "avg"), "_adaptive_avg_pool2d": ("pool2d", "avg"),
    "adaptive_avg_pool2d": ("pool2d", "avg"), "adaptive_max_pool2d": ("pool2d", "max"),
    # normalisation
    "native_layer_norm": ("layer_norm", None), "layer_norm": ("layer_norm", None),
    "_fused_rms_norm": ("rms_norm", None), "rms_norm": ("rms_norm", None),
    "native_batch_norm": ("batch_norm", None), "_native_batch_norm_legit_no_training": ("batch_norm", None),
    "_native_batch_norm_legit": ("batch_norm", None), "batch_norm": ("batch_norm", None),
    "native_group_norm": ("group_norm", None),
    # softmax, attention
    "_softmax": ("softmax", None), "softmax": ("softmax", None), "_safe_softmax": ("softmax", None),
    "_log_softmax": ("softmax", None),
    "scaled_dot_product_attention": ("attention", None),
    "_scaled_dot_product_flash_attention_for_cpu": ("attention", None),
    "_scaled_dot_product_attention_math": ("attention", None),
    # embeddings
    "embedding": ("embedding", None), "_embedding_bag": ("embedding_bag", None),
    "_embedding_bag_forward_only": ("embedding_bag", None), "embedding_bag": ("embedding_bag", None),
    # concat
    "cat": ("concat", None), "stack": ("concat", None), "hstack": ("concat", None),
    # copies
    "clone": (_C, "clone"), "contiguous": (_C, "contiguous"), "copy_": (_C, "copy"),
    "copy": (_C, "copy"), "lift_fresh_copy": (_C, "copy"), "constant_pad_nd": (_C, "pad"),
    "flip": (_C, "flip"), "roll": (_C, "roll"), "repeat": (_C, "repeat"),
    "_to_copy": (_E, "cast"), "to": (_E, "cast"),
}
for _n in ("view _unsafe_view reshape permute transpose t expand expand_as slice select unsqueeze "
           "squeeze as_strided detach alias split split_with_sizes unbind narrow unfold diagonal "
           "lift_fresh view_as _reshape_alias movedim swapaxes numpy_T").split():
    ATEN[_n] = (_V, _n)
for _n in ("add sub rsub mul div neg exp log log1p sqrt rsqrt pow abs sign cos sin erf tanh "
           "reciprocal floor ceil round trunc frac clamp clamp_min clamp_max minimum maximum where "
           "masked_fill eq ne lt le gt ge logical_not logical_and logical_or logical_xor "
           "bitwise_and bitwise_or bitwise_not bitwise_xor remainder fmod floor_divide "
           "addcmul addcdiv lerp hardtanh leaky_relu threshold tril triu isnan isinf "
           "nan_to_num square exp2 expm1 hardswish hardsigmoid elu softplus mish "
           "relu gelu silu sigmoid relu_ gelu_ silu_").split():
    ATEN[_n] = (_E, _n)
for _n in ("sum mean amax amin max min argmax argmin topk sort cumsum cumprod prod any all "
           "linalg_vector_norm norm var std var_mean std_mean logsumexp count_nonzero "
           "multinomial").split():
    ATEN[_n] = (_R, _n)
for _n in ("index index_select gather scatter scatter_add scatter_reduce index_put index_put_ "
           "_index_put_impl_ index_copy index_copy_ index_add masked_scatter masked_select take "
           "slice_scatter select_scatter nonzero repeat_interleave isin _unsafe_index _unique2 unique "
           "unique_consecutive upsample_nearest2d upsample_bilinear2d upsample_bicubic2d "
           "_upsample_nearest_exact2d _upsample_bilinear2d_aa grid_sampler_2d").split():
    ATEN[_n] = (_I, _n)
for _n in ("zeros ones full arange empty zeros_like ones_like full_like empty_like new_zeros "
           "new_ones new_full new_empty fill fill_ zero_ scalar_tensor linspace eye normal_ "
           "uniform_ random_ bernoulli bernoulli_ randperm exponential_ tril_indices "
           "triu_indices randint randn rand empty_strided").split():
    ATEN[_n] = (_F, _n)

# flops per output element of an elementwise fn (SCHEMA.md); default 1
ELEMENTWISE_FLOPS = {"gelu": 8, "gelu_": 8, "gelu_erf": 8, "silu": 4, "silu_": 4, "sigmoid": 4, "rotary": 3}

# Ops recorded as nothing at all (assertions, metadata): (aten packet names)
IGNORED = {"_assert_async", "_assert_tensor_metadata", "_functional_assert_async",
           "_assert_scalar", "record_stream", "_fused_sdp_choice", "is_same_size",
           "_has_compatible_shallow_copy_type", "is_pinned", "_nested_tensor_from_mask_left_aligned"}


def lookup(name):
    """(genie_op, fn) for an aten packet name; ("opaque", None) when not in the table.

    In-place variants (``add_``) map like their functional op.
    """
    r = ATEN.get(name)
    if r is None and name.endswith("_") and not name.startswith("_"):
        r = ATEN.get(name[:-1])
    return r or ("opaque", None)


# ------------------------------------------------------------------ attrs

def _shape(m):
    return list(m.shape)


def _matmul_attrs(name, args, ins, outs):
    """m, n, k, batch, bias from the aten call."""
    bias = name in ("addmm", "baddbmm", "addmv", "addbmm") or (name == "linear" and len(ins) > 2)
    if name == "linear":
        a, w = ins[0], ins[1]
        k = a.shape[-1]; n = w.shape[0]; m = math.prod(a.shape[:-1]); batch = 1
        return {"m": m, "n": n, "k": k, "batch": batch, "bias": bias, "transpose_b": True}
    if bias:
        a, b = ins[1], ins[2]
    else:
        a, b = ins[0], ins[1]
    if a.dim() == 1 and b.dim() == 1:
        return {"m": 1, "n": 1, "k": a.shape[0], "batch": 1, "bias": bias}
    if b.dim() == 1:  # mv
        return {"m": a.shape[0], "n": 1, "k": a.shape[1], "batch": 1, "bias": bias}
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = math.prod(outs[0].shape[:-2]) if outs[0].dim() > 2 else 1
    if name == "addbmm":
        batch = a.shape[0]
    return {"m": m, "n": n, "k": k, "batch": batch, "bias": bias}


def _conv_attrs(name, args, ins, outs):
    x, w = ins[0], ins[1]
    bias = len(ins) > 2
    def arg(i, d):
        return list(args[i]) if len(args) > i and args[i] is not None else d
    a = {"stride": arg(3, [1, 1]), "padding": arg(4, [0, 0]), "dilation": arg(5, [1, 1]),
         "kernel": list(w.shape[2:]), "bias": bias, "macs_per_out": math.prod(w.shape[1:])}
    a["groups"] = int(args[8]) if name in ("convolution", "_convolution") and len(args) > 8 else 1
    if name == "mkldnn_convolution":
        a["groups"] = int(args[6]) if len(args) > 6 else 1
    if w.dim() != 4:
        a["dims"] = w.dim() - 2
    return a


def _pool_attrs(name, args, ins, outs):
    """kernel, stride, padding (and dilation, ceil_mode, count_include_pad
    where they are not the default) as EXECUTOR.md's pool2d reads them;
    adaptive pooling is marked ``adaptive`` (the output's shape gives the
    windows)."""
    if "adaptive" in name:
        return {"adaptive": True, "output_size": list(args[1])}
    def pair(i, d):
        v = args[i] if len(args) > i and args[i] is not None else d
        v = [int(v)] * 2 if isinstance(v, int) else [int(x) for x in v]
        return v * 2 if len(v) == 1 else v
    k = pair(1, None)
    st = pair(2, []) or k
    a = {"kernel": k, "stride": st, "padding": pair(3, [0, 0])}
    if name.startswith("max_pool"):
        dil = pair(4, [1, 1])
        if dil != [1, 1]:
            a["dilation"] = dil
        ceil = len(args) > 5 and bool(args[5])
    else:  # avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
        ceil = len(args) > 4 and bool(args[4])
        if len(args) > 5 and not args[5]:
            a["count_include_pad"] = False
        if len(args) > 6 and args[6] is not None:
            a["divisor_override"] = int(args[6])
    if ceil:
        a["ceil_mode"] = True
    return a


def _eps(i):
    def f(name, args, ins, outs):
        return {"eps": float(args[i])} if len(args) > i and isinstance(args[i], (int, float)) else {}
    return f


def _gn_attrs(name, args, ins, outs):
    return {"groups": int(args[6]), "eps": float(args[7])} if len(args) > 7 else {}


def _softmax_attrs(name, args, ins, outs):
    a = {"dim": int(args[1])}
    if name == "_log_softmax":
        a["fn"] = "log_softmax"
    return a


def _attn_attrs(name, args, ins, outs):
    q, k = ins[0], ins[1]
    a = {"heads": q.shape[-3] if q.dim() >= 3 else 1, "kv_heads": k.shape[-3] if k.dim() >= 3 else 1,
         "head_dim": q.shape[-1]}
    causal = False
    if name == "_scaled_dot_product_flash_attention_for_cpu" and len(args) > 4:
        causal = bool(args[4])
    if name == "scaled_dot_product_attention":
        causal = bool(args[5]) if len(args) > 5 else False
    a["causal"] = causal
    a["masked"] = len(ins) > 3
    a["_bhqk"] = q.numel() // max(1, q.shape[-1]) * (k.shape[-2] if k.dim() >= 2 else 1)
    return a


def _emb_attrs(name, args, ins, outs):
    return {"num": ins[0].shape[0], "dim": ins[0].shape[1]}


def _bag_attrs(name, args, ins, outs):
    mode = args[4] if len(args) > 4 and isinstance(args[4], int) else 0
    return {"num": ins[0].shape[0], "dim": ins[0].shape[1], "mode": ["sum", "mean", "max"][mode],
            "pooling": ins[1].numel() // max(1, outs[0].shape[0]),
            "_rows": ins[1].numel() * ins[0].shape[1],
            "_row_bytes": ins[1].numel() * ins[0].shape[1] * ins[0].element_size()}


def _cat_attrs(name, args, ins, outs):
    return {"dim": int(args[1]) if len(args) > 1 else 0}


# Reductions whose second operand is not the dim: where their dim stands, and
# what the second operand is (topk(x, k, dim), multinomial(p, n),
# norm(x, p, dim), linalg_vector_norm(x, ord, dim), kthvalue(x, k, dim))
_RED_DIM_AT = {"topk": (2, "k", -1), "kthvalue": (2, "k", -1), "multinomial": (None, "num_samples", None),
               "norm": (2, "p", None), "linalg_vector_norm": (2, "ord", None)}


def _red_attrs(name, args, ins, outs):
    base = name[:-1] if name.endswith("_") else name
    if base in _RED_DIM_AT:
        pos, what, default = _RED_DIM_AT[base]
        a = {}
        if len(args) > 1 and isinstance(args[1], (int, float)) and not isinstance(args[1], bool):
            a[what] = _json_num(args[1])
        d = args[pos] if pos is not None and len(args) > pos else default
        if isinstance(d, (list, tuple)):
            a["dims"] = [int(x) for x in d]
        elif isinstance(d, int) and not isinstance(d, bool):
            a["dim"] = int(d)
        elif pos is not None and d is None and ins and ins[0].dim() > 0:   # norm(x): every dim
            a["dims"] = list(range(ins[0].dim()))
        return a
    if len(args) > 1 and isinstance(args[1], (list, tuple)):
        return {"dims": [int(d) for d in args[1]]}
    if len(args) > 1 and isinstance(args[1], int) and not isinstance(args[1], bool):
        return {"dim": int(args[1])}
    if ins and ins[0].dim() > 0 and outs and outs[0].dim() == 0:   # x.any(), x.sum(): every dim
        return {"dims": list(range(ins[0].dim()))}
    return {}


def _isin_attrs(name, args, ins, outs):
    return {"invert": True} if len(args) > 3 and args[3] else {}


def _index_attrs(name, args, ins, outs):
    """x[..., idx] with one 1-D integer index tensor (the rest full slices) is index_select
    along its dim (EXECUTOR.md "index"); other advanced indexing keeps fn "index"."""
    idx = args[1] if len(args) > 1 else None
    if isinstance(idx, (list, tuple)):
        hit = [(d, t) for d, t in enumerate(idx) if t is not None]
        if len(hit) == 1 and hit[0][1].dim() == 1 and not hit[0][1].dtype.is_floating_point \
                and hit[0][1].dtype != torch.bool:
            return {"fn": "index_select", "dim": hit[0][0]}
    return {}


def _ndim(m):
    return m.dim() if m is not None else 0


def _dim(d, n):
    """A dim normalised to 0..n-1 (n = rank; a 0-D tensor takes dim 0 or -1)."""
    d = int(d)
    return d + max(n, 1) if d < 0 else d


def _arg(args, i, d=None):
    return args[i] if len(args) > i and args[i] is not None else d


def _view_attrs(name, args, ins, outs):
    """The arguments a view needs to say which elements it takes
    (EXECUTOR.md "view"): dims normalised to 0..rank-1, slice bounds
    clamped to the dim's size as torch clamps them."""
    x = ins[0] if ins else None
    n = _ndim(x)
    if name == "select":
        d = _dim(args[1], n)
        i = int(args[2])
        return {"dim": d, "index": i + x.shape[d] if i < 0 else i}
    if name in ("slice", "narrow"):
        d = _dim(_arg(args, 1, 0), n)
        size = x.shape[d]
        if name == "narrow":
            start = int(args[2])
            start = start + size if start < 0 else start
            return {"dim": d, "start": start, "end": start + int(args[3]), "step": 1}
        def bound(v, dflt):
            if v is None:
                return dflt
            v = int(v)
            v = v + size if v < 0 else v
            return min(max(v, 0), size)
        start, end = bound(_arg(args, 2), 0), bound(_arg(args, 3), size)
        return {"dim": d, "start": start, "end": max(end, start), "step": int(_arg(args, 4, 1))}
    if name in ("transpose", "swapaxes"):
        return {"dims": [_dim(args[1], n), _dim(args[2], n)]}
    if name == "permute":
        return {"dims": [_dim(d, n) for d in args[1]]}
    if name == "unbind":
        return {"dim": _dim(_arg(args, 1, 0), n)}
    if name in ("split", "split_with_sizes"):
        d = _dim(_arg(args, 2, 0), n)
        return {"dim": d, "sizes": [int(o.shape[d]) for o in outs]}
    return {}


def _scalar(v):
    """A Python number, or a CPU 0-D tensor (torch.where's scalar_tensor), as a
    JSON number; None for anything else (a device tensor)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v
    if hasattr(v, "device") and getattr(v, "device").type == "cpu" and v.dim() == 0:
        return v.item()
    return None


def _json_num(v):
    """inf / nan are not JSON: written as the strings "inf", "-inf", "nan"."""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    return v


def _scalar_attrs(name, args, ins, outs):
    """A Python scalar operand (``x * 0.5``, ``ids + 1``, ``1 - x``,
    ``eq(x, 0)``, ``where(m, x, -inf)``): the node has one input fewer and
    says the value (``scalar``) and where it stands among the operands
    (``scalar_pos``, 0-based; default the last)."""
    if name == "rsub":       # rsub(x, other) = other - x
        if len(args) > 1 and _scalar(args[1]) is not None:
            return {"fn": "sub", "scalar": _json_num(_scalar(args[1])), "scalar_pos": 0}
        return {"fn": "sub"}  # the inputs are swapped at dump time (INPUT_ORDER)
    if name in ("where", "masked_fill", "clamp", "clamp_min", "clamp_max", "fill_", "fill", "hardtanh",
                "leaky_relu", "threshold", "pow", "constant_pad_nd", "lerp", "addcmul", "addcdiv"):
        a = {}
        for i, v in enumerate(args):     # pow(2., x): the scalar can come first
            sv = _scalar(v)
            if sv is not None:
                a.setdefault("scalars", []).append([i, _json_num(sv)])
            elif isinstance(v, (list, tuple)) and v and all(isinstance(e, int) for e in v):
                a["pad" if name == "constant_pad_nd" else f"arg{i}"] = [int(e) for e in v]
        if name in ("fill_", "fill") and a.get("scalars"):
            a["value"] = a.pop("scalars")[0][1]
        elif name == "masked_fill" and a.get("scalars"):
            a["value"] = a.pop("scalars")[0][1]
        elif name == "constant_pad_nd" and a.get("scalars"):
            a["value"] = a.pop("scalars")[0][1]
        elif name == "where" and a.get("scalars"):
            (pos, v), = a.pop("scalars")[:1]
            a.update({"scalar": v, "scalar_pos": pos})
        elif a.get("scalars") and len(a["scalars"]) == 1:
            (pos, v), = a.pop("scalars")
            a.update({"scalar": v, "scalar_pos": pos})
        return a
    if len(args) > 1:
        sv = _scalar(args[1])
        if sv is not None:
            return {"scalar": _json_num(sv), "scalar_pos": 1}
    if args:                 # a scalar first: 2 ** x (pow.Scalar), remainder(5, x)
        sv = _scalar(args[0])
        if sv is not None:
            return {"scalar": _json_num(sv), "scalar_pos": 0}
    return {}


def _bag_full_attrs(name, args, ins, outs):
    a = _bag_attrs(name, args, ins, outs)
    if len(args) > 7 and args[7]:
        a["include_last_offset"] = True
    if len(args) > 8 and args[8] is not None and int(args[8]) >= 0:
        a["padding_idx"] = int(args[8])
    return a


# Operand order of the vocabulary where aten's differs, by aten name and
# number of recorded inputs: the node's inputs are permuted at dump time
# (dump.build_step) so that input k of the node is aten input ORDER[k].
INPUT_ORDER = {
    "addmm": {3: (1, 2, 0)},     # aten (bias, A, W) -> matmul (A, W, bias)
    "rsub": {2: (1, 0)},         # rsub(x, y) = y - x -> sub(y, x)
}

_SCALAR_OPS = ("add sub rsub mul div maximum minimum pow eq ne lt le gt ge remainder fmod floor_divide "
               "bitwise_and bitwise_or bitwise_xor logical_and logical_or logical_xor where masked_fill "
               "clamp clamp_min clamp_max hardtanh leaky_relu threshold lerp addcmul addcdiv fill fill_ "
               "constant_pad_nd").split()


ATTRS = {
    **{n: _matmul_attrs for n, v in ATEN.items() if v[0] == "matmul"},
    **{n: _conv_attrs for n, v in ATEN.items() if v[0] == "conv2d"},
    **{n: _pool_attrs for n, v in ATEN.items() if v[0] == "pool2d"},
    "native_layer_norm": _eps(4), "native_batch_norm": _eps(7),
    "_native_batch_norm_legit_no_training": _eps(6), "_native_batch_norm_legit": _eps(7),
    "_fused_rms_norm": _eps(3), "native_group_norm": _gn_attrs,
    "_softmax": _softmax_attrs, "_safe_softmax": _softmax_attrs, "_log_softmax": _softmax_attrs,
    "scaled_dot_product_attention": _attn_attrs, "_scaled_dot_product_flash_attention_for_cpu": _attn_attrs,
    "embedding": _emb_attrs, "_embedding_bag": _bag_full_attrs,
    "_embedding_bag_forward_only": _bag_full_attrs, "embedding_bag": _bag_attrs,
    "cat": _cat_attrs, "stack": _cat_attrs,
    **{n: _red_attrs for n, v in ATEN.items() if v[0] == "reduction"},
    **{n: _view_attrs for n in ("select", "slice", "narrow", "transpose", "swapaxes", "permute", "unbind",
                                "split", "split_with_sizes")},
    **{n: _scalar_attrs for n in _SCALAR_OPS},
    "isin": _isin_attrs, "index": _index_attrs,
    # aten gelu is exact (erf) unless approximate="tanh" (KWARGS); the vocabulary's "gelu" is
    # GPT-2's tanh form (EXECUTOR.md)
    "gelu": lambda name, args, ins, outs: {"fn": "gelu_erf"},
}

def _kw_alpha_beta(kw):
    a = {}
    for key in ("alpha", "beta"):
        v = kw.get(key, 1)
        if not isinstance(v, (int, float)) or v != 1:
            a[key] = _json_num(float(v)) if isinstance(v, (int, float)) else str(v)
    return a


# Attributes from kwarg-only arguments (record() passes them separately):
# what changes the result must be in the trace, so an executor that
# ignores it refuses the node instead of computing something else.
KWARGS = {
    **{n: _kw_alpha_beta for n in ("add", "sub", "rsub", "addmm", "baddbmm", "addmv", "addbmm")},
    "isin": lambda kw: {"invert": True} if kw.get("invert") else {},
    "gelu": lambda kw: {"fn": "gelu"} if kw.get("approximate") == "tanh" else {},
    "div": lambda kw: {"rounding_mode": kw["rounding_mode"]} if kw.get("rounding_mode") else {},
}


def kwargs_attrs(name, kwargs):
    """The attrs kwarg-only arguments of aten op NAME (in-place variants too) add; {} if none."""
    f = KWARGS.get(name)
    if f is None and name.endswith("_") and not name.startswith("_"):
        f = KWARGS.get(name[:-1])
    return f(kwargs) if f is not None else {}


# The attrs that come from Python scalar arguments alone (no shapes): the
# step cache's tail replay checks them against each call (core.tail_dispatch).
SCALAR_ATTRS = {n: _scalar_attrs for n in _SCALAR_OPS}


# ------------------------------------------------------------------ costs

def cost(op, attrs, ins, outs):
    """(flops, bytes) of one node by the SCHEMA.md conventions.

    ins / outs are lists of (numel, bytes) pairs for the node's input and
    output tensors; attrs the node's attributes.
    """
    io = float(sum(b for _, b in ins) + sum(b for _, b in outs))
    nout = float(sum(n for n, _ in outs[:1]))
    if op == "matmul":
        f = 2.0 * attrs.get("batch", 1) * attrs["m"] * attrs["n"] * attrs["k"]
        if attrs.get("bias"):
            f += attrs.get("batch", 1) * attrs["m"] * attrs["n"]
        return f, io
    if op == "conv2d":
        # attrs carry cin/groups*kh*kw via "macs_per_out"
        f = 2.0 * nout * attrs["macs_per_out"]
        if attrs.get("bias"):
            f += nout
        return f, io
    if op == "attention":
        return 4.0 * attrs["_bhqk"] * attrs["head_dim"] + 5.0 * attrs["_bhqk"], io
    if op == "softmax":
        return 5.0 * nout, io
    if op in ("layer_norm", "rms_norm", "group_norm", "batch_norm"):
        return {"layer_norm": 8, "rms_norm": 4, "group_norm": 8, "batch_norm": 2}[op] * nout, io
    if op == "elementwise":
        return float(ELEMENTWISE_FLOPS.get(attrs.get("fn"), 1)) * nout, io
    if op in ("reduction", "pool2d"):
        return float(ins[0][0]) if ins else 0.0, io
    if op == "embedding":
        return 0.0, float(sum(b for _, b in ins[1:]) + 2 * sum(b for _, b in outs[:1]))
    if op == "embedding_bag":
        rows = float(attrs.get("_rows", 0))
        return rows, float(sum(b for _, b in ins[1:]) + attrs.get("_row_bytes", 0) + sum(b for _, b in outs[:1]))
    if op == "interaction":
        return 2.0 * attrs["batch"] * attrs["features"] ** 2 * attrs["dim"], io
    if op == "view":
        return 0.0, 0.0
    if op == "fill":
        return 0.0, float(sum(b for _, b in outs))
    if op in ("copy", "concat", "index"):
        return 0.0, io
    # opaque: estimate one op per output element
    return float(sum(n for n, _ in outs)), io
