// File: src/pipeline/assignment_cuda_kernel.cuh
// Purpose: the device code of the batched assignment and the launch-shape choice shared by the
// launcher (assignment_cuda.cu) and tests/assignment/assignment_kernel_emulation_test.cpp, which
// runs this very kernel on the CPU with one std::thread per CUDA thread, so its logic is tested
// on machines without a GPU. Only plain CUDA C++ is used here: __syncthreads, __syncthreads_or,
// __syncwarp, __shfl_down_sync, __ballot_sync, __match_any_sync, __ffs, __reduce_min_sync (sm_80+,
// shuffle fallback below), shared atomicMin (32 and 64 bits), __ldg, __fdividef,
// __double_as_longlong / __longlong_as_double, __float_as_uint / __uint_as_float and the dynamic
// shared block from lsap_dynamic_smem().
// Mirrors solve_wide() in assignment_cpu.cpp [TAG_LSAP_ALGORITHM]: the same duals, the same
// shortest augmenting paths; only the feasible start's tie rule differs (lowest index here), which
// changes which optimum is found where several tie, never the optimal total.
//
// Speed (why the kernel looks the way it does): a Dijkstra search is a chain of steps whose
// LATENCY is the cost (a batch of 256 problems is 256 independent chains, far fewer than the GPU
// could run). So a step must be short:
//  - the cost matrix is cached in shared memory when it fits (kCache): a step reads one cost row
//    from shared memory (about 30 cycles) instead of global memory (hundreds), and a transposed
//    (tall) problem is stored transposed once, so every step reads consecutive words;
//  - the arg-min of a step is three __reduce_min_sync (one instruction each) on an order-
//    preserving integer key instead of a five-level shuffle tree carrying three values (the
//    wide start's per-row arg-min likewise: two, on a float's key);
//  - a narrow problem is solved by ONE warp (kWarpTeam): no __syncthreads at all, only __syncwarp
//    between augmentations; a wide one by the whole block (one barrier per step, every warp
//    reduces the per-warp minima itself, so no serial pass over the warps);
//  - after a search, each row and column is updated by the thread that owns it, from its own
//    data (a visited row keeps the length at which it was reached), while thread 0 flips the
//    path: ONE barrier per augmentation (it was three);
//  - the next free row is found 32 rows a ballot, not by a serial scan;
//  - the feasible start is claimed in parallel (shared atomicMin) instead of by one thread;
//  - the matrix is read from global memory in batches of loads issued together (one memory
//    latency per batch), by up to 8 warps even where one warp will solve; the problem's four
//    values are read together (ONE latency before the cost loads), and the initial state is
//    written while the first batch is in flight;
//  - the cached load also takes the feasible start's minima (square: down the columns; tall:
//    the wide rows') as it goes, merged by a shared atomicMin, instead of a pass over the cache
//    after it; with <= 32 such minima one warp-wide __match_any_sync decides the start, and a
//    start that places everything (no search) is written out at once: a small problem such as
//    300 x 10 costs two memory latencies and two barriers.
#pragma once

#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace um_lsap {

constexpr int kMaxThreads = 512;
constexpr int kMaxWarps = kMaxThreads / 32;
// A warp-team block has up to 8 warps: all of them load the matrix (about 16 entries a thread)
// and compute the feasible start, then warp 0 alone solves (the others exit).
constexpr int kWarpTeamBlockThreads = 256;
constexpr int kLoadEntriesPerThread = 16;
// Entries loaded per thread and batch in the load loops: the loads of a batch are all issued
// before the first is used, so a thread waits for global memory once per batch, not per entry.
// The cached load (a thread walks one column) takes up to kCacheLoadBatch rows of it a batch,
// in groups of kCacheLoadGroup (a group past the thread's last row is skipped whole, so a short
// column costs few instructions): a 300 x 10 problem (320 threads) or a 64 x 64 one (a
// warp-team block of 256) is read in ONE round trip, a 300 x 50 one in 2. The uncached check
// (big batches: registers count there) reads kLoadBatch entries a batch.
constexpr int kLoadBatch = 16;
constexpr int kCacheLoadBatch = 32;
constexpr int kCacheLoadGroup = 16;
// Automatic team choice: one warp solves problems with at most this many (wide) columns, i.e. up
// to 4 columns per lane; wider problems get one thread per column in a block of up to 512.
constexpr int kWarpTeamMaxCols = 128;
constexpr unsigned kFullMask = 0xffffffffu;
// The arg-min packs a column index into 15 bits and a row index into 16 (see the search), far
// above what shared memory allows anyway (about 8000 columns).
constexpr int kMaxColumns = 32767;

// Launch options (plain ints: they cross the extern "C" boundary).
enum TeamMode : int { kTeamAuto = 0, kTeamWarp = 1, kTeamBlock = 2 };
enum CacheMode : int { kCacheAuto = 0, kCacheOn = 1, kCacheOff = 2 };

#ifndef UM_LSAP_EMULATION
#define UM_LSAP_UNROLL(n) _Pragma(#n)
#else
#define UM_LSAP_UNROLL(n)  // the CPU emulation's compiler does not know the pragma
#endif

#ifndef UM_LSAP_EMULATION
// The block's dynamic shared memory (sized at launch by smem_layout().bytes).
__device__ inline unsigned char* lsap_dynamic_smem() {
  extern __shared__ __align__(16) unsigned char lsap_smem[];
  return lsap_smem;
}
#endif

