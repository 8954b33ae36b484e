//! Opens the compute device so that the window can render on the same wgpu device: burn creates
//! the device with the adapter's own features and limits (what cubecl's kernels need), and the
//! window's renderer is handed the very same instance, adapter, device and queue.

use burn::tensor::Device;
use burn::tensor::wgpu::WgpuSetup;
use burn::tensor::wgpu::wgpu::DeviceType;

use crate::backend::{Backend, BackendChoice, NoAdapter};

/// The wgpu handles burn computes on, for the window's renderer.
pub type SharedWgpu = WgpuSetup;

/// Like [`crate::backend::select`], but also returns the wgpu handles when wgpu was opened, so
/// the window can share them. With `Auto`, a software adapter (lavapipe, llvmpipe) is passed over
/// for burn's CPU backend (faster on the same CPU); its handles still serve the window.
pub fn open_backend(choice: BackendChoice) -> Result<(Backend, Option<SharedWgpu>), NoAdapter> {
    if choice == BackendChoice::Cpu {
        return Ok((crate::backend::select(BackendChoice::Cpu)?, None));
    }
    let opened = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
    let (device, setup) = match opened {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) if choice == BackendChoice::Auto => {
            return Ok((cpu(format!("CPU (flex): no GPU adapter ({e})")), None));
        }
        Ok(Err(_)) | Err(_) if choice == BackendChoice::Auto => {
            return Ok((
                cpu("CPU (flex): the wgpu driver panicked while opening".into()),
                None,
            ));
        }
        Ok(Err(_)) | Err(_) => {
            // Forced wgpu: let the library describe why no adapter opens.
            return crate::backend::select(BackendChoice::Wgpu).map(|b| (b, None));
        }
    };
    let info = setup.adapter.get_info();
    let is_gpu = !matches!(info.device_type, DeviceType::Cpu | DeviceType::Other);
    let description = format!("GPU: {} ({:?})", info.name, info.backend);
    let backend = if is_gpu || choice == BackendChoice::Wgpu {
        Backend {
            device: device.autodiff(),
            description: format!("{description}, shared with the window"),
            is_gpu,
        }
    } else {
        cpu(format!(
            "CPU (flex): the only wgpu adapter is a software one ({description}); the window renders on it"
        ))
    };
    Ok((backend, Some(setup)))
}

fn cpu(description: String) -> Backend {
    Backend {
        device: Device::flex().autodiff(),
        description,
        is_gpu: false,
    }
}
