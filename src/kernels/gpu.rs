//! The WGSL kernels through wgpu: adapter choice, pipelines, dispatch and read-back.

use crate::error::{Error, Result};
use crate::kernels::adapter::sorted_adapters;
pub use crate::kernels::adapter::{AdapterSummary, DeviceChoice, adapters};
use crate::kernels::descriptor::{DescribeParams, Descriptor, PackedImage, Tables, WORDS};
use crate::kernels::ivf::CoarseParams;
use crate::kernels::search::{Hit, Matrix, MergeParams, Neighbours, SearchParams, TOPK};
use crate::kernels::shaders::{Binding, Kernel, SEARCH_QUERIES, WORKGROUP};
use bytemuck::Pod;
use std::sync::{Mutex, mpsc};
use wgpu::util::DeviceExt;

/// The kernels on one wgpu device.
///
/// A call (`describe`, `search`, `describe_and_search`, `coarse`) is one submission per
/// batch: its inputs written into buffers kept between calls (`Pool`), its kernels
/// recorded as compute passes, every output copied into one staging buffer and read back
/// once. Where the adapter has timestamp queries each pass is timed on the device.
pub struct Gpu {
    pub adapter: AdapterSummary,
    /// The adapter offers subgroup operations (reported; no kernel needs them, see
    /// `search.wgsl`).
    pub subgroups: bool,
    /// The device was opened with timestamp queries: `Timing` holds device times.
    pub timestamps: bool,
    device: wgpu::Device,
    queue: wgpu::Queue,
    /// One pipeline per kernel, in `Kernel::ALL` order.
    pipelines: Vec<Pipeline>,
    tables: wgpu::Buffer,
    max_binding: u64,
    max_buffer: u64,
    uniform_align: u64,
    /// Held for a whole call: the pooled buffers serve one call at a time.
    pool: Mutex<Pool>,
}

/// A catalogue resident on the device, split into tiles that each fit one binding.
pub struct Resident {
    tiles: Vec<(wgpu::Buffer, u32, u32)>, // buffer, first frame, frames
    views: usize,
}

/// Index centroids resident on the device.
pub struct ResidentCentroids {
    buf: wgpu::Buffer,
    pub count: u32,
}

/// Device time of each compute pass of a call, summed over its batches, in seconds
/// (empty where the adapter has no timestamp queries), and the bytes its kernels read
/// and wrote in device memory.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Timing {
    pub passes: Vec<(&'static str, f64)>,
    pub device_bytes: u64,
}

impl Timing {
    fn add(&mut self, label: &'static str, s: f64) {
        match self.passes.iter_mut().find(|(l, _)| *l == label) {
            Some((_, t)) => *t += s,
            None => self.passes.push((label, s)),
        }
    }

    /// Adds the times and bytes of another batch of the same call.
    fn absorb(&mut self, other: Timing) {
        other.passes.into_iter().for_each(|(l, s)| self.add(l, s));
        self.device_bytes += other.device_bytes;
    }

    /// The time of the pass named `label`, where it was timed.
    pub fn of(&self, label: &str) -> Option<f64> {
        self.passes.iter().find(|(l, _)| *l == label).map(|(_, t)| *t)
    }
}

/// Descriptor images per dispatch; bounds the upload to 16 MiB.
const DESCRIBE_BATCH: usize = 16 * 1024;

/// Workgroups a search dispatch aims at: enough to keep every multiprocessor of a
/// data-centre GPU busy (132 SMs x 16 resident groups of 64).
const TARGET_GROUPS: usize = 2048;

/// Fewest frames a search chunk scans: a chunk's list (16 hits) is merged once, so a
/// chunk much shorter than this makes the merge the larger cost.
const MIN_CHUNK_FRAMES: usize = 256;

/// `vec4<u32>`s per query as `search.wgsl` reads them: a packed descriptor (`WORDS`
/// words), or a `Descriptor` straight from the descriptor kernel (its words, then
/// energy and padding).
const PACKED_STRIDE: u32 = (WORDS / 4) as u32;
const DESCRIPTOR_STRIDE: u32 = (std::mem::size_of::<Descriptor>() / 16) as u32;