// Row stride of the cached (wide) cost matrix: odd, so that storing a transposed matrix column
// by column spreads over all 32 banks.
__host__ __device__ inline int cost_ld(int nc) { return nc | 1; }

// Shared memory layout for bounds (max_nc columns, max_nr rows); 8-byte items first for
// alignment, the cost cache (floats) last.
struct SmemLayout {
  size_t v, spc, u, rowd, red_key, red_sum, colmin, path, row4col, col4row, claim, red_tie, sc, sr,
      cost, bytes;
};

__host__ __device__ inline SmemLayout smem_layout(int max_nc, int max_nr, bool cache) {
  SmemLayout l{};
  size_t o = 0;
  const size_t nc = static_cast<size_t>(max_nc), nr = static_cast<size_t>(max_nr);
  l.v = o;       o += sizeof(double) * nc;
  l.spc = o;     o += sizeof(double) * nc;
  l.u = o;       o += sizeof(double) * nr;
  l.rowd = o;    o += sizeof(double) * nr;
  l.red_key = o; o += sizeof(unsigned long long) * 2 * kMaxWarps;
  l.red_sum = o; o += sizeof(double) * kMaxWarps;
  l.colmin = o;  // the cached load's per-column minima (cached layouts only; see the kernel)
  if (cache) o += sizeof(unsigned long long) * nc;
  l.path = o;    o += sizeof(int) * nc;
  l.row4col = o; o += sizeof(int) * nc;
  l.col4row = o; o += sizeof(int) * nr;
  l.claim = o;   o += sizeof(int) * nc;
  l.red_tie = o; o += sizeof(unsigned) * 2 * kMaxWarps;
  l.sc = o;      o += nc;
  l.sr = o;      o += nr;
  o = (o + 15) / 16 * 16;
  l.cost = o;
  if (cache) o += sizeof(float) * static_cast<size_t>(cost_ld(max_nc)) * nr;
  l.bytes = (o + 15) / 16 * 16;
  return l;
}

// What the launcher needs to know about the device (queried once per device and cached).
struct DeviceLimits {
  int smem_optin = 0;   // cudaDevAttrMaxSharedMemoryPerBlockOptin
  int smem_per_sm = 0;  // cudaDevAttrMaxSharedMemoryPerMultiprocessor
  int sm_count = 0;     // cudaDevAttrMultiProcessorCount
};

struct LaunchConfig {
  int threads = 0;  // 0: the problems do not fit in one block's shared memory
  bool warp_team = false;
  bool cache = false;
  size_t smem_bytes = 0;
};

// The launch shape for a batch whose problems are at most max_rows x max_cols.
//  team: warp for narrow problems (<= kWarpTeamMaxCols wide columns), block otherwise, unless
//        forced;
//  cache: on when the cached layout fits one block AND the batch still fits one wave of
//        resident blocks with it (so caching never costs a second wave); forced "on" still
//        falls back to uncached where the matrix cannot fit.
inline LaunchConfig choose_launch(int batch, int max_rows, int max_cols, int team_mode,
                                  int cache_mode, const DeviceLimits& d) {
  LaunchConfig c;
  const int max_nc = max_rows > max_cols ? max_rows : max_cols;
  const int max_nr = max_rows > max_cols ? max_cols : max_rows;
  if (max_nc > kMaxColumns) return c;  // threads == 0: does not fit
  c.warp_team = team_mode == kTeamWarp || (team_mode == kTeamAuto && max_nc <= kWarpTeamMaxCols);
  if (c.warp_team) {
    const long long entries = static_cast<long long>(max_rows) * max_cols;
    const long long want = (entries + kLoadEntriesPerThread - 1) / kLoadEntriesPerThread;
    const long long t = (want + 31) / 32 * 32;
    c.threads = static_cast<int>(t < 32 ? 32 : t);
    if (c.threads > kWarpTeamBlockThreads) c.threads = kWarpTeamBlockThreads;
  } else {
    const int t = ((max_nc > 1 ? max_nc : 1) + 31) / 32 * 32;
    c.threads = t < kMaxThreads ? t : kMaxThreads;
  }
  const size_t plain = smem_layout(max_nc, max_nr, false).bytes;
  const size_t cached = smem_layout(max_nc, max_nr, true).bytes;
  const bool cache_fits = cached <= static_cast<size_t>(d.smem_optin);
  bool cache = false;
  if (cache_mode == kCacheOn) {
    cache = cache_fits;
  } else if (cache_mode == kCacheAuto && cache_fits) {
    const long long per_sm = cached > 0 ? d.smem_per_sm / static_cast<long long>(cached) : 1;
    cache = batch <= static_cast<long long>(d.sm_count) * (per_sm > 1 ? per_sm : 1);
  }
  c.cache = cache;
  c.smem_bytes = cache ? cached : plain;
  if (c.smem_bytes > static_cast<size_t>(d.smem_optin)) c.threads = 0;
  return c;
}

// ---- device helpers ----------------------------------------------------------------------------

// An unsigned key with the order of the doubles (no NaN can reach here). -0.0 is first made
// +0.0 (they compare equal as doubles and must get one key).
__device__ inline unsigned long long order_key(double x) {
  x = x == 0.0 ? 0.0 : x;
  const unsigned long long b = static_cast<unsigned long long>(__double_as_longlong(x));
  return (b >> 63) ? ~b : (b | 0x8000000000000000ull);
}
constexpr unsigned long long kInfKey = 0xfff0000000000000ull;  // order_key(+inf)
__device__ inline double key_to_double(unsigned long long k) {
  if (k >= kInfKey) return INFINITY;
  const unsigned long long b = (k >> 63) ? (k & 0x7fffffffffffffffull) : ~k;
  return __longlong_as_double(static_cast<long long>(b));
}

