//! Traversal panel: one slider per latent dimension starting at the image's mu, the live decoded
//! image beside the original and its reconstruction, a reset, and an exportable traversal grid
//! (picked dimensions x values).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use eframe::egui;
use image::{Rgba, RgbaImage};

use super::output_paths;
use super::shared::{Action, Shared, Write};
use super::textures;
use crate::engine::{Command, Explained};
use crate::render::{grid, human32};

/// Image, model generation and patch window of an explanation.
type Source = (PathBuf, u64, Option<(usize, usize)>);

/// Latents up to this size get a grid row per dimension when none is picked.
const ALL_ROWS_UP_TO: usize = 12;

pub struct TraversalPanel {
    /// The latent being decoded.
    pub z: Vec<f32>,
    /// The image's mu (what Reset returns to).
    pub mu: Vec<f32>,
    /// Image, model generation and patch window whose mu `z` started from.
    source: Option<Source>,
    pub seq: u64,
    /// Sequence number of the image on screen.
    pub shown_seq: u64,
    /// When each decode request was sent, for the latency read-out.
    sent_at: Option<(u64, Instant)>,
    pub last_latency_ms: Option<f64>,
    pub decoded: Option<RgbaImage>,
    decoded_tex: Option<egui::TextureHandle>,
    original_tex: Option<(usize, egui::TextureHandle, egui::TextureHandle)>,
    pub grid_steps: usize,
    pub grid_range: f32,
    pub grid_image: Option<RgbaImage>,
    grid_tex: Option<egui::TextureHandle>,
    grid_label: String,
    pub export_path: String,
}

impl Default for TraversalPanel {
    fn default() -> Self {
        Self {
            z: Vec::new(),
            mu: Vec::new(),
            source: None,
            seq: 0,
            shown_seq: 0,
            sent_at: None,
            last_latency_ms: None,
            decoded: None,
            decoded_tex: None,
            original_tex: None,
            grid_steps: 7,
            grid_range: 3.0,
            grid_image: None,
            grid_tex: None,
            grid_label: String::new(),
            export_path: String::new(),
        }
    }
}

impl TraversalPanel {
    pub fn on_decoded(&mut self, ctx: &egui::Context, seq: u64, image: RgbaImage) {
        if seq < self.shown_seq || image.width() == 0 {
            return;
        }
        if let Some((sent, at)) = self.sent_at
            && sent == seq
        {
            self.last_latency_ms = Some(at.elapsed().as_secs_f64() * 1000.0);
        }
        self.shown_seq = seq;
        match &mut self.decoded_tex {
            Some(tex) => tex.set(textures::color_image(&image), egui::TextureOptions::LINEAR),
            None => self.decoded_tex = Some(textures::texture(ctx, "traversal:decoded", &image)),
        }
        self.decoded = Some(image);
    }

    pub fn on_grid(
        &mut self,
        ctx: &egui::Context,
        dims: Vec<usize>,
        values: Vec<f32>,
        tiles: Vec<RgbaImage>,
    ) {
        if tiles.is_empty() {
            return;
        }
        let img = grid(&tiles, values.len(), 2, Rgba([30, 30, 30, 255]));
        self.grid_tex = Some(textures::texture(ctx, "traversal:grid", &img));
        self.grid_label = format!(
            "rows: z{}; columns: {}",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", z"),
            values
                .iter()
                .map(|&v| human32(v))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.grid_image = Some(img);
    }

    /// Sends the current latent for decoding (the worker keeps only the newest request).
    pub fn request_decode(&mut self, shared: &Shared) {
        self.seq += 1;
        self.sent_at = Some((self.seq, Instant::now()));
        shared.send(Command::Decode {
            seq: self.seq,
            latent: self.z.clone(),
        });
    }

    /// Starts from the explained image's (or window's) mu when it or the model changed.
    fn sync(&mut self, shared: &Shared, explained: &Arc<Explained>) {
        let source = (
            explained.path.clone(),
            explained.generation,
            explained.window,
        );
        if self.source.as_ref() == Some(&source) && self.z.len() == explained.maps.mu.len() {
            return;
        }
        self.source = Some(source);
        self.mu = explained.maps.mu.clone();
        self.z = self.mu.clone();
        self.grid_image = None;
        self.grid_tex = None;
        self.request_decode(shared);
    }