/// Buffers kept between calls by purpose, each grown to the largest size asked for.
#[derive(Default)]
struct Pool(Vec<(&'static str, wgpu::Buffer)>);

impl Pool {
    /// A buffer for `purpose` of at least `size` bytes (a power of two at most `cap`).
    fn get(
        &mut self,
        device: &wgpu::Device,
        purpose: &'static str,
        size: u64,
        usage: wgpu::BufferUsages,
        cap: u64,
    ) -> wgpu::Buffer {
        let size = size.max(16).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        if let Some((_, b)) = self.0.iter().find(|(p, b)| *p == purpose && b.size() >= size) {
            return b.clone();
        }
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(purpose),
            size: size.next_power_of_two().min(cap).max(size),
            usage,
            mapped_at_creation: false,
        });
        self.0.retain(|(p, _)| *p != purpose);
        self.0.push((purpose, buffer.clone()));
        buffer
    }
}

/// One dispatch: a kernel, its uniform's bytes, its storage buffers after the uniform in
/// binding order (each bound from offset 0 for the bytes given), and its workgroups.
struct Dispatch {
    kernel: Kernel,
    params: Vec<u8>,
    buffers: Vec<(wgpu::Buffer, u64)>,
    groups: (u32, u32),
}

/// Dispatches recorded as one compute pass, timed as one.
struct Pass {
    label: &'static str,
    dispatches: Vec<Dispatch>,
}

/// How a search dispatch splits each catalogue tile: frames per chunk and chunks, and
/// every tile's first chunk among all (each query keeps one list per chunk).
struct SearchPlan {
    tiles: Vec<(u32, u32, u32)>, // chunk frames, chunks, first chunk
    chunks: u32,
}

impl SearchPlan {
    fn new(queries: usize, cat: &Resident) -> SearchPlan {
        let query_tiles = queries.div_ceil(SEARCH_QUERIES as usize).max(1);
        let mut chunks = 0;
        let tiles = cat
            .tiles
            .iter()
            .map(|&(_, _, frames)| {
                let frames = frames as usize;
                let want = TARGET_GROUPS.div_ceil(query_tiles).min(frames.div_ceil(MIN_CHUNK_FRAMES)).clamp(1, 65_535);
                let chunk = frames.div_ceil(want);
                let n = frames.div_ceil(chunk) as u32;
                let tile = (chunk as u32, n, chunks);
                chunks += n;
                tile
            })
            .collect();
        SearchPlan { tiles, chunks }
    }

    /// Bytes the search and merge passes read and write in device memory for `n`
    /// queries `stride` `vec4`s apart: each workgroup streams its chunk once for its
    /// `SEARCH_QUERIES` queries and reads those queries; each (query, chunk) list is
    /// written once and read at most once by the merge, which writes each query's top-k.
    fn traffic(&self, n: u64, stride: u32, cat: &Resident) -> u64 {
        let list = (TOPK * std::mem::size_of::<Hit>()) as u64;
        let query_tiles = n.div_ceil(u64::from(SEARCH_QUERIES));
        let search: u64 = cat
            .tiles
            .iter()
            .zip(&self.tiles)
            .map(|((tile, _, _), &(_, chunks, _))| {
                tile.size() * query_tiles + u64::from(chunks) * n * (u64::from(stride) * 16 + list)
            })
            .sum();
        search + n * u64::from(self.chunks) * list + n * list
    }
}

fn bytes_of<T: Pod>(v: &T) -> Vec<u8> {
    bytemuck::bytes_of(v).to_vec()
}

