//! Pixel buffers from `render` as egui textures.

use eframe::egui;
use image::RgbaImage;

/// Uploads `img` as a texture (linear filtering for smooth magnification).
pub fn texture(
    ctx: &egui::Context,
    name: impl Into<String>,
    img: &RgbaImage,
) -> egui::TextureHandle {
    ctx.load_texture(name, color_image(img), egui::TextureOptions::LINEAR)
}

pub fn color_image(img: &RgbaImage) -> egui::ColorImage {
    egui::ColorImage::from_rgba_unmultiplied(
        [img.width() as usize, img.height() as usize],
        img.as_raw(),
    )
}

/// Draws `tex` fitted into a `side` x `side` box, keeping its aspect ratio.
pub fn show(ui: &mut egui::Ui, tex: &egui::TextureHandle, side: f32) -> egui::Response {
    let [w, h] = tex.size();
    let scale = side / (w.max(h).max(1) as f32);
    ui.add(
        egui::Image::new(tex)
            .fit_to_exact_size(egui::vec2(w as f32 * scale, h as f32 * scale))
            .sense(egui::Sense::click()),
    )
}

/// A label and a widget it names (for screen readers and UI tests).
pub fn labelled(ui: &mut egui::Ui, label: &str, widget: impl egui::Widget) -> egui::Response {
    let name = ui.label(label);
    ui.add(widget).labelled_by(name.id)
}

/// One row of a settings grid: a label, the widget it names (enabled or not) and its tooltip.
pub fn grid_row(
    ui: &mut egui::Ui,
    label: &str,
    enabled: bool,
    widget: impl egui::Widget,
    hover: &str,
) -> egui::Response {
    let name = ui.label(label);
    let response = ui
        .add_enabled(enabled, widget)
        .labelled_by(name.id)
        .on_hover_text(hover);
    ui.end_row();
    response
}

/// An Adam learning rate.
pub fn learning_rate(lr: &mut f64) -> egui::DragValue<'_> {
    egui::DragValue::new(lr)
        .range(1e-6..=1.0)
        .speed(1e-4)
        .max_decimals(6)
}
