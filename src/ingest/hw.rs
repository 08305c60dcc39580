//! Hardware decoding: FFmpeg's CUDA device (NVDEC) where there is one. The decoder then
//! keeps frames in GPU memory and only the sampled ones are copied down
//! (`decode::decode`); the sampled luma is the same as the software decoder's, since
//! H.264, HEVC, VP9 and AV1 decoding is exact. Debian 12's FFmpeg 5.1 has no Vulkan video
//! decode, so CUDA is the one hardware path.

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

/// What `--decode` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeChoice {
    /// NVDEC where FFmpeg can open a CUDA device, else the CPU.
    Auto,
    Cpu,
    /// NVDEC; an error where there is no CUDA device.
    Nvdec,
}

/// Where the run decodes, as sent to each decode worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decoder {
    #[default]
    Cpu,
    Nvdec,
}

impl Decoder {
    /// As the manifest and the logs name it.
    pub fn name(self) -> &'static str {
        match self {
            Decoder::Cpu => "cpu",
            Decoder::Nvdec => "nvdec",
        }
    }
}

/// The decoder `choice` asks for on this machine; with `Auto` and no CUDA device, the CPU
/// and the reason, for the log.
pub fn resolve(choice: DecodeChoice) -> Result<(Decoder, Option<String>), String> {
    match choice {
        DecodeChoice::Cpu => Ok((Decoder::Cpu, None)),
        DecodeChoice::Nvdec => {
            CudaDevice::open().map_err(|e| format!("--decode nvdec: FFmpeg cannot open a CUDA device: {e}"))?;
            Ok((Decoder::Nvdec, None))
        }
        DecodeChoice::Auto => match CudaDevice::open() {
            Ok(_) => Ok((Decoder::Nvdec, None)),
            Err(e) => Ok((Decoder::Cpu, Some(format!("no CUDA device for FFmpeg ({e}): decoding on the CPU")))),
        },
    }
}

/// A reference to an FFmpeg CUDA device context.
struct CudaDevice(*mut ffi::AVBufferRef);

impl CudaDevice {
    fn open() -> Result<CudaDevice, ffmpeg::Error> {
        super::decode::init();
        let mut device = std::ptr::null_mut();
        // SAFETY: FFmpeg writes a new reference into `device` on success and leaves it
        // null on failure; null device name and options select the default GPU.
        let code = unsafe {
            ffi::av_hwdevice_ctx_create(
                &mut device,
                ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_CUDA,
                std::ptr::null(),
                std::ptr::null_mut(),
                0,
            )
        };
        if code < 0 || device.is_null() {
            return Err(ffmpeg::Error::from(code));
        }
        Ok(CudaDevice(device))
    }

    /// Makes `ctx`, not yet opened, decode on this device.
    fn attach(&self, ctx: &mut ffmpeg::codec::context::Context) -> Result<(), ffmpeg::Error> {
        // SAFETY: `self.0` is a live reference; the context takes a new one of its own,
        // which it releases when it is freed.
        unsafe {
            let r = ffi::av_buffer_ref(self.0);
            if r.is_null() {
                return Err(ffmpeg::Error::Other { errno: libc::ENOMEM });
            }
            (*ctx.as_mut_ptr()).hw_device_ctx = r;
        }
        Ok(())
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        // SAFETY: releases the one reference this value holds.
        unsafe { ffi::av_buffer_unref(&mut self.0) };
    }
}

thread_local! {
    /// The CUDA device of this decode thread, opened on first use: a CUDA context costs
    /// far more to create than one upload's decoding.
    static CUDA: std::cell::RefCell<Option<CudaDevice>> = const { std::cell::RefCell::new(None) };
}

/// Makes `ctx`, not yet opened, decode on this thread's CUDA device.
pub(crate) fn attach_cuda(ctx: &mut ffmpeg::codec::context::Context) -> Result<(), ffmpeg::Error> {
    CUDA.with_borrow_mut(|cuda| {
        if cuda.is_none() {
            *cuda = Some(CudaDevice::open()?);
        }
        cuda.as_ref().expect("opened above").attach(ctx)
    })
}

/// Copies a frame in GPU memory (`Pixel::CUDA`) into `sw`, in system memory.
pub(crate) fn download(hw: &ffmpeg::frame::Video, sw: &mut ffmpeg::frame::Video) -> Result<(), ffmpeg::Error> {
    // SAFETY: both frames are valid; FFmpeg allocates `sw`'s buffers in the frames
    // context's software format, then copies the timestamps and aspect ratio, which the
    // transfer leaves out.
    let code = unsafe {
        ffi::av_frame_unref(sw.as_mut_ptr());
        match ffi::av_hwframe_transfer_data(sw.as_mut_ptr(), hw.as_ptr(), 0) {
            c if c < 0 => c,
            _ => ffi::av_frame_copy_props(sw.as_mut_ptr(), hw.as_ptr()),
        }
    };
    if code < 0 { Err(ffmpeg::Error::from(code)) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_cuda_device_auto_decodes_on_the_cpu_and_nvdec_says_why() {
        if CudaDevice::open().is_ok() {
            eprintln!("skipped: this machine has a CUDA device");
            return;
        }
        let (d, why) = resolve(DecodeChoice::Auto).unwrap();
        assert_eq!(d, Decoder::Cpu);
        assert!(why.unwrap().contains("no CUDA device"));
        let e = resolve(DecodeChoice::Nvdec).unwrap_err();
        assert!(e.starts_with("--decode nvdec: FFmpeg cannot open a CUDA device"), "{e}");
        assert_eq!(resolve(DecodeChoice::Cpu).unwrap(), (Decoder::Cpu, None));
    }
}