    /// Slider range of dimension `i`: the normal statistics' mean ± 4 standard deviations,
    /// widened to hold the image's own mu.
    fn range(&self, shared: &Shared, i: usize) -> std::ops::RangeInclusive<f32> {
        let (m, s) = shared
            .model
            .as_ref()
            .and_then(|info| {
                Some((
                    *info.normal_mu.get(i)?,
                    info.normal_var.get(i)?.max(1e-6).sqrt(),
                ))
            })
            .unwrap_or((0.0, 1.0));
        let (mut lo, mut hi) = (m - 4.0 * s.max(0.25), m + 4.0 * s.max(0.25));
        let own = self.mu.get(i).copied().unwrap_or(0.0);
        lo = lo.min(own - 0.5);
        hi = hi.max(own + 0.5);
        lo..=hi
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared, picked: &BTreeSet<usize>) {
        let Some(explained) = shared.explained.clone() else {
            ui.label(if shared.model.is_none() {
                "No model: train one in the Training panel or load a checkpoint."
            } else {
                "Pick an image on the left."
            });
            return;
        };
        self.sync(shared, &explained);
        let ptr = Arc::as_ptr(&explained) as usize;
        if self.original_tex.as_ref().is_none_or(|(p, _, _)| *p != ptr) {
            let ctx = ui.ctx();
            self.original_tex = Some((
                ptr,
                textures::texture(ctx, "traversal:input", &explained.input),
                textures::texture(ctx, "traversal:recon", &explained.reconstruction),
            ));
        }
        egui::Panel::left("latent-sliders")
            .resizable(true)
            .default_size(330.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.strong("Latent");
                    if ui
                        .button("Reset to mu")
                        .on_hover_text("Every slider back to this image's latent mean")
                        .clicked()
                    {
                        self.z = self.mu.clone();
                        self.request_decode(shared);
                    }
                });
                let mut changed = false;
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.spacing_mut().slider_width = 190.0;
                    for i in 0..self.z.len() {
                        let range = self.range(shared, i);
                        let label = if picked.contains(&i) {
                            format!("z{i} (picked)")
                        } else {
                            format!("z{i}")
                        };
                        let r = ui
                            .add(egui::Slider::new(&mut self.z[i], range).text(label))
                            .on_hover_text(
                                "Move to decode another latent; the range is the training \
                                 images' mean ± 4 standard deviations",
                            );
                        changed |= r.changed();
                    }
                });
                if changed {
                    self.request_decode(shared);
                }
            });
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal_top(|ui| {
                let side = 220.0;
                if let Some((_, input, recon)) = &self.original_tex {
                    ui.vertical(|ui| {
                        ui.strong("Input");
                        textures::show(ui, input, side);
                    });
                    ui.vertical(|ui| {
                        ui.strong("Reconstruction (decoder(mu))");
                        textures::show(ui, recon, side);
                    });
                }
                ui.vertical(|ui| {
                    ui.strong("Decoded latent");
                    match &self.decoded_tex {
                        Some(t) => {
                            textures::show(ui, t, side);
                        }
                        None => {
                            ui.label("decoding...");
                        }
                    }
                    if let Some(ms) = self.last_latency_ms {
                        ui.small(format!("slider -> image: {ms:.1} ms"));
                    }
                });
            });
            ui.separator();
            ui.strong("Traversal grid");
            let dims: Vec<usize> = if picked.is_empty() {
                // A small latent (dSprites' 10) gets a row for each dimension.
                let rows = if self.z.len() <= ALL_ROWS_UP_TO {
                    self.z.len()
                } else {
                    4
                };
                (0..rows).collect()
            } else {
                picked
                    .iter()
                    .copied()
                    .filter(|&d| d < self.z.len())
                    .collect()
            };
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "dimensions: {} (pick them in the Attention panel)",
                    dims.iter()
                        .map(|d| format!("z{d}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                textures::labelled(
                    ui,
                    "values",
                    egui::DragValue::new(&mut self.grid_steps).range(2..=15),
                )
                .on_hover_text("Columns of the grid: values each dimension takes");
                textures::labelled(
                    ui,
                    "range +/-",
                    egui::DragValue::new(&mut self.grid_range)
                        .range(0.1..=10.0)
                        .speed(0.1),
                )
                .on_hover_text("The values run from minus to plus this");
                if ui
                    .button("Make grid")
                    .on_hover_text(
                        "Decode each picked dimension set to each value, the rest at the sliders",
                    )
                    .clicked()
                {
                    let n = self.grid_steps.max(2);
                    let values = (0..n)
                        .map(|k| {
                            -self.grid_range + 2.0 * self.grid_range * k as f32 / (n - 1) as f32
                        })
                        .collect();
                    shared.send(Command::Traverse {
                        mu: self.z.clone(),
                        dims,
                        values,
                    });
                }
            });
            if let Some(tex) = &self.grid_tex {
                ui.small(&self.grid_label);
                ui.horizontal(|ui| {
                    textures::labelled(
                        ui,
                        "Grid file",
                        egui::TextEdit::singleline(&mut self.export_path).desired_width(260.0),
                    );
                    if ui
                        .button("Export grid PNG")
                        .on_hover_text("Write the grid as shown (you are asked before replacing)")
                        .clicked()
                    {
                        let path = output_paths::typed_path(&self.export_path);
                        shared.actions.push(Action::Write(Write::Grid(path)));
                    }
                });
                egui::ScrollArea::both().id_salt("grid").show(ui, |ui| {
                    let [w, h] = tex.size();
                    ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(w as f32, h as f32)));
                });
            }
        });
    }
}
