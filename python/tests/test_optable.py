"""The aten -> Genie table and the SCHEMA.md cost conventions; the validator itself."""
import copy

import genie
from genie import optable


def test_table_maps_into_the_vocabulary():
    assert set(v[0] for v in optable.ATEN.values()) <= set(optable.VOCAB)
    assert optable.lookup("add_") == optable.lookup("add")
    assert optable.lookup("no_such_op") == ("opaque", None)


def test_costs_follow_schema():
    f32 = lambda n: (n, 4 * n)  # noqa: E731
    fl, by = optable.cost("matmul", {"m": 3, "n": 5, "k": 7, "batch": 2, "bias": True},
                          [f32(2 * 3 * 7), f32(2 * 7 * 5), f32(5)], [f32(2 * 3 * 5)])
    assert fl == 2 * 2 * 3 * 5 * 7 + 2 * 3 * 5 and by == 4 * (42 + 70 + 5 + 30)
    assert optable.cost("elementwise", {"fn": "gelu"}, [f32(10)], [f32(10)]) == (80, 80)
    assert optable.cost("elementwise", {"fn": "silu"}, [f32(10)], [f32(10)])[0] == 40
    assert optable.cost("softmax", {}, [f32(10)], [f32(10)])[0] == 50
    assert optable.cost("layer_norm", {}, [f32(10)], [f32(10)])[0] == 80
    assert optable.cost("view", {}, [f32(10)], [f32(10)]) == (0, 0)
    assert optable.cost("fill", {}, [], [f32(10)]) == (0, 40)
    # embedding: 0 flops, indices + 2 x output
    assert optable.cost("embedding", {}, [f32(100), (4, 32)], [f32(8)]) == (0, 32 + 64)
    # attention: 4 BHTqTk dh + 5 BHTqTk
    assert optable.cost("attention", {"_bhqk": 2 * 3 * 5, "head_dim": 8}, [f32(1)], [f32(1)])[0] == 4 * 30 * 8 + 5 * 30


GOOD = {"schema": "genie.srg", "version": "1.0", "name": "tiny", "steps": [{
    "phase": "forward",
    "tensors": [
        {"id": 0, "dtype": "f32", "shape": [1, 4], "bytes": 16, "kind": "input"},
        {"id": 1, "dtype": "f32", "shape": [4, 2], "bytes": 32, "kind": "param", "storage": "fc.weight"},
        {"id": 2, "dtype": "f32", "shape": [1, 2], "bytes": 8, "kind": "output"}],
    "nodes": [{"id": 0, "op": "matmul", "inputs": [0, 1], "outputs": [2], "flops": 16, "bytes": 56}],
    "reads": [{"tensor": 2, "reason": "cpu"}]}]}


def test_validator_accepts_schema_example_and_names_errors():
    assert genie.validate(GOOD) == []
    bad = copy.deepcopy(GOOD)
    bad["steps"][0]["tensors"][1]["bytes"] = 31
    bad["steps"][0]["nodes"][0]["op"] = "matmull"
    bad["steps"][0]["tensors"][0]["kind"] = "activation"
    errs = genie.validate(bad)
    assert any("tensors[1].bytes" in e for e in errs)
    assert any("nodes[0].op" in e and "matmull" in e for e in errs)
    assert any("tensors[0].kind" in e and "leaf" in e for e in errs)
    bad = copy.deepcopy(GOOD)
    bad["steps"][0]["tensors"][1]["kind"] = "state"
    assert any("read before any step produced it" in e for e in genie.validate(bad))


def _last_node(f):
    import genie
    with genie.capture("attrs") as cap:
        f().cpu()
    return cap.trace()["steps"][0]["nodes"][-1]


def test_attributes_of_reductions_whose_second_operand_is_not_a_dim():
    """topk(x, k), multinomial(p, n), norm(x, p, dim): the second operand is a count or
    an order, not the dim (it was recorded as dim: 3 for topk(x, 3))."""
    import torch
    x = torch.randn(4, 6)
    dev = "remote_accelerator"
    a = _last_node(lambda: torch.topk(x.to(dev), 3).values)["attrs"]
    assert a["k"] == 3 and a["dim"] == -1
    a = _last_node(lambda: torch.topk(x.to(dev), 2, 0).values)["attrs"]
    assert a["k"] == 2 and a["dim"] == 0
    a = _last_node(lambda: torch.multinomial(x.to(dev).softmax(-1), 2))["attrs"]
    assert a["num_samples"] == 2 and "dim" not in a
    a = _last_node(lambda: x.to(dev).norm(dim=-1))["attrs"]
    assert a.get("dims") == [-1] and a.get("ord") == 2


def test_a_scalar_first_operand_is_recorded():
    """2 ** x and remainder(5, x): one tensor input and the scalar at position 0."""
    import torch
    x = torch.rand(4) + 1
    dev = "remote_accelerator"
    for f, fn, v in ((lambda: 2 ** x.to(dev), "pow", 2), (lambda: torch.pow(2.0, x.to(dev)), "pow", 2.0),
                     (lambda: torch.remainder(5, x.to(dev)), "remainder", 5)):
        n = _last_node(f)
        assert len(n["inputs"]) == 1
        assert n["attrs"]["fn"] == fn and n["attrs"]["scalar"] == v and n["attrs"]["scalar_pos"] == 0
