"""A committed capture computes on the CPU executor what torch computes (traces/check_numerics.py).

genie-real's parity check compares the runtime with the executor's own
local run; this compares the executor's run of the captured DLRM trace
with torch running the model itself on the same params and inputs.
(ResNet-50: `traces/check_numerics.py resnet50`, ~10 s.)  GENIE_BUILD
names the build directory (default build/).
"""
import os
import subprocess
import sys

import pytest

from conftest import REPO

BUILD = os.environ.get("GENIE_BUILD", os.path.join(REPO, "build"))
TRACE = os.path.join(BUILD, "genie-trace")


def _has_run():
    if not os.access(TRACE, os.X_OK):
        return False
    return "genie-trace run" in subprocess.run([TRACE, "--help"], capture_output=True, text=True).stdout


@pytest.mark.skipif(not _has_run(), reason=f"{TRACE} missing or built before `genie-trace run`: rebuild")
def test_captured_dlrm_matches_torch():
    sys.path.insert(0, os.path.join(REPO, "traces"))
    import check_numerics
    assert check_numerics.check("dlrm", BUILD, 5)
