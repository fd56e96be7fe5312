"""genie-capture runs a script that never imports genie."""
import json
import os
import subprocess
import sys

import genie

APP = '''
import torch
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
x = torch.randn(3, 4)
ref = net(x)
out = net.to("remote_accelerator")(x.to("remote_accelerator"))
assert torch.equal(ref, out.cpu())
print("ok", out.argmax(-1).tolist())
'''


def test_launcher_on_unmodified_script(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    out = tmp_path / "t.json"
    r = subprocess.run([sys.executable, "-m", "genie", "-o", str(out), str(app)], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")
    tr = json.loads(out.read_text())
    assert genie.validate(tr) == []
    reads = tr["steps"][-1]["reads"]
    assert any(rd["reason"] == "tolist" and rd["source"] == "app.py:9" for rd in reads)
