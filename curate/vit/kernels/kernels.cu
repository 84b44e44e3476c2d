// Kernels for the CUDA path of the CLIP vision transformer (package vit,
// runtime_cuda.go). Everything that is not a matrix product runs here; the
// products run in cuBLAS. All tensors are float32, row-major, densely packed.
//
// Regenerate kernels.ptx (committed, so the Go build needs no nvcc) with
//
//	make ptx
//
// which runs: nvcc -arch=compute_70 --ptx -O3 -o kernels.ptx kernels.cu
//
// The PTX targets compute_70 and is JIT-compiled by the driver for the GPU it
// runs on (Volta and newer, Hopper included). Kernels use only the CUDA device
// runtime: no headers, no libraries. Names are extern "C" so that the Go side
// finds them by their plain names. Sizes that can grow with the batch are
// long long; every elementwise kernel is a grid-stride loop, so any grid size
// covers any element count.

#define WARP 32
#define FULL_MASK 0xffffffffu

// warp_sum returns the sum of v over the 32 lanes of the calling warp, in
// every lane.
__device__ __forceinline__ float warp_sum(float v) {
    for (int off = WARP / 2; off > 0; off /= 2) {
        v += __shfl_xor_sync(FULL_MASK, v, off);
    }
    return v;
}

// warp_max returns the maximum of v over the 32 lanes of the calling warp,
// in every lane.
__device__ __forceinline__ float warp_max(float v) {
    for (int off = WARP / 2; off > 0; off /= 2) {
        v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, off));
    }
    return v;
}

// block_sum returns the sum of v over the whole block, in every thread.
// blockDim.x must be a multiple of 32 (at most 1024); scratch holds 32
// floats of shared memory. It synchronises the block, so every thread of
// the block must call it.
__device__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x % WARP;
    int warp = threadIdx.x / WARP;
    int warps = blockDim.x / WARP;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    v = (lane < warps) ? scratch[lane] : 0.0f;
    return warp_sum(v);
}

extern "C" {

// im2col lays out the patches of a batch of images as rows for the patch
// embedding product. img is [batch, channels, size, size]; cols is
// [batch * grid * grid, channels * patch * patch], one row per patch in
// row-major patch order, the columns in the order of the convolution weight
// [hidden, channels, patch, patch] (channel, then y, then x), so that
// patches = cols · Wᵀ.
__global__ void im2col(const float* __restrict__ img, float* __restrict__ cols,
                       int batch, int channels, int size, int patch) {
    int grid = size / patch;
    long long rowLen = (long long)channels * patch * patch;
    long long total = (long long)batch * grid * grid * rowLen;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        long long row = i / rowLen;
        int col = (int)(i % rowLen);
        int c = col / (patch * patch);
        int ky = (col / patch) % patch;
        int kx = col % patch;
        int b = (int)(row / (grid * grid));
        int p = (int)(row % (grid * grid));
        int gy = p / grid;
        int gx = p % grid;
        long long src = (((long long)b * channels + c) * size + (gy * patch + ky)) * size + gx * patch + kx;
        cols[i] = img[src];
    }
}

// embed_tokens assembles the token sequence of every image: token 0 is the
// class embedding, tokens 1..tokens-1 the patch embeddings, each plus its
// position embedding. patches is [batch * (tokens-1), hidden], cls
// [hidden], pos [tokens, hidden], x [batch * tokens, hidden].
__global__ void embed_tokens(const float* __restrict__ patches, const float* __restrict__ cls,
                             const float* __restrict__ pos, float* __restrict__ x,
                             int batch, int tokens, int hidden) {
    long long total = (long long)batch * tokens * hidden;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int d = (int)(i % hidden);
        long long row = i / hidden;
        int t = (int)(row % tokens);
        long long b = row / tokens;
        float v;
        if (t == 0) {
            v = cls[d];
        } else {
            v = patches[(b * (tokens - 1) + (t - 1)) * hidden + d];
        }
        x[i] = v + pos[(long long)t * hidden + d];
    }
}

