"""The device itself: registration, laziness, materialisation, aliasing, errors."""
import numpy as np
import pytest
import torch
from torch import nn

import genie
from genie import GenieExecutionError, GenieUnsupportedDtype, GenieUnsupportedOp
from genie.core import LazyTensor

DEV = "remote_accelerator"


def test_device_registered():
    x = torch.randn(2, 3, device=DEV)
    assert isinstance(x, LazyTensor)
    assert x.device.type == DEV
    assert torch.ones(3).to(DEV).device.type == DEV
    assert nn.Linear(2, 2).to(DEV).weight.device.type == DEV


def test_ops_are_deferred_until_read():
    with genie.capture("lazy") as cap:
        x = torch.ones(4).to(DEV)
        y = (x * 3 + 1).sum()
        assert cap.session.pending, "ops should be pending before a read"
        assert y.item() == 16.0
        assert not cap.session.pending
    tr = cap.trace()
    assert genie.validate(tr) == []
    assert [r["reason"] for r in tr["steps"][0]["reads"]] == ["item"]
    assert tr["steps"][0]["reads"][0]["source"].endswith("test_device.py:%d" % (test_ops_are_deferred_until_read.__code__.co_firstlineno + 5))


def test_mlp_bit_identical_and_trace():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 8), nn.Softmax(-1))
    x = torch.randn(5, 16)
    with torch.no_grad():
        ref = m(x)
        with genie.capture("mlp") as cap:
            out = m.to(DEV)(x.to(DEV)).cpu()
    assert torch.equal(ref, out)
    tr = cap.trace()
    assert genie.validate(tr) == []
    ops = [n["op"] for n in tr["steps"][0]["nodes"]]
    assert ops.count("matmul") == 2 and "softmax" in ops
    params = {t["storage"] for t in tr["steps"][0]["tensors"] if t["kind"] == "param"}
    assert params == {"0.weight", "0.bias", "2.weight", "2.bias"}
    mm = next(n for n in tr["steps"][0]["nodes"] if n["op"] == "matmul")
    assert mm["flops"] == 2 * 5 * 32 * 16 + 5 * 32 and mm["module"] == "0"


def test_every_read_kind():
    with genie.capture("reads") as cap:
        x = torch.arange(6, device=DEV).float().view(2, 3)
        assert x.tolist() == [[0, 1, 2], [3, 4, 5]]
        np.testing.assert_array_equal(x.numpy(), np.arange(6).reshape(2, 3))
        assert torch.equal(x.cpu(), torch.arange(6).float().view(2, 3))
        assert bool(x.sum() > 1)
        assert int(x[1, 1]) == 4 and float(x[0, 2]) == 2.0
        assert "device='remote_accelerator:0'" in repr(x)
        if x.max() > 4:     # implicit: Python control flow on a value
            branch = True
        assert branch
        assert [0, 1, 2, 3][x[0, 1].long()] == 1
        assert f"{x.sum():.1f}" == "15.0"
    reasons = [r["reason"] for st in cap.trace()["steps"] for r in st["reads"]]
    for r in ("tolist", "numpy", "cpu", "bool", "int", "float", "print", "index"):
        assert r in reasons, r
    assert all("source" in r for st in cap.trace()["steps"] for r in st["reads"])


def test_inplace_through_views_matches_eager():
    def prog(dev):
        a = torch.zeros(4, 4, device=dev)
        b = a + 1                   # recorded before the mutation
        v = a[:, 1]                 # a view
        v.add_(5)                   # writes through the view into a
        a[2] = 7                    # index_put / copy into a view
        c = a * 2 + b
        d = v * 1                   # v sees the write of a[2]
        return torch.cat([c.flatten(), d])
    ref = prog("cpu")
    with genie.capture("views") as cap:
        out = prog(DEV).cpu()
    assert torch.equal(ref, out)
    tr = cap.trace()
    assert genie.validate(tr) == []
    nodes = tr["steps"][0]["nodes"]
    assert any((n.get("attrs") or {}).get("inplace") for n in nodes)          # mutation recorded
    assert any((n.get("attrs") or {}).get("fn") == "alias" for n in nodes)    # stale view re-linked


def test_random_factories_follow_the_cpu_generator():
    torch.manual_seed(3)
    ref = torch.randn(3, 3) + torch.rand(3, 3)
    torch.manual_seed(3)
    out = (torch.randn(3, 3, device=DEV) + torch.rand(3, 3, device=DEV)).cpu()
    assert torch.equal(ref, out)