impl Gpu {
    /// The first adapter whose name contains `name` (any case), software ones included.
    pub fn open_named(name: &str) -> Result<Gpu> {
        let want = name.to_lowercase();
        let list = sorted_adapters();
        let names: Vec<String> = list.iter().map(|a| a.get_info().name).collect();
        let adapter = list
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&want))
            .ok_or_else(|| Error::Gpu(format!("no adapter named like {name:?}; there are {names:?}")))?;
        Gpu::with_adapter(adapter, wgpu::Features::TIMESTAMP_QUERY)
    }

    /// Opens the best adapter; `None` when wgpu sees none, or with `hardware_only`, when
    /// the best is a software one.
    pub fn open(hardware_only: bool) -> Result<Option<Gpu>> {
        let Some(adapter) = sorted_adapters().into_iter().next() else {
            return Ok(None);
        };
        if hardware_only && AdapterSummary::of(&adapter.get_info()).is_software() {
            return Ok(None);
        }
        Gpu::with_adapter(adapter, wgpu::Features::TIMESTAMP_QUERY).map(Some)
    }

    /// A device on `adapter` with those of the `optional` features it has.
    fn with_adapter(adapter: wgpu::Adapter, optional: wgpu::Features) -> Result<Gpu> {
        let summary = AdapterSummary::of(&adapter.get_info());
        // The adapter's own limits (workgroup memory, binding sizes), not the downlevel
        // defaults; timestamp queries where it has them.
        let limits = adapter.limits();
        let features = adapter.features() & optional;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("clipmatch device"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu(format!("{}: request_device: {e}", summary.name)))?;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pipelines = Kernel::ALL.iter().map(|&k| Pipeline::new(&device, k)).collect();
        let tables = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("descriptor tables"),
            contents: bytemuck::bytes_of(&Tables::new()),
            usage: wgpu::BufferUsages::STORAGE,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("{}: building pipelines: {e}", summary.name)));
        }
        Ok(Gpu {
            adapter: summary,
            subgroups: adapter.features().contains(wgpu::Features::SUBGROUP),
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            device,
            queue,
            pipelines,
            tables,
            max_binding: limits.max_storage_buffer_binding_size.min(limits.max_buffer_size),
            max_buffer: limits.max_buffer_size,
            uniform_align: u64::from(limits.min_uniform_buffer_offset_alignment),
            pool: Mutex::new(Pool::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        // A call that panicked left nothing half-written that the next call reads.
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A pooled buffer holding `bytes`, for input to a kernel.
    fn input(&self, pool: &mut Pool, purpose: &'static str, bytes: &[u8]) -> wgpu::Buffer {
        let b = self.scratch(pool, purpose, bytes.len() as u64, wgpu::BufferUsages::COPY_DST);
        self.queue.write_buffer(&b, 0, bytes);
        b
    }

    /// A pooled storage buffer of at least `size` bytes, with `extra` usages.
    fn scratch(&self, pool: &mut Pool, purpose: &'static str, size: u64, extra: wgpu::BufferUsages) -> wgpu::Buffer {
        self.pooled(pool, purpose, size, wgpu::BufferUsages::STORAGE | extra)
    }

    /// A pooled buffer of at least `size` bytes with `usage`.
    fn pooled(&self, pool: &mut Pool, purpose: &'static str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        pool.get(&self.device, purpose, size, usage, self.max_buffer)
    }

    /// Records `passes`, copies `reads` (buffer, bytes) into one staging buffer, submits,
    /// and returns each read's bytes with the device time of each pass.
    fn submit(
        &self,
        pool: &mut Pool,
        passes: &[Pass],
        reads: &[(&wgpu::Buffer, u64)],
    ) -> Result<(Vec<Vec<u8>>, Timing)> {
        let label = passes.first().map_or("submit", |p| p.label);
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        // Every dispatch's uniform in its own slot of one buffer, written before the
        // submission runs.
        let slots = passes.iter().map(|p| p.dispatches.len() as u64).sum::<u64>().max(1);
        let usage = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
        let uniforms = self.pooled(pool, "uniforms", slots * self.uniform_align, usage);
        let timestamps = (self.timestamps && !passes.is_empty()).then(|| {
            self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("pass times"),
                ty: wgpu::QueryType::Timestamp,
                count: 2 * passes.len() as u32,
            })
        });
        let stamp_bytes = if timestamps.is_some() { 16 * passes.len() as u64 } else { 0 };
        let offsets: Vec<u64> = reads
            .iter()
            .scan(0u64, |at, (_, n)| {
                let o = *at;
                *at += n.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
                Some(o)
            })
            .collect();
        let read_bytes = reads.iter().map(|(_, n)| n.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT)).sum::<u64>();
        let stamps_at = read_bytes.next_multiple_of(8);
        let total = stamps_at + stamp_bytes;
        let usage = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        let staging = self.pooled(pool, "read-back staging", total, usage);
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        let mut slot = 0u64;
        for (i, pass) in passes.iter().enumerate() {
            let binds: Vec<wgpu::BindGroup> = pass
                .dispatches
                .iter()
                .map(|d| {
                    let offset = slot * self.uniform_align;
                    slot += 1;
                    self.queue.write_buffer(&uniforms, offset, &d.params);
                    self.bind(d, &uniforms, offset)
                })
                .collect();
            let writes = timestamps.as_ref().map(|q| wgpu::ComputePassTimestampWrites {
                query_set: q,
                beginning_of_pass_write_index: Some(2 * i as u32),
                end_of_pass_write_index: Some(2 * i as u32 + 1),
            });
            let mut cp = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(pass.label), timestamp_writes: writes });
            for (d, bind) in pass.dispatches.iter().zip(&binds) {
                cp.set_pipeline(&self.pipeline(d.kernel).pipeline);
                cp.set_bind_group(0, bind, &[]);
                cp.dispatch_workgroups(d.groups.0, d.groups.1, 1);
            }
        }
        for ((buf, n), at) in reads.iter().zip(&offsets) {
            encoder.copy_buffer_to_buffer(buf, 0, &staging, *at, n.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT));
        }
        if let Some(q) = &timestamps {
            let usage = wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC;
            let resolve = self.pooled(pool, "pass times", stamp_bytes, usage);
            encoder.resolve_query_set(q, 0..2 * passes.len() as u32, &resolve, 0);
            encoder.copy_buffer_to_buffer(&resolve, 0, &staging, stamps_at, stamp_bytes);
        }
        self.queue.submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("{label}: {e}")));
        }
        let (tx, rx) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, ..total, move |r| {
            let _ = tx.send(r);
        });
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::Gpu(format!("{label}: poll: {e}")))?;
        rx.recv()
            .map_err(|_| Error::Gpu(format!("{label}: read-back never completed")))?
            .map_err(|e| Error::Gpu(format!("{label}: map: {e}")))?;
        let view = staging.get_mapped_range(..total).map_err(|e| Error::Gpu(format!("{label}: map range: {e}")))?;
        let data =
            reads.iter().zip(&offsets).map(|((_, n), at)| view[*at as usize..(*at + n) as usize].to_vec()).collect();
        let mut timing = Timing::default();
        if timestamps.is_some() {
            let ticks: &[u64] = bytemuck::cast_slice(&view[stamps_at as usize..total as usize]);
            let period = f64::from(self.queue.get_timestamp_period()) * 1e-9;
            for (pass, t) in passes.iter().zip(ticks.chunks_exact(2)) {
                timing.add(pass.label, t[1].saturating_sub(t[0]) as f64 * period);
            }
        }
        drop(view);
        staging.unmap();
        Ok((data, timing))
    }

    fn pipeline(&self, kernel: Kernel) -> &Pipeline {
        &self.pipelines[Kernel::ALL.iter().position(|&k| k == kernel).expect("every kernel has a pipeline")]
    }

    fn bind(&self, d: &Dispatch, uniforms: &wgpu::Buffer, offset: u64) -> wgpu::BindGroup {
        let label = d.kernel.file();
        assert_eq!(d.buffers.len() + 1, d.kernel.bindings().len(), "{label}: the buffers its bindings name");
        let binding = |buffer, offset, size: u64| {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer, offset, size: std::num::NonZeroU64::new(size) })
        };
        let entries: Vec<wgpu::BindGroupEntry> = std::iter::once(binding(uniforms, offset, d.params.len() as u64))
            .chain(d.buffers.iter().map(|(b, n)| binding(b, 0, (*n).max(16))))
            .enumerate()
            .map(|(i, resource)| wgpu::BindGroupEntry { binding: i as u32, resource })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &self.pipeline(d.kernel).layout,
            entries: &entries,
        })
    }

    /// Descriptors of packed 32x32 images (`descriptor.wgsl`).
    pub fn describe(&self, images: &[PackedImage]) -> Result<Vec<Descriptor>> {
        Ok(self.describe_timed(images)?.0)
    }

    /// As `describe`, with the device time of the descriptor pass.
    pub fn describe_timed(&self, images: &[PackedImage]) -> Result<(Vec<Descriptor>, Timing)> {
        let mut pool = self.lock();
        let mut out = Vec::with_capacity(images.len());
        let mut timing = Timing::default();
        for batch in images.chunks(DESCRIBE_BATCH) {
            let (pass, descriptors, bytes) = self.describe_pass(&mut pool, batch);
            let (data, mut t) = self.submit(&mut pool, &[pass], &[(&descriptors, bytes)])?;
            out.extend(bytemuck::pod_collect_to_vec::<u8, Descriptor>(&data[0]));
            t.device_bytes = (std::mem::size_of_val(batch) + data[0].len()) as u64;
            timing.absorb(t);
        }
        Ok((out, timing))
    }

    /// The pass that describes `batch` (its images written to the device), and the
    /// buffer and bytes of its descriptors.
    fn describe_pass(&self, pool: &mut Pool, batch: &[PackedImage]) -> (Pass, wgpu::Buffer, u64) {
        let count = batch.len();
        let input = self.input(pool, "descriptor images", bytemuck::cast_slice(batch));
        let bytes = (count * std::mem::size_of::<Descriptor>()) as u64;
        let descriptors = self.scratch(pool, "descriptors", bytes, wgpu::BufferUsages::COPY_SRC);
        let pass = Pass {
            label: "descriptor",
            dispatches: vec![Dispatch {
                kernel: Kernel::Descriptor,
                params: bytes_of(&DescribeParams { count: count as u32, pad: [0; 3] }),
                buffers: vec![
                    (self.tables.clone(), self.tables.size()),
                    (input, std::mem::size_of_val(batch) as u64),
                    (descriptors.clone(), bytes),
                ],
                // One workgroup per image.
                groups: (count as u32, 1),
            }],
        };
        (pass, descriptors, bytes)
    }

    /// Uploads a catalogue matrix in tiles no larger than one storage binding.
    pub fn upload(&self, m: &Matrix) -> Result<Resident> {
        let frame_bytes = (m.views * WORDS * 4) as u64;
        let per_tile = (self.max_binding / frame_bytes).clamp(1, u32::MAX as u64 / 2) as usize;
        self.upload_tiled(m, per_tile)
    }

    /// As `upload`, with an explicit tile size (tests use small tiles).
    pub fn upload_tiled(&self, m: &Matrix, frames_per_tile: usize) -> Result<Resident> {
        let frame_words = m.views * WORDS;
        let tiles = (0..m.frames())
            .step_by(frames_per_tile.max(1))
            .map(|first| {
                let last = (first + frames_per_tile).min(m.frames());
                let buf = self
                    .storage("catalogue tile", bytemuck::cast_slice(&m.words[first * frame_words..last * frame_words]));
                (buf, first as u32, (last - first) as u32)
            })
            .collect();
        Ok(Resident { tiles, views: m.views })
    }

    fn storage(&self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytes,
            usage: wgpu::BufferUsages::STORAGE,
        })
    }

    pub fn upload_centroids(&self, centroids: &[u32]) -> ResidentCentroids {
        // A binding is never empty; the padding word is never read (count 0).
        let bytes: &[u8] = if centroids.is_empty() { &[0; 4] } else { bytemuck::cast_slice(centroids) };
        ResidentCentroids { buf: self.storage("index centroids", bytes), count: (centroids.len() / WORDS) as u32 }
    }

    /// Every query's score against every resident centroid, query-major (`coarse.wgsl`).
    pub fn coarse(&self, queries: &[[u32; WORDS]], c: &ResidentCentroids) -> Result<Vec<i32>> {
        let k = c.count as usize;
        let mut out = Vec::with_capacity(queries.len() * k);
        if k == 0 {
            return Ok(out);
        }
        let mut pool = self.lock();
        // Rows per dispatch: within one dispatch dimension and one binding of output.
        let rows = (self.max_binding as usize / (4 * k)).clamp(1, 65_535);
        for batch in queries.chunks(rows) {
            let input = self.input(&mut pool, "coarse queries", bytemuck::cast_slice(batch));
            let bytes = (batch.len() * k * 4) as u64;
            let scores = self.scratch(&mut pool, "coarse scores", bytes, wgpu::BufferUsages::COPY_SRC);
            let pass = Pass {
                label: "coarse",
                dispatches: vec![Dispatch {
                    kernel: Kernel::Coarse,
                    params: bytes_of(&CoarseParams {
                        queries: batch.len() as u32,
                        centroids: c.count,
                        pad0: 0,
                        pad1: 0,
                    }),
                    buffers: vec![
                        (input, (batch.len() * WORDS * 4) as u64),
                        (c.buf.clone(), c.buf.size()),
                        (scores.clone(), bytes),
                    ],
                    groups: (c.count.div_ceil(WORKGROUP), batch.len() as u32),
                }],
            };
            let (data, _) = self.submit(&mut pool, &[pass], &[(&scores, bytes)])?;
            out.extend(bytemuck::pod_collect_to_vec::<u8, i32>(&data[0]));
        }
        Ok(out)
    }

    /// Exact top-k of every query against a resident catalogue (`search.wgsl`, then
    /// `merge.wgsl`).
    pub fn search(&self, queries: &[[u32; WORDS]], cat: &Resident) -> Result<Vec<Neighbours>> {
        Ok(self.search_timed(queries, cat)?.0)
    }

    /// As `search`, with the device time of the search and the merge passes.
    pub fn search_timed(&self, queries: &[[u32; WORDS]], cat: &Resident) -> Result<(Vec<Neighbours>, Timing)> {
        let mut pool = self.lock();
        let plan = SearchPlan::new(queries.len(), cat);
        let mut out = Vec::with_capacity(queries.len());
        let mut timing = Timing::default();
        for batch in queries.chunks(self.query_batch(&plan, PACKED_STRIDE)) {
            let input = self.input(&mut pool, "queries", bytemuck::cast_slice(batch));
            let (passes, lists, bytes) = self.search_passes(&mut pool, &plan, (input, PACKED_STRIDE), batch.len(), cat);
            let (data, mut t) = self.submit(&mut pool, &passes, &[(&lists, bytes)])?;
            out.extend(neighbours(&data[0]));
            t.device_bytes = plan.traffic(batch.len() as u64, PACKED_STRIDE, cat);
            timing.absorb(t);
        }
        Ok((out, timing))
    }

    /// The descriptors of `images` and each one's neighbours in `cat`: the descriptors
    /// go from the descriptor kernel to the search in device memory, one submission and
    /// one read-back per batch.
    pub fn describe_and_search(
        &self,
        images: &[PackedImage],
        cat: &Resident,
    ) -> Result<(Vec<Descriptor>, Vec<Neighbours>)> {
        let mut pool = self.lock();
        let plan = SearchPlan::new(images.len(), cat);
        let (mut descriptors, mut lists) = (Vec::with_capacity(images.len()), Vec::with_capacity(images.len()));
        for batch in images.chunks(self.query_batch(&plan, DESCRIPTOR_STRIDE).min(DESCRIBE_BATCH)) {
            let (describe, described, d_bytes) = self.describe_pass(&mut pool, batch);
            let query = (described.clone(), DESCRIPTOR_STRIDE);
            let (search, found, n_bytes) = self.search_passes(&mut pool, &plan, query, batch.len(), cat);
            let passes: Vec<Pass> = std::iter::once(describe).chain(search).collect();
            let (data, _) = self.submit(&mut pool, &passes, &[(&described, d_bytes), (&found, n_bytes)])?;
            descriptors.extend(bytemuck::pod_collect_to_vec::<u8, Descriptor>(&data[0]));
            lists.extend(neighbours(&data[1]));
        }
        Ok((descriptors, lists))
    }

    /// Queries per submission: each query's per-chunk lists, and the query itself, fit
    /// one binding, and its workgroups one dispatch dimension.
    fn query_batch(&self, plan: &SearchPlan, stride: u32) -> usize {
        let hit = std::mem::size_of::<Hit>() as u64;
        let per_query = (u64::from(plan.chunks) * TOPK as u64 * hit).max(u64::from(stride) * 16);
        let fit = (self.max_binding / per_query) as usize / WORKGROUP as usize * WORKGROUP as usize;
        fit.clamp(WORKGROUP as usize, 65_535 * WORKGROUP as usize)
    }

    /// The search pass (one dispatch per catalogue tile, each query's list per chunk into
    /// one buffer) and the merge pass (each query's lists into its top-k), for `count`
    /// queries read from `queries` at `stride` `vec4`s apart; with the buffer and bytes
    /// of the merged lists.
    fn search_passes(
        &self,
        pool: &mut Pool,
        plan: &SearchPlan,
        (queries, stride): (wgpu::Buffer, u32),
        count: usize,
        cat: &Resident,
    ) -> (Vec<Pass>, wgpu::Buffer, u64) {
        let hit = std::mem::size_of::<Hit>() as u64;
        let n = count as u32;
        let hits_bytes = u64::from(n) * u64::from(plan.chunks) * TOPK as u64 * hit;
        let hits = self.scratch(pool, "search hits", hits_bytes, wgpu::BufferUsages::empty());
        let out_bytes = u64::from(n) * TOPK as u64 * hit;
        let lists = self.scratch(pool, "neighbours", out_bytes, wgpu::BufferUsages::COPY_SRC);
        let query_bytes = u64::from(n) * u64::from(stride) * 16;
        let search = cat
            .tiles
            .iter()
            .zip(&plan.tiles)
            .map(|((tile, first, frames), &(chunk, chunks, chunk_base))| Dispatch {
                kernel: Kernel::Search,
                params: bytes_of(&SearchParams {
                    queries: n,
                    frames: *frames,
                    views: cat.views as u32,
                    chunk,
                    first: *first,
                    chunk_base,
                    chunks_total: plan.chunks,
                    query_stride: stride,
                }),
                buffers: vec![(queries.clone(), query_bytes), (tile.clone(), tile.size()), (hits.clone(), hits_bytes)],
                groups: (n.div_ceil(SEARCH_QUERIES), chunks),
            })
            .collect();
        let merge = Dispatch {
            kernel: Kernel::Merge,
            params: bytes_of(&MergeParams { queries: n, chunks: plan.chunks, pad: [0; 2] }),
            buffers: vec![(hits, hits_bytes), (lists.clone(), out_bytes)],
            groups: (n.div_ceil(WORKGROUP), 1),
        };
        let passes =
            vec![Pass { label: "search", dispatches: search }, Pass { label: "merge", dispatches: vec![merge] }];
        (passes, lists, out_bytes)
    }
}

