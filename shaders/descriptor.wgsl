// Frame descriptor kernel: one invocation per 32x32 luma image; src/kernels/descriptor.rs says
// what each step is for. Integer arithmetic throughout, so that the CPU twin
// (src/kernels/descriptor.rs, `describe`) gives the same bytes.
// Registers only: no workgroup memory and no barriers, which software rasterisers such
// as lavapipe execute slowly.

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

fn pixel(base: u32, i: u32) -> i32 {
    return i32(extractBits(images[base + i / 4u], 8u * (i % 4u), 8u));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if n >= params.count {
        return;
    }
    let base = n * IMG_WORDS;
    var d: Descriptor;
    d.pad0 = 0u;
    d.pad1 = 0u;
    d.pad2 = 0u;

    // Contrast: 16 x the standard deviation of the pixels; and their histogram.
    var hist: array<i32, 256>;
    var total = 0u;
    for (var i = 0u; i < IMG * IMG; i++) {
        let p = pixel(base, i);
        hist[p] += 1;
        total += u32(p);
    }
    let mean = i32(total / (IMG * IMG));
    var ss = 0u;
    for (var i = 0u; i < IMG * IMG; i++) {
        let dp = pixel(base, i) - mean;
        ss += u32(dp * dp);
    }
    d.energy = isqrt(ss / 4u);
    if d.energy == 0u {
        for (var w = 0u; w < WORDS; w++) {
            d.words[w] = 0u;
        }
        out[n] = d;
        return;
    }

    // Mid-rank equalisation table, centred: 2 * below + equal - 1024.
    var lut: array<i32, 256>;
    var below = 0;
    for (var v = 0u; v < 256u; v++) {
        lut[v] = 2 * below + hist[v] - 1024;
        below += hist[v];
    }

    // Row pass: rows[y * FREQ + u].
    var rows: array<i32, 512>;
    for (var y = 0u; y < IMG; y++) {
        for (var u = 0u; u < FREQ; u++) {
            var acc = 0;
            for (var x = 0u; x < IMG; x++) {
                acc += lut[pixel(base, y * IMG + x)] * tables.row_basis[u * IMG + x];
            }
            rows[y * FREQ + u] = round_shift(acc, ROW_SHIFT);
        }
    }

    // Column pass, centring and whitening, in slot order.
    var coef: array<i32, 128>;
    var max_abs = 0u;
    for (var j = 0u; j < DIM; j++) {
        let v = tables.slot[j] >> 8u;
        let u = tables.slot[j] & 0xffu;
        var acc = 0;
        for (var y = 0u; y < IMG; y++) {
            acc += rows[y * FREQ + u] * tables.col_basis[v * IMG + y];
        }
        let c = (round_shift(acc, COL_SHIFT) - tables.mean[j]) * tables.weight[j];
        coef[j] = c;
        max_abs = max(max_abs, u32(abs(c)));
    }

    // Normalise to unit L2 norm in 127ths.
    var s = 0u;
    while (max_abs >> s) >= (1u << NORM_BITS) {
        s++;
    }
    var sum = 0u;
    for (var j = 0u; j < DIM; j++) {
        let e = round_shift(coef[j], s);
        coef[j] = e;
        sum += u32(e * e);
    }
    let norm = isqrt(sum);
    for (var w = 0u; w < WORDS; w++) {
        var word = 0u;
        if norm > 0u {
            for (var b = 0u; b < 4u; b++) {
                let e = coef[w * 4u + b];
                let m = i32((254u * u32(abs(e)) + norm) / (2u * norm));
                let q = select(m, -m, e < 0);
                word |= (u32(q) & 0xffu) << (8u * b);
            }
        }
        d.words[w] = word;
    }
    out[n] = d;
}