// floor(a / b) for 0 <= a <= 4096 and b >= 1 without an integer division (which the compiler
// expands to ~15 dependent instructions on the cached load's critical path): the float estimate
// a * (1 / b) has a relative error below 2^-21 (__fdividef: 2 ulp), so it is off by less than
// 4096 * 2^-21 < 1, i.e. its truncation by at most one, and one exact step corrects that.
__device__ inline int small_div(int a, int b) {
  int q = static_cast<int>(__fdividef(static_cast<float>(a), static_cast<float>(b)));
  const int r = a - q * b;
  q += r < 0 ? -1 : (r >= b ? 1 : 0);
  return q;
}

// An unsigned key with the order of the floats (no NaN can reach here; -0.0f first made +0.0f).
__device__ inline unsigned order_key_f(float x) {
  x = x == 0.0f ? 0.0f : x;
  const unsigned b = __float_as_uint(x);
  return (b >> 31) ? ~b : (b | 0x80000000u);
}
__device__ inline float key_to_float(unsigned k) {
  return __uint_as_float((k >> 31) ? (k & 0x7fffffffu) : ~k);
}

// Lexicographic minimum of (value, index) over the 32 lanes of a warp (the lowest index among
// equal values, -0.0f equal to +0.0f); every lane gets it. A lane with nothing to offer passes
// (INFINITY, INT_MAX).
__device__ inline void warp_argmin_f(float& best, int& index) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  for (int off = 16; off > 0; off >>= 1) {
    const float ov = __shfl_xor_sync(kFullMask, best, off);
    const int oi = __shfl_xor_sync(kFullMask, index, off);
    if (ov < best || (ov == best && oi < index)) {
      best = ov;
      index = oi;
    }
  }
#else
  // Two single-instruction reductions instead of five shuffle levels carrying two values.
  // Indices are >= 0, so their unsigned order is their order.
  const unsigned key = order_key_f(best);
  const unsigned mkey = __reduce_min_sync(kFullMask, key);
  index = static_cast<int>(
      __reduce_min_sync(kFullMask, key == mkey ? static_cast<unsigned>(index) : 0xffffffffu));
  best = key_to_float(mkey);
#endif
}

// Lexicographic minimum of (key, tie) over the 32 lanes of a warp; every lane gets it.
__device__ inline void warp_min(unsigned long long& key, unsigned& tie) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  for (int off = 16; off > 0; off >>= 1) {
    const unsigned long long ok = __shfl_xor_sync(kFullMask, key, off);
    const unsigned ot = __shfl_xor_sync(kFullMask, tie, off);
    if (ok < key || (ok == key && ot < tie)) {
      key = ok;
      tie = ot;
    }
  }
#else
  // min of the high words, then of the low words among the lanes holding that high word, then
  // of the ties among the lanes holding the whole key (fillers are the largest value, so they
  // never win unless every candidate is that large, where they are equal to it anyway).
  const unsigned hi = static_cast<unsigned>(key >> 32), lo = static_cast<unsigned>(key);
  const unsigned mhi = __reduce_min_sync(kFullMask, hi);
  const unsigned mlo = __reduce_min_sync(kFullMask, hi == mhi ? lo : 0xffffffffu);
  tie = __reduce_min_sync(kFullMask, (hi == mhi && lo == mlo) ? tie : 0xffffffffu);
  key = (static_cast<unsigned long long>(mhi) << 32) | mlo;
#endif
}

// Lexicographic minimum over the team (a warp, or the whole block); every team thread gets it.
// Block: per-warp minima go to shared slots double-buffered by `parity` (a warp racing ahead to
// the next step writes the other half), one barrier, then every warp reduces the slots itself.
template <bool kWarpTeam>
__device__ inline void team_min(unsigned long long& key, unsigned& tie,
                                unsigned long long* red_key, unsigned* red_tie, int& parity,
                                int lane, int warp, int nwarps) {
  warp_min(key, tie);
  if constexpr (!kWarpTeam) {
    unsigned long long* rk = red_key + parity * kMaxWarps;
    unsigned* rt = red_tie + parity * kMaxWarps;
    if (lane == 0) {
      rk[warp] = key;
      rt[warp] = tie;
    }
    __syncthreads();
    key = lane < nwarps ? rk[lane] : ~0ull;
    tie = lane < nwarps ? rt[lane] : ~0u;
    warp_min(key, tie);
    parity ^= 1;
  }
}

// The first wide row >= from that is still unmatched (nr if none), by one warp, 32 rows a
// ballot, instead of one shared-memory read per row in a serial loop (300 dependent reads on a
// 300 x 300 problem). Every warp calling it gets the same answer: col4row changes only before a
// team sync. Rows never become unmatched again, and an unmatched row is never on a search's path
// (a search reaches rows only through matched columns), so augmenting the rows this returns, in
// turn, is exactly the loop over all rows in index order that skips the matched ones.
__device__ inline int next_free_row(const int* col4row, int from, int nr, int lane) {
  for (int base = from; base < nr; base += 32) {
    const int r = base + lane;
    const unsigned m = __ballot_sync(kFullMask, r < nr && col4row[r] == -1);
    if (m != 0u) return base + __ffs(static_cast<int>(m)) - 1;
  }
  return nr;
}

