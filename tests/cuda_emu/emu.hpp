// CPU emulation of CUDA kernels: a block's threads are real threads (a
// pool of 256), blocks run one after another; __syncthreads and warp
// shuffles are barriers.  __shared__ is a function static (blocks are
// sequential).
#include <barrier>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include "cuda_runtime_api.h"
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
extern thread_local dim3 threadIdx;
extern thread_local dim3 blockIdx;
extern dim3 blockDim, gridDim;
extern thread_local int emu_tid;
void emu_syncthreads();
void emu_warp_exchange(int lane, uint64_t v, uint64_t *out_all);
void emu_launch_fn(dim3 g, dim3 b, std::function<void()> f);
#define __syncthreads() emu_syncthreads()
#define __global__
#define __device__
#define __shared__ static
template <class T> static T __shfl_down_sync(unsigned, T v, int o)
{
    uint64_t in = 0, all[32];
    std::memcpy(&in, &v, sizeof(T));
    emu_warp_exchange(emu_tid & 31, in, all);
    int lane = emu_tid & 31;
    T r = v;
    if (lane + o < 32)
        std::memcpy(&r, &all[lane + o], sizeof(T));
    return r;
}
#define EMU_LAUNCH(g, b, ...) emu_launch_fn(dim3(g), dim3(b), [=] { __VA_ARGS__; })
