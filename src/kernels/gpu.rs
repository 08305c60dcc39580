//! The WGSL kernels through wgpu: adapter choice, pipelines, dispatch and read-back.

use crate::error::{Error, Result};
use crate::kernels::descriptor::{DescribeParams, Descriptor, PackedImage, Tables, WORDS};
use crate::kernels::ivf::CoarseParams;
use crate::kernels::search::{self, Hit, Matrix, Neighbours, SearchParams, TOPK};
use crate::kernels::shaders::{Binding, Kernel, WORKGROUP};
use bytemuck::Pod;
use std::sync::mpsc;
use wgpu::util::DeviceExt;

/// What `--device` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A hardware adapter, else the CPU twins. A software adapter (lavapipe) is never
    /// picked: measured, the CPU twins outrun it (search 35x, descriptors 4x).
    Auto,
    /// Any wgpu adapter; an error if there is none.
    Gpu,
    /// The CPU twins.
    Cpu,
}

/// An adapter as `clipmatch devices` and the manifest describe it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

impl AdapterSummary {
    /// A driver that runs on the CPU (Mesa's lavapipe or llvmpipe).
    pub fn is_software(&self) -> bool {
        self.device_type == "Cpu"
    }

    fn of(info: &wgpu::AdapterInfo) -> Self {
        AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend).to_lowercase(),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        }
    }
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if std::env::var_os("WGPU_BACKEND").is_none() {
        desc.backends = backends;
    }
    wgpu::Instance::new(desc)
}

/// Hardware first, then virtual, then software rasterisers; Vulkan before GL.
fn preference(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    (kind, u8::from(info.backend != wgpu::Backend::Vulkan))
}

/// Every adapter wgpu sees, best first.
pub fn adapters() -> Vec<AdapterSummary> {
    sorted_adapters().iter().map(|a| AdapterSummary::of(&a.get_info())).collect()
}

/// Vulkan adapters; GL ones only where there is no Vulkan adapter at all, because
/// probing EGL without a display is slow and noisy and GL is the weaker backend.
fn sorted_adapters() -> Vec<wgpu::Adapter> {
    let enumerate = |b| pollster::block_on(instance(b).enumerate_adapters(wgpu::Backends::all()));
    let mut list = enumerate(wgpu::Backends::VULKAN);
    if list.is_empty() {
        list = enumerate(wgpu::Backends::GL);
    }
    list.sort_by_key(|a| preference(&a.get_info()));
    list
}

/// The kernels on one wgpu device.
pub struct Gpu {
    pub adapter: AdapterSummary,
    device: wgpu::Device,
    queue: wgpu::Queue,
    /// One pipeline per kernel, in `Kernel::ALL` order.
    pipelines: Vec<Pipeline>,
    tables: wgpu::Buffer,
    max_binding: u64,
}

/// A catalogue resident on the device, split into tiles that each fit one binding.
pub struct Resident {
    tiles: Vec<(wgpu::Buffer, u32, u32)>, // buffer, first frame, frames
    views: usize,
}

/// Index centroids resident on the device.
pub struct ResidentCentroids {
    buf: wgpu::Buffer,
    count: u32,
}