template <bool kWarpTeam>
__device__ inline void team_sync() {
  if constexpr (kWarpTeam) {
    __syncwarp();
  } else {
    __syncthreads();
  }
}

// Status codes match um::pipeline::AssignmentCode.
constexpr int kOk = 0, kInfeasible = 1, kInvalidEntry = 2, kBadShape = 3;

// One block per problem; blockDim.x is a multiple of 32 (LaunchConfig::threads). The launch
// bounds state the largest block choose_launch gives each variant (kMaxThreads, or
// kWarpTeamBlockThreads for a warp team), so a launch never fails for lack of registers, and
// keep the warp teams' blocks an SM where they were before a step's loads were issued together
// (which takes registers): 3 cached (<= 85 registers), 4 uncached (<= 64; the big batches).
template <bool kWarpTeam, bool kCache>
__global__ void __launch_bounds__(kWarpTeam ? kWarpTeamBlockThreads : kMaxThreads,
                                  kWarpTeam ? (kCache ? 3 : 4) : 1)
    lsap_batch_kernel(const float* __restrict__ costs, const int64_t* __restrict__ cost_offsets,
                      const int* __restrict__ rows_arr, const int* __restrict__ cols_arr,
                      const int* __restrict__ out_offsets, int max_rows, int max_cols,
                      int* __restrict__ col_for_row, double* __restrict__ total_out,
                      int* __restrict__ status_out) {
  unsigned char* smem = lsap_dynamic_smem();
  const int b = blockIdx.x;
  const int tid = threadIdx.x;
  const int nthreads = blockDim.x;
  const int lane = tid & 31, warp = tid >> 5, nwarps = nthreads >> 5;
  // All four per-problem values are read here, together (each array has `batch` entries, so
  // the reads are valid whatever the shape): one memory latency before the cost loads can be
  // issued, rather than one per value where the compiler would not move a read above the shape
  // checks.
  const int rows = rows_arr[b], cols = cols_arr[b];
  const int out_offset = out_offsets[b];
  const int64_t cost_offset = cost_offsets[b];
  const int max_nc = max(max_rows, max_cols), max_nr = min(max_rows, max_cols);
  const SmemLayout L = smem_layout(max_nc, max_nr, kCache);
  double* v = reinterpret_cast<double*>(smem + L.v);
  double* spc = reinterpret_cast<double*>(smem + L.spc);
  double* u = reinterpret_cast<double*>(smem + L.u);
  double* rowd = reinterpret_cast<double*>(smem + L.rowd);
  unsigned long long* red_key = reinterpret_cast<unsigned long long*>(smem + L.red_key);
  double* red_sum = reinterpret_cast<double*>(smem + L.red_sum);
  int* path = reinterpret_cast<int*>(smem + L.path);
  int* row4col = reinterpret_cast<int*>(smem + L.row4col);
  int* col4row = reinterpret_cast<int*>(smem + L.col4row);
  int* claim = reinterpret_cast<int*>(smem + L.claim);
  unsigned* red_tie = reinterpret_cast<unsigned*>(smem + L.red_tie);
  unsigned char* sc = smem + L.sc;
  unsigned char* sr = smem + L.sr;
  float* S = reinterpret_cast<float*>(smem + L.cost);
  // Cached layouts: each original column's (cost, row) minimum as an order key (high word: the
  // float's order_key_f, low word: the row), built by the load's shared atomicMin (see there).
  unsigned long long* colmin = reinterpret_cast<unsigned long long*>(smem + L.colmin);

  // (cost_offset < 0 is never packed by the launcher; testing it here makes the compiler read it
  // with the other three instead of after this branch, which put a second memory latency before
  // the cost loads.)
  // (One branch for both unusual cases, empty and bad shape: each branch on this path, before
  // the cost loads can be issued, costs ~20 cycles.)
  int* out = col_for_row + out_offset;
  if (rows <= 0 || cols <= 0 || rows > max_rows || cols > max_cols || cost_offset < 0) {
    const bool empty = rows >= 0 && cols >= 0 && rows <= max_rows && cols <= max_cols &&
                       cost_offset >= 0;  // rows == 0 || cols == 0
    // (unroll 1 here and on the other loops strided by the block size: they run once or twice,
    // and unrolled ones made the compiler divide by the block size for their trip counts.)
    UM_LSAP_UNROLL(unroll 1)
    for (int r = tid; r < rows; r += nthreads) out[r] = -1;  // sized by the true rows
    if (tid == 0) {
      status_out[b] = empty ? kOk : kBadShape;
      total_out[b] = 0.0;
    }
    return;
  }
  const float* C = costs + cost_offset;

  // Solve the "wide" problem nr x nc (nr <= nc), the original matrix transposed when
  // rows > cols: wide(i, j) = C[j][i].
  const bool tr = rows > cols;
  const int nr = tr ? cols : rows, nc = tr ? rows : cols;
  const int ld = cost_ld(nc);
  auto wide_cost = [&](int i, int j) -> float {
    if constexpr (kCache) {
      return S[i * ld + j];
    } else {
      return tr ? __ldg(C + static_cast<int64_t>(j) * cols + i)
                : __ldg(C + static_cast<int64_t>(i) * cols + j);
    }
  };

  // What needs no cost: out[] = -1 (before the first barrier below, so every later write of
  // out[] is ordered after it) and the solver's initial state. The cached load does it while its
  // first reads are in flight, so it costs no time of its own.
  auto init = [&]() {
    UM_LSAP_UNROLL(unroll 1)
    for (int r = tid; r < rows; r += nthreads) out[r] = -1;
    UM_LSAP_UNROLL(unroll 1)
    for (int j = tid; j < nc; j += nthreads) {
      v[j] = 0.0;
      spc[j] = INFINITY;
      sc[j] = 0;
      row4col[j] = -1;
      claim[j] = INT_MAX;
    }
    UM_LSAP_UNROLL(unroll 1)
    for (int i = tid; i < nr; i += nthreads) {
      u[i] = 0.0;
      sr[i] = 0;
      col4row[i] = -1;
    }
  };

  // Load (cache) and reject NaN / -inf up front, like the CPU solver. Coalesced reads of the
  // original layout; a cached tall matrix is stored transposed.
  int bad = 0;
  // fold: the cached load also computes the feasible start's minima (colmin); see below.
  bool fold = false;
  if constexpr (kCache) {
    // The threads as a grid over the matrix, so each keeps ONE column and steps down its rows
    // with constant strides (a few instructions an entry; stepping a flat index's (row, column)
    // along with it cost about 35, which made this loop the kernel's largest instruction
    // count): with cols <= nthreads, gr rows of cols threads, thread (tid / cols, tid % cols)
    // (those past gr * cols only initialise), reading every gr-th row of its column; wider
    // matrices: one row of nthreads threads, each taking columns tid, tid + nthreads, ... down
    // all rows.
    // Consecutive threads read consecutive floats (coalesced) and write consecutive columns of
    // S (its odd row stride keeps a transposed store free of bank conflicts too).
    // (Float-estimated divisions, 32-bit strides, a predicate for the entry check and row
    // bounds instead of a row count: this loop's setup and instruction count are most of what a
    // small problem costs.)
    // Rows of threads: as many as fit, but no more than give each thread a full group of
    // kCacheLoadGroup rows. A thread's work is its groups (a partly used group costs what a
    // full one does), and the block's warps share 4 schedulers, so spreading a short matrix over
    // every thread only multiplies the instructions: 300 x 10 is 19 x 10 threads with 16 rows
    // each (6 warps) rather than 32 x 10 with 9 or 10 (10 warps), 300 x 1 one warp of 19.
    // (The divisions are valid for any cols >= 1 and computed whatever grid is, so that no
    // branch precedes them.)
    const bool grid = cols <= nthreads;
    const int gr_fit = small_div(nthreads, cols), r0_grid = small_div(tid, cols);
    const int gr = grid ? min(gr_fit, (rows + kCacheLoadGroup - 1) / kCacheLoadGroup) : 1;
    const int r0 = grid ? r0_grid : 0;
    const int c0 = grid ? tid - r0 * cols : tid;  // the thread's first column
    const int cstep = grid ? cols : nthreads;
    const bool has = r0 < gr && c0 < cols;        // (grid: c0 < cols always)
    const int pstep = gr * cols;          // source step, gr rows down (<= max(nthreads, cols))
    const int sstep = tr ? gr : gr * ld;  // S step, gr rows down
    // The feasible start below needs, where its minimum runs down the original rows of each
    // original column (square: v_j = min_i c_ij; tall, solved transposed: a wide row is an
    // original column), exactly the entries a grid thread holds: its column's rows, in
    // ascending order. So the load keeps their minimum (the lowest row among equal ones, as the
    // start's own scan did) and merges it into colmin[c] with one shared atomicMin on
    // (order_key_f(min) << 32 | row), instead of a pass over the cached matrix and a barrier
    // after the load. (A wide problem's minima run along the rows: a thread's column has none
    // of them, so it keeps the scan.)
    fold = grid && (tr || rows == cols);
    // Entries q < kCacheLoadBatch of a batch starting at row `row`: rows row + q * gr < rows
    // (a group past the last row is skipped whole, so a short column costs few instructions).
    // Entries past the last row read as +inf: they pass the entry check and never become a
    // minimum, so only their store needs a predicate (the compiler branched around every
    // entry's work when all of it was conditional).
    float x[kCacheLoadBatch];
    auto issue = [&](int row, const float* src) {
      UM_LSAP_UNROLL(unroll)
      for (int g = 0; g < kCacheLoadBatch; g += kCacheLoadGroup) {
        if (row + g * gr < rows) {
          UM_LSAP_UNROLL(unroll)
          for (int q = g; q < g + kCacheLoadGroup; ++q) {
            x[q] = row + q * gr < rows ? __ldg(src + q * pstep) : INFINITY;
          }
        }
      }
    };
    bool ok = true;  // no NaN / -inf so far
    unsigned long long fold_key = ~0ull;  // fold: this thread's (column c0's) minimum, as colmin's
    if (has) issue(r0, C + r0 * cols + c0);
    // While the first batch is in flight: the initial state, and colmin cleared, with the
    // barrier that orders the clearing before the atomics below.
    init();
    if (fold) {  // (uniform)
      UM_LSAP_UNROLL(unroll 1)
      for (int c = tid; c < cols; c += nthreads) colmin[c] = ~0ull;
      __syncthreads();
    }
    UM_LSAP_UNROLL(unroll 1)
    for (int c = c0; has && c < cols; c += cstep) {
      int row = r0;
      const float* src = C + r0 * cols + c;
      int dst = tr ? c * ld + r0 : r0 * ld + c;
      if (c != c0) issue(row, src);
      float best = INFINITY;  // the column's minimum so far, at best_row (-1: none below +inf)
      int best_row = -1;
      while (true) {
        UM_LSAP_UNROLL(unroll)
        for (int g = 0; g < kCacheLoadBatch; g += kCacheLoadGroup) {
          if (row + g * gr < rows) {
            float* sq = S + dst + g * sstep;  // entry q's slot, stepped (one add an entry)
            int rq = row + g * gr;            // entry q's row
            UM_LSAP_UNROLL(unroll)
            for (int q = g; q < g + kCacheLoadGroup; ++q, sq += sstep, rq += gr) {
              ok &= x[q] > -INFINITY;
              if (rq < rows) *sq = x[q];
              if (x[q] < best) {  // strict: the lowest row wins ties; +inf, NaN never do
                best = x[q];
                best_row = rq;
              }
            }
          }
        }
        row += kCacheLoadBatch * gr;
        if (row >= rows) break;
        src += kCacheLoadBatch * pstep;
        dst += kCacheLoadBatch * sstep;
        issue(row, src);
      }
      if (best_row >= 0) {
        fold_key = (static_cast<unsigned long long>(order_key_f(best)) << 32) |
                   static_cast<unsigned>(best_row);
      }
    }
    if (fold) {  // (uniform)
      // The lanes of a column in this warp are cols apart: their minimum first (shuffles
      // down by cols, 2 cols, ...), so that one lane per column merges it. 64-bit shared
      // atomicMin is a compare-and-swap loop, and lanes of one instruction hitting one address
      // would each need a round of it.
      for (int off = cols; off < 32; off *= 2) {
        const unsigned long long other = __shfl_down_sync(kFullMask, fold_key, off);
        fold_key = other < fold_key ? other : fold_key;
      }
      if (lane < cols && fold_key != ~0ull) atomicMin(&colmin[c0], fold_key);
    }
    bad = !ok;
  } else {
    init();
    const int64_t n = static_cast<int64_t>(rows) * cols;
    for (int64_t k0 = tid; k0 < n; k0 += int64_t{kLoadBatch} * nthreads) {
      float x[kLoadBatch];
      UM_LSAP_UNROLL(unroll)
      for (int q = 0; q < kLoadBatch; ++q) {
        const int64_t k = k0 + int64_t{q} * nthreads;
        x[q] = k < n ? __ldg(C + k) : 0.0f;
      }
      UM_LSAP_UNROLL(unroll)
      for (int q = 0; q < kLoadBatch; ++q) bad |= !(x[q] > -INFINITY);  // 0.0f pads pass
    }
  }
  if (__syncthreads_or(bad)) {
    if (tid == 0) {
      status_out[b] = kInvalidEntry;
      total_out[b] = 0.0;
    }
    return;
  }

  // Feasible start, the CPU solver's (solve_wide) computed in parallel:
  //  - square: column reduction, v_j = min_i c_ij (u = 0);
  //  - wide (nr < nc): row reduction, u_i = min_j c_ij (v = 0; column reduction would make
  //    v_j > 0 on columns that stay unmatched, which breaks optimality there).
  // Every reduced cost c_ij - u_i - v_j is then >= 0 and 0 at each row's (column's) minimum.
  // Matching: the CPU matches greedily in index order, each row (square: column) to its arg-min
  // if that partner is still free; a partner is taken exactly when a LOWER index has the same
  // arg-min, so "matched iff I am the lowest-index claimant of my arg-min" (atomicMin on claim[])
  // is the same matching, computed in parallel. It is also what the augmentation itself would
  // have produced for those rows had it processed them first: from v = 0 (resp. u = 0), a row
  // whose cheapest partner is free augments at once, along a path of length its minimum, and
  // changes no other dual. The matched pairs have reduced cost 0, so the duals stay feasible and
  // complementary; the remaining rows are augmented below, and the order in which rows are
  // augmented does not affect optimality (each augmentation keeps these invariants).
  // With fold, the minima are colmin[c] for each original column c (square: column c; tall: wide
  // row c), over the original rows r (square: rows; tall: wide columns).
  if (fold && cols <= 32) {
    // At most 32 claimants: every warp reads them, lane c the minimum of column c, and finds the
    // lowest claimant of each row by one __match_any_sync instead of claim[] atomics and two
    // barriers; all warps reach the same (uniform) decisions.
    const bool valid = lane < cols;
    const unsigned long long key = valid ? colmin[lane] : ~0ull;
    if (__ballot_sync(kFullMask, valid && key == ~0ull) != 0u) {
      if (tid == 0) {  // a column (tall: a wide row) with only forbidden entries
        status_out[b] = kInfeasible;
        total_out[b] = 0.0;
      }
      return;  // out[] already holds -1 everywhere
    }
    const int r = valid ? static_cast<int>(static_cast<unsigned>(key)) : -1 - lane;  // distinct
    const unsigned same = __match_any_sync(kFullMask, r);
    const bool won = valid && __ffs(static_cast<int>(same)) - 1 == lane;
    const float best = key_to_float(static_cast<unsigned>(key >> 32));
    const unsigned all = cols == 32 ? kFullMask : (1u << cols) - 1u;
    if (__ballot_sync(kFullMask, won) == all) {
      // Every column got its cheapest row (tall: every wide row its cheapest column), all
      // distinct: the sum of the minima is a lower bound of every assignment, so this one is
      // optimal (and it is what the start + an empty search loop would output). Written here.
      if (warp == 0) {
        if (valid) out[r] = lane;  // original row r -> original column lane, in both cases
        double sum = valid ? static_cast<double>(best) : 0.0;
        // (Lanes >= cols hold 0: the levels that would only add those are skipped.)
        for (int off = 16; off > 0; off >>= 1) {
          if (off < cols) sum += __shfl_down_sync(kFullMask, sum, off);
        }
        if (lane == 0) {
          total_out[b] = sum;
          status_out[b] = kOk;
        }
      }
      return;
    }
    if (warp == 0 && valid) {
      if (tr) {  // lane = wide row, r = wide column
        u[lane] = best;
        if (won) {
          col4row[lane] = r;
          row4col[r] = lane;
        }
      } else {  // lane = column, r = row
        v[lane] = best;
        if (won) {
          row4col[lane] = r;
          col4row[r] = lane;
        }
      }
    }
    __syncthreads();
  } else {
    // (path[] holds the arg-mins for now: it has nc >= nr entries and is rewritten by every
    // search before it is read.)
    int infeasible = 0;
    if (fold) {
      double* dual = tr ? u : v;  // tall: u of wide row c; square: v of column c
      UM_LSAP_UNROLL(unroll 1)
      for (int c = tid; c < cols; c += nthreads) {
        const unsigned long long key = colmin[c];
        if (key == ~0ull) {
          infeasible = 1;  // a column (tall: a wide row) with only forbidden entries
        } else {
          const int r = static_cast<int>(static_cast<unsigned>(key));
          dual[c] = key_to_float(static_cast<unsigned>(key >> 32));
          path[c] = r;
          atomicMin(&claim[r], c);
        }
      }
    } else if (nr == nc) {
      UM_LSAP_UNROLL(unroll 1)
      for (int j = tid; j < nc; j += nthreads) {  // coalesced: the threads read one row together
        float best = INFINITY;
        int imin = -1;
        UM_LSAP_UNROLL(unroll 4)
        for (int r = 0; r < nr; ++r) {
          const float c = wide_cost(r, j);
          if (c < best) {  // strict: the lowest row wins ties; +inf never becomes a minimum
            best = c;
            imin = r;
          }
        }
        v[j] = best;
        path[j] = imin;
        if (imin < 0) {
          infeasible = 1;  // a column with only forbidden entries
        } else {
          atomicMin(&claim[imin], j);
        }
      }
    } else {
      for (int r = warp; r < nr; r += nwarps) {  // one warp per row
        float best = INFINITY;
        int jmin = INT_MAX;
        UM_LSAP_UNROLL(unroll 4)
        for (int j = lane; j < nc; j += 32) {
          const float c = wide_cost(r, j);
          if (c < best) {
            best = c;
            jmin = j;
          }
        }
        warp_argmin_f(best, jmin);
        if (lane == 0) {
          u[r] = best;
          if (best == INFINITY) {
            path[r] = -1;
            infeasible = 1;  // a row with only forbidden entries
          } else {
            path[r] = jmin;
            atomicMin(&claim[jmin], r);
          }
        }
      }
    }
    if (__syncthreads_or(infeasible)) {
      if (tid == 0) {
        status_out[b] = kInfeasible;
        total_out[b] = 0.0;
      }
      return;
    }
    // (With fold, a tall problem's path[] is indexed by wide row and a square one's by column,
    // as here.)
    if (nr == nc) {
      UM_LSAP_UNROLL(unroll 1)
      for (int j = tid; j < nc; j += nthreads) {
        const int r = path[j];
        if (claim[r] == j) {
          col4row[r] = j;
          row4col[j] = r;
        }
      }
    } else {
      UM_LSAP_UNROLL(unroll 1)
      for (int r = tid; r < nr; r += nthreads) {
        const int j = path[r];
        if (claim[j] == r) {
          row4col[j] = r;
          col4row[r] = j;
        }
      }
    }
    __syncthreads();
  }

  // Shortest augmenting paths for the rows the start left free, by the team: a warp (the other
  // warps of the block are done) or the whole block. Column j is owned by team thread j % T for
  // the whole solve: only the owner touches spc[j], path[j] and sc[j] during a search, so a
  // search needs no barrier except the one inside the block-wide arg-min. Row r is likewise
  // owned by thread r % T, which alone touches sr[r] and rowd[r] and updates u[r], so the dual
  // update after a search needs no barrier either (one at the end of the augmentation).
  if constexpr (kWarpTeam) {
    if (warp != 0) return;
  }
  const int T = kWarpTeam ? 32 : nthreads;
  const int t = kWarpTeam ? lane : tid;
  int parity = 0;
  // (Uniform: every thread of the team finds the same rows; see next_free_row.)
  for (int cur_row = next_free_row(col4row, 0, nr, lane); cur_row < nr;
       cur_row = next_free_row(col4row, cur_row + 1, nr, lane)) {
    double min_val = 0.0;
    int i = cur_row;
    int sink = -1;
    while (true) {
      // Row i's owner marks it visited and keeps min_val, the length at which the search
      // reached it: the final spc of the column it is matched to (popped at that length), which
      // is all the dual update below needs of the row (the CPU solver reads that spc).
      if ((i < T ? i : i % T) == t) {
        sr[i] = 1;
        rowd[i] = min_val;
      }
      const double base = min_val - u[i];
      unsigned long long best_key = ~0ull;
      unsigned best_tie = ~0u;
      // One column of the step. Its loads are all issued at once, the visited flag among them
      // (it only selects what the others feed), so a column costs one shared-memory latency,
      // not two. A visited column proposes (~0, ~0), which never replaces a proposal.
      auto visit = [&](int j) {
        const bool open = sc[j] == 0;
        const double r = base + static_cast<double>(wide_cost(i, j)) - v[j];
        double s = spc[j];
        const int owner = row4col[j];
        if (open && r < s) {
          s = r;
          spc[j] = r;
          path[j] = i;
        }
        // Candidate order: shorter path, then an unassigned column (it ends the search), then
        // the lower column index (deterministic). Any minimum is a valid Dijkstra choice.
        // The tie word also carries the column's row (low 16 bits; never compared, as j is
        // unique), so the winner's row needs no second shared-memory load on the critical path.
        const unsigned long long key = open ? order_key(s) : ~0ull;
        const unsigned tie = !open        ? ~0u
                             : owner == -1 ? (static_cast<unsigned>(j) << 16) | 0xffffu
                                           : 0x80000000u | (static_cast<unsigned>(j) << 16) |
                                                 static_cast<unsigned>(owner);
        if (key < best_key || (key == best_key && tie < best_tie)) {
          best_key = key;
          best_tie = tie;
        }
      };
      if constexpr (kWarpTeam && kCache) {
        // A lane's first kWarpTeamMaxCols / 32 = 4 columns (all of them in the automatic
        // choice) as straight-line code, guarded rather than looped, so the compiler can issue
        // the loads of all of them before the first is used; then any others (a warp team
        // forced on a wider problem). (Cached costs only: with global loads it would take
        // about 30 more registers a thread, and a warp-team block keeps its 256 threads'
        // registers to the end, so fewer blocks would fit an SM for the big batches that run
        // uncached.)
        constexpr int kUnrolled = kWarpTeamMaxCols / 32;
        UM_LSAP_UNROLL(unroll)
        for (int q = 0; q < kUnrolled; ++q) {
          const int j = t + q * 32;
          if (j < nc) visit(j);
        }
        for (int j = t + kUnrolled * 32; j < nc; j += 32) visit(j);
      } else {
        UM_LSAP_UNROLL(unroll 1)
        for (int j = t; j < nc; j += T) visit(j);
      }
      // Only the owner of a column proposes it, so the owner of the winner is the thread whose
      // own proposal names the winning column (a thread with none proposes column 0x7fff, which
      // kMaxColumns excludes): no division j % T on the step's path.
      const unsigned my_col = (best_tie >> 16) & 0x7fffu;
      team_min<kWarpTeam>(best_key, best_tie, red_key, red_tie, parity, lane, warp, nwarps);
      if (best_key >= kInfKey) break;  // uniform: every unvisited column is +inf away
      min_val = key_to_double(best_key);
      const int j = static_cast<int>((best_tie >> 16) & 0x7fffu);
      if (my_col == static_cast<unsigned>(j)) sc[j] = 1;
      if ((best_tie & 0x80000000u) == 0) {  // unassigned column: the sink
        sink = j;
        break;
      }
      i = static_cast<int>(best_tie & 0xffffu);  // == row4col[j]
    }
    if (sink < 0) {
      if (t == 0) {
        status_out[b] = kInfeasible;
        total_out[b] = 0.0;
      }
      return;  // out[] already holds -1 everywhere
    }
    // The flip below (thread 0) reads path[] of every column. A block team needs no barrier for
    // that: every path write precedes the __syncthreads inside the search's last block-wide
    // arg-min. A warp team's arg-min is a warp reduction, so the warp syncs here.
    if constexpr (kWarpTeam) __syncwarp();

    // Dual update (same values as the CPU solver: u[r] += min_val - spc[col4row[r]], where
    // rowd[r] is that spc), each row and column by its owner, from its owner's own data, while
    // thread 0 flips the alternating path (path, row4col, col4row, u[cur_row]: none of them is
    // touched by the owners' loops; u[cur_row]'s owner only clears sr[cur_row]). No thread reads
    // another's spc any more, so the owners reset their columns at once.
    for (int r = t; r < nr; r += T) {
      if (sr[r]) {
        if (r != cur_row) u[r] += min_val - rowd[r];
        sr[r] = 0;
      }
    }
    for (int c = t; c < nc; c += T) {
      if (sc[c]) {
        v[c] -= min_val - spc[c];
        sc[c] = 0;
      }
      spc[c] = INFINITY;
    }
    if (t == 0) {
      u[cur_row] += min_val;
      int j = sink;
      while (true) {
        const int r = path[j];
        row4col[j] = r;
        const int prev = col4row[r];
        col4row[r] = j;
        j = prev;
        if (r == cur_row) break;
      }
    }
    team_sync<kWarpTeam>();
  }

  // Outputs in the caller's orientation, and the total in double.
  double sum = 0.0;
  for (int r = t; r < nr; r += T) {
    const int c = col4row[r];
    sum += static_cast<double>(wide_cost(r, c));
    if (tr) {
      out[c] = r;  // wide row r = original column r, wide column c = original row c
    } else {
      out[r] = c;
    }
  }
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_down_sync(kFullMask, sum, off);
  if constexpr (kWarpTeam) {
    if (lane == 0) {
      total_out[b] = sum;
      status_out[b] = kOk;
    }
  } else if (nr <= 32) {  // uniform: every row is warp 0's (t < nr), so its sum is the total
    if (tid == 0) {
      total_out[b] = sum;
      status_out[b] = kOk;
    }
  } else {
    if (lane == 0) red_sum[warp] = sum;
    __syncthreads();
    if (tid == 0) {
      double total = 0.0;
      for (int w = 0; w < nwarps; ++w) total += red_sum[w];
      total_out[b] = total;
      status_out[b] = kOk;
    }
  }
}

}  // namespace um_lsap
