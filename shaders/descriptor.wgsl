// Frame descriptor kernel: one workgroup per 32x32 luma image, held in workgroup memory;
// src/kernels/descriptor.rs says what each step is for. Integer arithmetic throughout,
// and the reductions (histogram, sums, maximum) are integer atomics, whose result does
// not depend on their order, so that the CPU twin (src/kernels/descriptor.rs,
// `describe`) gives the same bytes. Each of the 64 invocations loads 4 words, bins 16
// pixels, computes 8 row-pass sums and 2 coefficients, and invocations 0-31 a word each.

#import shared/common.wgsl

// Right shifts after the row and the column pass, and the bits normalised coefficients
// fit in: descriptor::ROW_SHIFT, COL_SHIFT, NORM_BITS.
const ROW_SHIFT: u32 = 10u;
const COL_SHIFT: u32 = 14u;
const NORM_BITS: u32 = 11u;

struct Params {
    count: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tables: Tables;
@group(0) @binding(2) var<storage, read> images: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<Descriptor>;

fn round_shift(x: i32, s: u32) -> i32 {
    if s == 0u {
        return x;
    }
    let m = i32((u32(abs(x)) + (1u << (s - 1u))) >> s);
    return select(m, -m, x < 0);
}

fn isqrt(n: u32) -> u32 {
    var r = 0u;
    var bit = 1u << 15u;
    while bit > 0u {
        let c = r | bit;
        if c * c <= n {
            r = c;
        }
        bit = bit >> 1u;
    }
    return r;
}

var<workgroup> img: array<u32, 256>; // IMG_WORDS
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> lut: array<i32, 256>;
var<workgroup> rows: array<i32, 512>; // IMG * FREQ, rows[y * FREQ + u]
var<workgroup> coef: array<i32, 128>; // DIM
var<workgroup> total: atomic<u32>;
var<workgroup> squares: atomic<u32>;
var<workgroup> max_abs: atomic<u32>;
var<workgroup> sum: atomic<u32>;

fn pixel(i: u32) -> i32 {
    return i32(extractBits(img[i / 4u], 8u * (i % 4u), 8u));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    // One image per workgroup: `n` is the same for the whole group, so every return
    // below is taken by all of it.
    let n = wg.x;
    if n >= params.count {
        return;
    }
    let base = n * IMG_WORDS;
    for (var k = 0u; k < 4u; k++) {
        img[k * 64u + lid] = images[base + k * 64u + lid];
        atomicStore(&hist[k * 64u + lid], 0u);
    }
    if lid == 0u {
        atomicStore(&total, 0u);
        atomicStore(&squares, 0u);
        atomicStore(&max_abs, 0u);
        atomicStore(&sum, 0u);
    }
    workgroupBarrier();

    // Contrast: 16 x the standard deviation of the pixels; and their histogram.
    var part = 0u;
    for (var k = 0u; k < 16u; k++) {
        let p = pixel(k * 64u + lid);
        atomicAdd(&hist[p], 1u);
        part += u32(p);
    }
    atomicAdd(&total, part);
    workgroupBarrier();
    let mean = i32(atomicLoad(&total) / (IMG * IMG));
    var ss = 0u;
    for (var k = 0u; k < 16u; k++) {
        let dp = pixel(k * 64u + lid) - mean;
        ss += u32(dp * dp);
    }
    atomicAdd(&squares, ss);
    let energy = isqrt(workgroupUniformLoad(&squares) / 4u);
    if energy == 0u {
        if lid < WORDS {
            out[n].words[lid] = 0u;
        }
        if lid == 0u {
            out[n].energy = 0u;
            out[n].pad0 = 0u;
            out[n].pad1 = 0u;
            out[n].pad2 = 0u;
        }
        return;
    }

    // Mid-rank equalisation table, centred: 2 * below + equal - 1024 (one running sum).
    if lid == 0u {
        var below = 0;
        for (var v = 0u; v < 256u; v++) {
            let h = i32(atomicLoad(&hist[v]));
            lut[v] = 2 * below + h - 1024;
            below += h;
        }
    }
    workgroupBarrier();

    // Row pass: 8 of the 512 (y, u) sums each.
    for (var k = 0u; k < 8u; k++) {
        let i = k * 64u + lid;
        let y = i / FREQ;
        let u = i % FREQ;
        var acc = 0;
        for (var x = 0u; x < IMG; x++) {
            acc += lut[pixel(y * IMG + x)] * tables.row_basis[u * IMG + x];
        }
        rows[i] = round_shift(acc, ROW_SHIFT);
    }
    workgroupBarrier();

    // Column pass, centring and whitening, in slot order: 2 coefficients each.
    for (var k = 0u; k < 2u; k++) {
        let j = k * 64u + lid;
        let v = tables.slot[j] >> 8u;
        let u = tables.slot[j] & 0xffu;
        var acc = 0;
        for (var y = 0u; y < IMG; y++) {
            acc += rows[y * FREQ + u] * tables.col_basis[v * IMG + y];
        }
        let c = (round_shift(acc, COL_SHIFT) - tables.mean[j]) * tables.weight[j];
        coef[j] = c;
        atomicMax(&max_abs, u32(abs(c)));
    }

    // Normalise to unit L2 norm in 127ths.
    let top = workgroupUniformLoad(&max_abs);
    var s = 0u;
    while (top >> s) >= (1u << NORM_BITS) {
        s++;
    }
    for (var k = 0u; k < 2u; k++) {
        let j = k * 64u + lid;
        let e = round_shift(coef[j], s);
        coef[j] = e;
        atomicAdd(&sum, u32(e * e));
    }
    let norm = isqrt(workgroupUniformLoad(&sum));
    if lid < WORDS {
        var word = 0u;
        if norm > 0u {
            for (var b = 0u; b < 4u; b++) {
                let e = coef[lid * 4u + b];
                let m = i32((254u * u32(abs(e)) + norm) / (2u * norm));
                let q = select(m, -m, e < 0);
                word |= (u32(q) & 0xffu) << (8u * b);
            }
        }
        out[n].words[lid] = word;
    }
    if lid == 0u {
        out[n].energy = energy;
        out[n].pad0 = 0u;
        out[n].pad1 = 0u;
        out[n].pad2 = 0u;
    }
}
