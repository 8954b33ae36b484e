//! Picks the compute device: a wgpu GPU adapter by default, burn's `flex` CPU backend otherwise.

use std::fmt;

use burn::tensor::Device;
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
    match choice {
        BackendChoice::Cpu => Ok(cpu("CPU (flex), as requested".into())),
        BackendChoice::Wgpu => open_wgpu(),
        BackendChoice::Auto => match open_wgpu() {
            Ok(gpu) if gpu.is_gpu => Ok(gpu),
            Ok(software) => Ok(cpu(format!(
                "CPU (flex): the only wgpu adapter is a software one ({})",
                software.description
            ))),
            Err(NoAdapter(why)) => {
                tracing::info!("no GPU adapter ({why}); using the CPU");
                Ok(cpu(format!("CPU (flex): no GPU adapter ({why})")))
            }
        },
    }
}

fn cpu(description: String) -> Backend {
    Backend {
        device: Device::flex().autodiff(),
        description,
        is_gpu: false,
    }
}

fn open_wgpu() -> Result<Backend, NoAdapter> {
    // Adapter probing can panic inside drivers; a panic here must not take the app down.
    let opened = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
    match opened {
        Ok(Ok((device, setup))) => {
            let info = setup.adapter.get_info();
            let is_gpu = !matches!(info.device_type, DeviceType::Cpu | DeviceType::Other);
            Ok(Backend {
                device: device.autodiff(),
                description: format!("GPU: {} ({:?})", info.name, info.backend),
                is_gpu,
            })
        }
        Ok(Err(e)) => Err(NoAdapter(e.to_string())),
        Err(_) => Err(NoAdapter("the wgpu driver panicked while opening".into())),
    }
}