/// Descriptor images per dispatch; bounds the upload to 16 MiB.
const DESCRIBE_BATCH: usize = 16 * 1024;

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
        Gpu::with_adapter(adapter)
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
        Gpu::with_adapter(adapter).map(Some)
    }

    fn with_adapter(adapter: wgpu::Adapter) -> Result<Gpu> {
        let summary = AdapterSummary::of(&adapter.get_info());
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("clipmatch device"),
            required_limits: wgpu::Limits {
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_buffer_size: limits.max_buffer_size,
                ..wgpu::Limits::downlevel_defaults()
            },
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
        let max_binding = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
        Ok(Gpu { adapter: summary, device, queue, pipelines, tables, max_binding })
    }

    fn storage(&self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytes,
            usage: wgpu::BufferUsages::STORAGE,
        })
    }

    fn uniform<T: Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }

    /// Runs one dispatch of `kernel` over `buffers` (its inputs, bound in the order of
    /// `Kernel::bindings`) and reads back its output.
    fn run<T: Pod>(
        &self,
        kernel: Kernel,
        buffers: &[&wgpu::Buffer],
        out_len: usize,
        groups: (u32, u32),
    ) -> Result<Vec<T>> {
        let label = kernel.file();
        let pipeline = &self.pipelines[Kernel::ALL.iter().position(|&k| k == kernel).expect("every kernel")];
        assert_eq!(buffers.len() + 1, kernel.bindings().len(), "{label}: the inputs its bindings name");
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let size = (out_len * std::mem::size_of::<T>()).max(4) as u64;
        let out = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back staging"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .copied()
            .chain(std::iter::once(&out))
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &pipeline.layout,
            entries: &entries,
        });
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        {
            let mut pass =
                encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(label), timestamp_writes: None });
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, 1);
        }
        encoder.copy_buffer_to_buffer(&out, 0, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("{label}: {e}")));
        }
        let (tx, rx) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::Gpu(format!("{label}: poll: {e}")))?;
        rx.recv()
            .map_err(|_| Error::Gpu(format!("{label}: read-back never completed")))?
            .map_err(|e| Error::Gpu(format!("{label}: map: {e}")))?;
        let view = staging.get_mapped_range(..).map_err(|e| Error::Gpu(format!("{label}: map range: {e}")))?;
        let result = bytemuck::cast_slice::<u8, T>(&view)[..out_len].to_vec();
        drop(view);
        staging.unmap();
        Ok(result)
    }

    /// Descriptors of packed 32x32 images (`descriptor.wgsl`).
    pub fn describe(&self, images: &[PackedImage]) -> Result<Vec<Descriptor>> {
        let mut out = Vec::with_capacity(images.len());
        for batch in images.chunks(DESCRIBE_BATCH) {
            let params = self.uniform("descriptor params", &DescribeParams { count: batch.len() as u32, pad: [0; 3] });
            let input = self.storage("descriptor images", bytemuck::cast_slice(batch));
            let groups = (batch.len() as u32).div_ceil(WORKGROUP);
            out.extend(self.run::<Descriptor>(
                Kernel::Descriptor,
                &[&params, &self.tables, &input],
                batch.len(),
                (groups, 1),
            )?);
        }
        Ok(out)
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
        // Rows per dispatch: within one dispatch dimension and one binding of output.
        let rows = (self.max_binding as usize / (4 * k)).clamp(1, 65_535);
        for batch in queries.chunks(rows) {
            let n = batch.len() as u32;
            let params =
                self.uniform("coarse params", &CoarseParams { queries: n, centroids: c.count, pad0: 0, pad1: 0 });
            let qbuf = self.storage("coarse queries", bytemuck::cast_slice(batch));
            out.extend(self.run::<i32>(
                Kernel::Coarse,
                &[&params, &qbuf, &c.buf],
                batch.len() * k,
                (c.count.div_ceil(WORKGROUP), n),
            )?);
        }
        Ok(out)
    }

    /// Exact top-k of every query against a resident catalogue (`search.wgsl`).
    pub fn search(&self, queries: &[[u32; WORDS]], cat: &Resident) -> Result<Vec<Neighbours>> {
        let mut best = vec![[Hit::EMPTY; TOPK]; queries.len()];
        if queries.is_empty() {
            return Ok(best);
        }
        let qbuf = self.storage("queries", bytemuck::cast_slice(queries));
        let nq = queries.len() as u32;
        for (tile, first, frames) in &cat.tiles {
            // Enough chunks to fill the device (about 256k invocations), at least 256
            // frames each, and never more than a dispatch dimension allows.
            let chunk = (*frames).div_ceil((262_144 / nq).max(1)).max(256).max(frames.div_ceil(65_535));
            let chunks = frames.div_ceil(chunk);
            let params = self.uniform(
                "search params",
                &SearchParams { queries: nq, frames: *frames, views: cat.views as u32, chunk },
            );
            let hits: Vec<Hit> = self.run(
                Kernel::Search,
                &[&params, &qbuf, tile],
                (nq * chunks) as usize * TOPK,
                (nq.div_ceil(WORKGROUP), chunks),
            )?;
            for (q, acc) in best.iter_mut().enumerate() {
                let lists = &hits[q * (chunks as usize) * TOPK..(q + 1) * (chunks as usize) * TOPK];
                search::fold(acc, &search::merge(lists.iter().copied(), *first));
            }
        }
        Ok(best)
    }
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