def test_unsupported_dtype_names_line_and_hint():
    with pytest.raises(GenieUnsupportedDtype) as e:
        torch.zeros(2, dtype=torch.complex64).to(DEV)
    msg = str(e.value)
    assert "complex64" in msg and "test_device.py" in msg and "hint" in msg


def test_unsupported_op_names_op_module_and_line():
    class M(nn.Module):
        def forward(self, x):
            return x.unsqueeze_(0)
    m = M()
    x = torch.ones(3, device=DEV)
    with pytest.raises(GenieUnsupportedOp) as e:
        m(x)
    msg = str(e.value)
    assert "unsqueeze_" in msg and "test_device.py" in msg and "out-of-place" in msg


def test_deferred_failure_names_op_module_and_line():
    emb = nn.Sequential(nn.Embedding(10, 4)).to(DEV)
    idx = torch.tensor([3, 12]).to(DEV)       # 12 is out of range: fails only at execution
    with torch.no_grad():
        y = emb(idx)
    with pytest.raises(GenieExecutionError) as e:
        y.sum().item()
    msg = str(e.value)
    assert "embedding" in msg and "test_device.py" in msg and "hint" in msg and "module: 0" in msg
    assert "IndexError" in msg or "index out of range" in msg


def test_mixed_devices_refused_like_eager():
    with pytest.raises(GenieUnsupportedOp):
        torch.ones(3, device=DEV) + torch.ones(3)


class _Boom(nn.Module):
    def forward(self, x):
        raise RuntimeError("boom")


def test_module_paths_with_user_hooks_and_exceptions():
    """The nn.Module.__call__ wrapper keeps paths, honours hooks and stays balanced on errors."""
    from genie import core
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2)))
    seen = []
    m[0].register_forward_pre_hook(lambda mod, a: seen.append("pre"))
    m[2][0].register_forward_hook(lambda mod, a, out: seen.append("post"))
    g = nn.modules.module.register_module_forward_hook(lambda mod, a, out: seen.append(type(mod).__name__))
    x = torch.randn(3, 4)
    with torch.no_grad():
        ref = m(x)
        del seen[:]
        md = m.to(DEV)
        try:
            with genie.capture("hooks") as cap:
                out = md(x.to(DEV)).cpu()
        finally:
            g.remove()
    assert torch.equal(ref, out)
    assert seen[0] == "pre" and "post" in seen and seen.count("Linear") == 2 and seen[-1] == "Sequential"
    mods = {n["module"] for n in cap.trace()["steps"][0]["nodes"]}
    assert {"0", "1", "2.0"} <= mods
    # an exception inside a submodule leaves the path stack empty and the next step intact
    bad = nn.Sequential(nn.Linear(4, 4), _Boom()).to(DEV)
    with genie.capture("error") as cap:
        with pytest.raises(RuntimeError, match="boom"):
            bad(torch.randn(2, 4, device=DEV))
        assert cap.session.modstack == [] and not cap.session.step_active
        md(x.to(DEV)).cpu()
    steps = cap.trace()["steps"]
    assert len(steps) == 2 and {n["module"] for n in steps[1]["nodes"]} >= {"0", "2.0"}
    # set_module_hooks(False) gives torch its own __call__ back
    core.set_module_hooks(False)
    try:
        assert nn.Module.__call__ is core._torch_call
    finally:
        core.set_module_hooks(True)
    assert nn.Module.__call__ is core._module_call


def test_capture_leaves_the_garbage_collector_as_it_found_it():
    """A session freezes the objects alive at each forward and pauses collection
    during it; ending the capture unfreezes them (the cyclic garbage among them is
    collectable again) and re-enables collection, even after a forward that raised."""
    import gc

    class Boom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            y = self.lin(x)
            if self.fail:
                raise RuntimeError("boom")
            return y

    m = Boom().to(DEV)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    for fail in (False, True):
        m.fail = fail
        try:
            with genie.capture("gc"):
                with torch.no_grad():
                    m(torch.zeros(2, 4, device=DEV)).cpu()
        except RuntimeError:
            assert fail
        assert gc.isenabled(), f"collection left paused (fail={fail})"
        assert gc.get_freeze_count() == 0, f"objects left frozen (fail={fail})"
    gc.freeze()                      # the application's own frozen objects stay frozen
    try:
        base = gc.get_freeze_count()
        m.fail = False
        with genie.capture("gc"):
            with torch.no_grad():
                m(torch.zeros(2, 4, device=DEV)).cpu()
        assert gc.get_freeze_count() >= base
    finally:
        gc.unfreeze()