/// Read-back bytes as neighbour lists.
fn neighbours(bytes: &[u8]) -> Vec<Neighbours> {
    let hits = bytemuck::pod_collect_to_vec::<u8, Hit>(bytes);
    hits.chunks_exact(TOPK).map(|c| c.try_into().expect("TOPK hits")).collect()
}

/// A kernel's compute pipeline with the bind group layout of its `Kernel::bindings`.
struct Pipeline {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

impl Pipeline {
    fn new(device: &wgpu::Device, kernel: Kernel) -> Pipeline {
        let label = Some(kernel.file());
        let entries: Vec<wgpu::BindGroupLayoutEntry> = (0u32..)
            .zip(kernel.bindings())
            .map(|(binding, b)| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b {
                        Binding::Uniform => wgpu::BufferBindingType::Uniform,
                        Binding::Input => wgpu::BufferBindingType::Storage { read_only: true },
                        Binding::Output => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label, entries: &entries });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label,
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label,
            source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label,
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        Pipeline { pipeline, layout }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::search::cpu_search;

    #[test]
    fn without_timestamp_queries_the_kernels_run_untimed() {
        let Some(adapter) = sorted_adapters().into_iter().next() else {
            eprintln!("skipped: no wgpu adapter");
            return;
        };
        let g = Gpu::with_adapter(adapter, wgpu::Features::empty()).unwrap();
        assert!(!g.timestamps);
        let mut r = crate::testkit::Rng::new(3);
        let words: Vec<u32> = (0..700 * 2 * WORDS).map(|_| r.next_u64() as u32).collect();
        let m = Matrix { words: &words, views: 2 };
        let queries: Vec<[u32; WORDS]> = (0..70).map(|_| std::array::from_fn(|_| r.next_u64() as u32)).collect();
        let (found, timing) = g.search_timed(&queries, &g.upload(&m).unwrap()).unwrap();
        assert_eq!(found, cpu_search(&queries, &m));
        assert!(timing.passes.is_empty());
        assert!(timing.device_bytes > (words.len() * 4) as u64);
    }
}
