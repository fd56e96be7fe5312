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
