//! Picks the compute device: a wgpu GPU adapter by default, burn's `flex` CPU backend otherwise.

use std::fmt;

use burn::tensor::Device;
use burn::tensor::wgpu::WgpuSetup;
use burn::tensor::wgpu::wgpu::DeviceType;

/// What the user asked for (`--backend`, or the GUI setting).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A hardware GPU through wgpu when one exists, else the CPU.
    #[default]
    Auto,
    /// wgpu, any adapter (including a software one such as Mesa's lavapipe); an error if none.
    Wgpu,
    /// burn's flex CPU backend.
    Cpu,
}

/// The chosen device (with autodiff enabled: attention needs gradients at inference too) and a
/// sentence for the status bar and the log.
#[derive(Clone, Debug)]
pub struct Backend {
    pub device: Device,
    pub description: String,
    pub is_gpu: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("no wgpu adapter could be opened ({0}); run with `--backend cpu` to use the CPU")]
pub struct NoAdapter(String);

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Wgpu => "wgpu",
            Self::Cpu => "cpu",
        })
    }
}

/// Opens the device for `choice`. With `Auto`, a software adapter (lavapipe, llvmpipe) is passed
/// over for flex, which is faster on the same CPU.
pub fn select(choice: BackendChoice) -> Result<Backend, NoAdapter> {
    open(choice).map(|(backend, _)| backend)
}

/// Like [`select`], and also the wgpu handles whenever wgpu opened (even when `Auto` computes on
/// the CPU), so a window can render on the same device: burn creates it with the adapter's own
/// features and limits, which cubecl's kernels need.
pub fn open(choice: BackendChoice) -> Result<(Backend, Option<WgpuSetup>), NoAdapter> {
    if choice == BackendChoice::Cpu {
        return Ok((cpu("CPU (flex), as requested".into()), None));
    }
    // Adapter probing can panic inside drivers; a panic here must not take the app down.
    let opened = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
    let (device, setup) = match (opened, choice) {
        (Ok(Ok(pair)), _) => pair,
        (Ok(Err(e)), BackendChoice::Auto) => {
            tracing::info!("no GPU adapter ({e}); using the CPU");
            return Ok((cpu(format!("CPU (flex): no GPU adapter ({e})")), None));
        }
        (Err(_), BackendChoice::Auto) => {
            let why = "the wgpu driver panicked while opening";
            return Ok((cpu(format!("CPU (flex): no GPU adapter ({why})")), None));
        }
        (Ok(Err(e)), _) => return Err(NoAdapter(e.to_string())),
        (Err(_), _) => return Err(NoAdapter("the wgpu driver panicked while opening".into())),
    };
    let info = setup.adapter.get_info();
    let is_gpu = !matches!(info.device_type, DeviceType::Cpu | DeviceType::Other);
    let adapter = format!("{} ({:?})", info.name, info.backend);
    let backend = if is_gpu || choice == BackendChoice::Wgpu {
        let kind = if is_gpu {
            "GPU"
        } else {
            "wgpu, software adapter"
        };
        Backend {
            device: device.autodiff(),
            description: format!("{kind}: {adapter}"),
            is_gpu,
        }
    } else {
        cpu(format!(
            "CPU (flex): the only wgpu adapter is a software one ({adapter})"
        ))
    };
    Ok((backend, Some(setup)))
}

fn cpu(description: String) -> Backend {
    keep_freed_tensor_memory();
    Backend {
        device: Device::flex().autodiff(),
        description,
        is_gpu: false,
    }
}

/// Above this size glibc would map each allocation afresh and unmap it on free, and trim the heap
/// after frees: tensor buffers of a training step are allocated and freed every step.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_KEEP_BYTES: libc::c_int = 256 << 20;

/// Lets glibc keep freed tensor buffers for reuse instead of returning them to the system and
/// page-faulting them in again each step (training on 2 cores +16%, docs/speed.md).
fn keep_freed_tensor_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only sets allocator tunables; it is safe to call at any time.
            let set = unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MALLOC_KEEP_BYTES)
                    & libc::mallopt(libc::M_TRIM_THRESHOLD, MALLOC_KEEP_BYTES)
            };
            if set != 1 {
                tracing::debug!("glibc refused the malloc thresholds; keeping its defaults");
            }
        });
    }
}
