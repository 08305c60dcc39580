//! Adapters: which ones wgpu sees, in the order `--device` prefers them.

/// What `--device` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A hardware adapter, else the CPU twins. A software adapter (lavapipe) is never
    /// picked: measured, the CPU twins outrun it (search 13x, descriptors 6x).
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

    pub(crate) fn of(info: &wgpu::AdapterInfo) -> Self {
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
pub(crate) fn sorted_adapters() -> Vec<wgpu::Adapter> {
    let enumerate = |b| pollster::block_on(instance(b).enumerate_adapters(wgpu::Backends::all()));
    let mut list = enumerate(wgpu::Backends::VULKAN);
    if list.is_empty() {
        list = enumerate(wgpu::Backends::GL);
    }
    list.sort_by_key(|a| preference(&a.get_info()));
    list
}