def test_building_the_trace_leaves_the_garbage_collector_as_the_session_does():
    """A trace built inside a session joins the objects the session froze, and is
    unfrozen with them when the session ends; one built after the session ended
    is left to the collector (nothing frozen, collection enabled)."""
    import gc
    m = torch.nn.Linear(4, 4).to(DEV)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with genie.capture("gc-trace") as cap:
        with torch.no_grad():
            m(torch.zeros(2, 4, device=DEV)).cpu()
        frozen = gc.get_freeze_count()
        inside = cap.trace()
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen       # the trace's dicts joined the frozen objects
    assert gc.isenabled() and gc.get_freeze_count() == 0
    after = cap.trace()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert after == inside


def test_index_write_into_a_cpu_tensor_is_refused():
    """c[idx] = device values, c on the CPU: eager refuses the mix; the write must not
    land in an uploaded copy of c and vanish (CPU *indices* stay allowed)."""
    c = torch.zeros(4)
    with pytest.raises(GenieUnsupportedOp):
        c[torch.tensor([0, 2])] = torch.tensor([5., 6.], device=DEV)
    with pytest.raises(GenieUnsupportedOp):
        c.index_add_(0, torch.tensor([0, 1]), torch.tensor([5., 6.], device=DEV))
    assert torch.equal(c, torch.zeros(4))
    x = torch.zeros(4, device=DEV)
    x[torch.tensor([0, 2])] = torch.tensor([5., 6.], device=DEV)
    assert x.tolist() == [5., 0., 6., 0.]


def test_cpu_scalar_tensor_operand_is_taken_when_the_op_is_called():
    x = torch.arange(4., device=DEV)
    s = torch.tensor(2.0)
    y = x * s
    s.fill_(5.0)
    assert y.tolist() == [0., 2., 4., 6.]


def test_parameter_copies_the_application_makes_are_distinct():
    """Module.to keeps tied parameters tied (one copy); w.to(dev) twice by hand gives two
    tensors, each of the dtype asked for."""
    w = nn.Parameter(torch.ones(3))
    with torch.no_grad():
        a = w.to(DEV, copy=True)
        b = w.to(DEV, copy=True)
        a.add_(1)
    assert b.tolist() == [1., 1., 1.] and a.tolist() == [2., 2., 2.]
    w = nn.Parameter(torch.tensor([1.5, 2.5]))
    a, b = w.to(DEV), w.to(DEV, torch.float64)
    assert b.dtype == torch.float64 and b.cpu().dtype == torch.float64 and (b * 2).cpu().dtype == torch.float64


def test_a_failed_deferred_op_loses_only_what_depends_on_it():
    emb = nn.Embedding(10, 4).to(DEV)
    x = torch.ones(3, device=DEV)
    with torch.no_grad():
        y = emb(torch.tensor([1, 20]).to(DEV))    # fails when it runs
        z = x * 2                                  # independent of it
        w = y * 3                                  # depends on it
    with pytest.raises(GenieExecutionError):
        y.sum().item()
    assert z.tolist() == [2., 2., 2.]
    for t in (w, y):
        with pytest.raises(GenieExecutionError) as e:
            t.tolist()
        assert "depends on an op that failed" in str(e.value) and "embedding" in str(e.value)
        assert "test_device.py" in str(e.value)


@pytest.mark.parametrize("split", ["unbind", "chunk", "split"])
def test_writes_through_the_views_of_a_list_view_op_reach_the_base(split):
    """for row in x.unbind(0): row.add_(1): each row is a view of x, so the trace's
    later reads of x depend on the writes (they read the zero_ output before)."""
    with genie.capture("rows") as cap:
        x = torch.zeros(3, 2, device=DEV)
        rows = {"unbind": lambda: x.unbind(0), "chunk": lambda: x.chunk(3, 0), "split": lambda: x.split(1, 0)}[split]()
        for row in rows:
            row.add_(1)
        assert (x * 1).sum().item() == 6.0
    st = cap.trace()["steps"][0]
    made_by = {o: n for n in st["nodes"] for o in n["outputs"]}
    live, todo = set(), [n for n in st["nodes"] if n["attrs"].get("aten") == "sum"]
    while todo:
        n = todo.pop()
        if n["id"] not in live:
            live.add(n["id"])
            todo.extend(made_by[i] for i in n["inputs"] if i in made_by)
    adds = [n["id"] for n in st["nodes"] if n["attrs"].get("aten") == "add_"]
    assert len(adds) == 3 and all(a in live for a in adds)