// layernorm normalises each row of in (hidden wide, row r starting at
// in + r*inStride) to zero mean and unit (biased) variance, then scales by w
// and shifts by b, writing row r to out + r*outStride. One block per row
// (gridDim.x = rows), blockDim.x a multiple of 32. Mean and variance are two
// passes over the row in float. in and out may be the same rows (each thread
// writes only the elements it read). A row stride of tokens*hidden picks the
// class token of every image: the gather before the post-layernorm.
__global__ void layernorm(const float* in, long long inStride, float* out, long long outStride,
                          const float* __restrict__ w, const float* __restrict__ b,
                          int hidden, float eps) {
    __shared__ float scratch[WARP];
    const float* x = in + blockIdx.x * inStride;
    float* y = out + blockIdx.x * outStride;

    float s = 0.0f;
    for (int j = threadIdx.x; j < hidden; j += blockDim.x) {
        s += x[j];
    }
    float mean = block_sum(s, scratch) / hidden;

    float q = 0.0f;
    for (int j = threadIdx.x; j < hidden; j += blockDim.x) {
        float d = x[j] - mean;
        q += d * d;
    }
    float var = block_sum(q, scratch) / hidden;
    float inv = rsqrtf(var + eps);

    for (int j = threadIdx.x; j < hidden; j += blockDim.x) {
        y[j] = (x[j] - mean) * inv * w[j] + b[j];
    }
}

// split_heads adds the bias to the fused q|k|v projection and scatters it
// per head. qkv is [batch * tokens, 3 * hidden] (q, then k, then v columns),
// bias [3 * hidden]; q, k and v are each [batch, heads, tokens, headDim], so
// that every (image, head) is one contiguous tokens × headDim matrix for
// the strided-batched products.
__global__ void split_heads(const float* __restrict__ qkv, const float* __restrict__ bias,
                            float* __restrict__ q, float* __restrict__ k, float* __restrict__ v,
                            int batch, int tokens, int heads, int headDim) {
    int hidden = heads * headDim;
    long long total = (long long)batch * tokens * hidden;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        // i indexes the destination [b, h, t, j].
        int j = (int)(i % headDim);
        long long r = i / headDim;
        int t = (int)(r % tokens);
        r /= tokens;
        int h = (int)(r % heads);
        long long b = r / heads;
        int col = h * headDim + j;
        long long src = (b * tokens + t) * 3LL * hidden + col;
        q[i] = qkv[src] + bias[col];
        k[i] = qkv[src + hidden] + bias[hidden + col];
        v[i] = qkv[src + 2 * hidden] + bias[2 * hidden + col];
    }
}

// merge_heads gathers the per-head attention outputs o [batch, heads,
// tokens, headDim] back into rows ctx [batch * tokens, heads * headDim].
__global__ void merge_heads(const float* __restrict__ o, float* __restrict__ ctx,
                            int batch, int tokens, int heads, int headDim) {
    int hidden = heads * headDim;
    long long total = (long long)batch * tokens * hidden;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        // i indexes the destination [b, t, h, j].
        int j = (int)(i % headDim);
        long long r = i / headDim;
        int h = (int)(r % heads);
        r /= heads;
        int t = (int)(r % tokens);
        long long b = r / tokens;
        ctx[i] = o[((b * heads + h) * tokens + t) * headDim + j];
    }
}

// softmax_rows replaces each row of s (rows × n) by softmax(scale · row),
// subtracting the row maximum first. One warp per row: blockDim.x must be a
// multiple of 32; the grid must hold at least rows warps.
__global__ void softmax_rows(float* s, long long rows, int n, float scale) {
    long long row = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / WARP;
    int lane = threadIdx.x % WARP;
    if (row >= rows) {
        return;  // whole warps leave together: rows are per warp
    }
    float* x = s + row * n;
    float m = __int_as_float(0xff800000);  // -infinity
    for (int j = lane; j < n; j += WARP) {
        m = fmaxf(m, x[j] * scale);
    }
    m = warp_max(m);
    float sum = 0.0f;
    for (int j = lane; j < n; j += WARP) {
        float e = expf(x[j] * scale - m);
        x[j] = e;
        sum += e;
    }
    sum = warp_sum(sum);
    float inv = 1.0f / sum;
    for (int j = lane; j < n; j += WARP) {
        x[j] *= inv;
    }
}

// add_bias adds b [n] to every row of x [rows, n] in place. After a product
// that accumulated into the residual stream (beta = 1) this completes
// x = residual + y·Wᵀ + b.
__global__ void add_bias(float* x, const float* __restrict__ b, long long rows, int n) {
    long long total = rows * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        x[i] += b[i % n];
    }
}

// bias_quick_gelu adds b [n] to every row of x [rows, n] and applies
// quick_gelu(v) = v · sigmoid(1.702 v) in place.
__global__ void bias_quick_gelu(float* x, const float* __restrict__ b, long long rows, int n) {
    long long total = rows * n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        float v = x[i] + b[i % n];
        x[i] = v / (1.0f + expf(-1.702f * v));
    }
}

}  // extern "C"
