#include "emu.hpp"
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>
#include <condition_variable>
thread_local dim3 threadIdx, blockIdx;
thread_local int emu_tid;
dim3 blockDim, gridDim;
enum { POOL = 256 };
static std::barrier<> *bar_sync, *bar_warp[POOL / 32];
static uint64_t warp_slot[POOL / 32][32];
static std::barrier<> start(POOL + 1), done(POOL + 1);
static std::function<void()> body;
static dim3 cur_block;
static bool quit;
static std::vector<std::thread> pool;
void emu_syncthreads() { bar_sync->arrive_and_wait(); }
void emu_warp_exchange(int lane, uint64_t v, uint64_t *all)
{
    int w = emu_tid >> 5;
    warp_slot[w][lane] = v;
    bar_warp[w]->arrive_and_wait();
    std::memcpy(all, warp_slot[w], sizeof(warp_slot[w]));
    bar_warp[w]->arrive_and_wait();
}
static void worker(int tid)
{
    emu_tid = tid;
    for (;;) {
        start.arrive_and_wait();
        if (quit)
            return;
        threadIdx = dim3(tid % blockDim.x, tid / blockDim.x, 0);
        blockIdx = cur_block;
        body();
        done.arrive_and_wait();
    }
}
void emu_launch_fn(dim3 g, dim3 b, std::function<void()> f)
{
    assert(b.x * b.y * b.z == POOL);
    if (pool.empty()) {
        bar_sync = new std::barrier<>(POOL);
        for (int w = 0; w < POOL / 32; w++)
            bar_warp[w] = new std::barrier<>(32);
        for (int t = 0; t < POOL; t++)
            pool.emplace_back(worker, t);
        for (auto &t : pool) t.detach();
    }
    gridDim = g;
    blockDim = b;
    body = f;
    for (unsigned z = 0; z < g.z; z++)
        for (unsigned y = 0; y < g.y; y++)
            for (unsigned x = 0; x < g.x; x++) {
                cur_block = dim3(x, y, z);
                start.arrive_and_wait();
                done.arrive_and_wait();
            }
}
extern "C" {
cudaError_t cudaGetDeviceCount(int *n) { *n = getenv("EMU_NO_DEVICE") ? 0 : 1; return cudaSuccess; }
cudaError_t cudaMalloc(void **p, size_t n) { *p = malloc(n); return *p ? cudaSuccess : cudaErrorMemoryAllocation; }
cudaError_t cudaFree(void *p) { free(p); return cudaSuccess; }
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) { memmove(d, s, n); return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind k, cudaStream_t) { return cudaMemcpy(d, s, n, k); }
cudaError_t cudaMemset(void *d, int v, size_t n) { memset(d, v, n); return cudaSuccess; }
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t) { return cudaMemset(d, v, n); }
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
const char *cudaGetErrorString(cudaError_t e) { return e ? "emulated error" : "no error"; }
}
