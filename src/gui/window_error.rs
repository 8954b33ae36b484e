//! What to tell a user whose window could not open: eframe's own message says what failed, not
//! what to install. The usual causes on Linux are no display, and no driver that can draw to the
//! window's surface (a machine without a GPU driver, or Xvfb without Mesa's Vulkan driver).

/// What to install or set, for the failure eframe reported.
pub fn explain(error: &eframe::Error) -> String {
    let advice = match error {
        eframe::Error::Wgpu(_) => NO_DRIVER,
        eframe::Error::WinitEventLoop(_) | eframe::Error::Winit(_) => NO_DISPLAY,
        _ => "",
    };
    format!("the window could not open: {error}{advice}")
}

const NO_DRIVER: &str = ". The explorer draws with wgpu and needs a driver that can draw to a \
    window: a GPU driver, or Mesa's software Vulkan driver (Debian/Ubuntu: `apt-get install \
    mesa-vulkan-drivers`; Fedora: `dnf install mesa-vulkan-drivers`). The command line (`vaelens \
    --help`) needs no window";

const NO_DISPLAY: &str = ". The explorer needs a display: run it in a desktop session (X11 or \
    Wayland), or under `xvfb-run` for screenshots. The command line (`vaelens --help`) needs no \
    window";

#[cfg(test)]
mod tests {
    use super::*;
    use eframe::egui_wgpu::WgpuError;

    #[test]
    fn a_surface_without_formats_says_what_to_install() {
        let message = explain(&eframe::Error::Wgpu(WgpuError::NoSurfaceFormatsAvailable));
        assert!(
            message.contains("no valid format for the surface"),
            "{message}"
        );
        assert!(message.contains("mesa-vulkan-drivers"), "{message}");
    }
}
