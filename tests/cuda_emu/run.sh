#!/usr/bin/env bash
# Runs tests/test_exec_cuda.c against a CPU emulation of the CUDA runtime,
# for machines without a GPU (real/EXECUTOR.md, "The CUDA executor").
#
# real/exec_cuda.cu is rewritten into C++ (each `k<<<grid, block>>>(args)`
# becomes an EMU_LAUNCH) and built with emu.hpp: one OS thread per CUDA
# thread (blocks of 256, run one block at a time), std::barrier for
# __syncthreads and warp shuffles, __shared__ as function statics.
# include/cuda_runtime_api.h stands in for the runtime calls of
# real/exec_cuda.c (malloc and memcpy).  cuBLAS is not emulated: the host
# side is built without GN_HAVE_CUBLAS, so the fallback gemm kernel runs.
# What this checks: the host logic, every kernel's indexing, the block
# reductions.  What it cannot: cuBLAS, device memory, CUDA's libm, timing.
#
# Usage: tests/cuda_emu/run.sh [BUILD_DIR]   (default build; any build's
# libgenie.a works: the emulated objects come first on the link line, so
# its own executors.c.o and exec_cuda.c.o are never pulled in)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
out="$build/cuda_emu"
mkdir -p "$out"
python3 - "$src/real/exec_cuda.cu" "$out/exec_cuda_emu.cpp" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = s.replace('#include <cuda_runtime.h>', '#include "emu.hpp"')
s, n = re.subn(r'(\w+)<<<(.*?)>>>\((.*?)\);\n',
              lambda m: 'EMU_LAUNCH(%s, %s(%s));\n' % (m.group(2), m.group(1), m.group(3)), s, flags=re.S)
assert n > 0, 'no kernel launches found'
open(sys.argv[2], 'w').write(s)
PY
inc=(-I"$here/include" -I"$src/model" -I"$src/workloads" -I"$src/real" $(pkg-config --cflags jansson))
g++ -std=c++20 -O1 -g -ffp-contract=off -I"$here" -I"$here/include" -I"$src/real" \
    -c "$out/exec_cuda_emu.cpp" -o "$out/kernels.o"
g++ -std=c++20 -O1 -g -I"$here" -I"$here/include" -c "$here/emu_rt.cpp" -o "$out/rt.o"
for f in real/exec_cuda.c real/executors.c tests/test_exec_cuda.c; do
  gcc -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -Werror -DGN_HAVE_CUDA=1 "${inc[@]}" \
      -c "$src/$f" -o "$out/$(basename "$f" .c).o"
done
blas=$(pkg-config --libs openblas 2>/dev/null || pkg-config --libs cblas 2>/dev/null || true)
g++ -o "$out/test_exec_cuda_emu" "$out/test_exec_cuda.o" "$out/exec_cuda.o" "$out/executors.o" \
    "$out/kernels.o" "$out/rt.o" "$build/libgenie.a" \
    $(pkg-config --libs jansson sqlite3 simgrid cmocka) $blas -lm -ldl -lpthread
"$out/test_exec_cuda_emu"
