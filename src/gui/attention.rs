//! Attention panel: the D per-dimension maps of the selected image over the image (sortable by
//! KL, by |d_i| or by index), click to pick dimensions, the overall map of the picked ones, the
//! encoder stage, the CAM rule (every registered one), colormap, opacity and an optional common
//! scale. Each map has a colour bar with its scale; a collapsed model's blank maps are flagged.

use std::collections::BTreeSet;
use std::sync::Arc;

use eframe::egui;

use super::colorbar::colour_bar;
use super::shared::Shared;
use super::textures;
use crate::engine::Explained;
use crate::explain::cam::cam_methods;
use crate::render::{Colormap, Scale, heat_overlay, human32};
use crate::tiling::Tiling;

/// Frame stroke and margin around a gallery tile, in points.
const TILE_BORDER: f32 = 3.0 + 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Kl,
    Difference,
    Index,
}

#[derive(Clone, PartialEq)]
struct RenderKey {
    explained: usize,
    cmap: Colormap,
    common_scale: bool,
    picked: BTreeSet<usize>,
}

pub struct AttentionPanel {
    pub sort: SortBy,
    pub cmap: Colormap,
    pub opacity: f32,
    pub common_scale: bool,
    /// Dimensions picked in the gallery (shared with the traversal grid).
    pub picked: BTreeSet<usize>,
    pub tile: f32,
    tiles: Vec<egui::TextureHandle>,
    /// The colour scale of each tile (its own, or the common one).
    scales: Vec<Scale>,
    overall: Option<egui::TextureHandle>,
    overall_scale: Scale,
    original: Option<egui::TextureHandle>,
    /// The model's input, under the heat maps.
    base: Option<egui::TextureHandle>,
    rendered: Option<RenderKey>,
}

impl Default for AttentionPanel {
    fn default() -> Self {
        Self {
            sort: SortBy::Kl,
            cmap: Colormap::Turbo,
            opacity: 0.5,
            common_scale: false,
            picked: BTreeSet::new(),
            tile: 112.0,
            tiles: Vec::new(),
            scales: Vec::new(),
            overall: None,
            overall_scale: Scale { lo: 0.0, hi: 0.0 },
            original: None,
            base: None,
            rendered: None,
        }
    }
}

impl AttentionPanel {
    /// Dimension indices in display order.
    pub fn order(&self, explained: &Explained) -> Vec<usize> {
        let mut order: Vec<usize> = (0..explained.maps.per_dim.len()).collect();
        let key = |i: usize| match self.sort {
            SortBy::Kl => -explained.kl[i],
            SortBy::Difference => -explained.difference[i].abs(),
            SortBy::Index => i as f32,
        };
        order.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
        order
    }

    fn render(&mut self, ctx: &egui::Context, explained: &Arc<Explained>) {
        let key = RenderKey {
            explained: Arc::as_ptr(explained) as usize,
            cmap: self.cmap,
            common_scale: self.common_scale,
            picked: self.picked.clone(),
        };
        if self.rendered.as_ref() == Some(&key) {
            return;
        }
        let maps = &explained.maps;
        let base = &explained.input;
        let common = Scale::covering(maps.per_dim.iter());
        let scale_of = |m: &crate::map::FloatMap| {
            if self.common_scale {
                common
            } else {
                Scale::of(m)
            }
        };
        let same_image = self.rendered.as_ref().is_some_and(|r| {
            r.explained == key.explained && r.common_scale == key.common_scale && r.cmap == key.cmap
        });
        self.scales = maps.per_dim.iter().map(scale_of).collect();
        if !same_image {
            for (i, map) in maps.per_dim.iter().enumerate() {
                let img = heat_overlay(base, map, self.cmap, scale_of(map), 1.0);
                match self.tiles.get_mut(i) {
                    // Reusing the texture avoids a new GPU allocation per map and frame.
                    Some(tex) => tex.set(textures::color_image(&img), egui::TextureOptions::LINEAR),
                    None => self
                        .tiles
                        .push(textures::texture(ctx, format!("attention:{i}"), &img)),
                }
            }
            self.tiles.truncate(maps.per_dim.len());
            self.original = Some(textures::texture(
                ctx,
                "attention:original",
                &explained.original,
            ));
            self.base = Some(textures::texture(ctx, "attention:base", base));
        }
        let picked: Vec<usize> = self
            .picked
            .iter()
            .copied()
            .filter(|&i| i < maps.per_dim.len())
            .collect();
        let overall = if picked.is_empty() {
            maps.overall.clone()
        } else {
            maps.overall_of(&picked)
        };
        self.overall_scale = Scale::of(&overall);
        let img = heat_overlay(base, &overall, self.cmap, self.overall_scale, 1.0);
        self.overall = Some(textures::texture(ctx, "attention:overall", &img));
        self.rendered = Some(key);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        self.controls(ui, shared);
        if shared.is_collapsed() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "Collapsed latent: no dimension of this model is active (its mean varies by less \
                 than 0.01 over the training images), so these attention maps are blank and \
                 explain nothing. Train again with a smaller beta or a longer KL warm-up \
                 (Training panel).",
            );
        }
        ui.separator();
        let Some(explained) = shared.explained.clone() else {
            ui.label(if shared.model.is_none() {
                "No model: train one in the Training panel or load a checkpoint."
            } else if shared.selected.is_none() {
                "Pick an image on the left."
            } else {
                "Computing attention maps..."
            });
            return;
        };
        self.render(ui.ctx(), &explained);
        let order = self.order(&explained);
        egui::Panel::left("attention-image")
            .resizable(false)
            .exact_size(272.0)
            .show(ui, |ui| self.image_column(ui, shared, &explained));
        let mut toggle = None;
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("gallery")
                .show(ui, |ui| {
                    // Rows of as many tiles as fit the width; every cell is as wide as its
                    // tile, so a row never runs past the right edge.
                    let cell = self.tile + 2.0 * TILE_BORDER;
                    let gap = ui.spacing().item_spacing.x;
                    let cols =
                        (((ui.available_width() + gap) / (cell + gap)).floor() as usize).max(1);
                    for row in order.chunks(cols) {
                        ui.horizontal_top(|ui| {
                            for &i in row {
                                if self.tile_ui(ui, &explained, i, cell) {
                                    toggle = Some(i);
                                }
                            }
                        });
                    }
                });
        });
        if let Some(i) = toggle
            && !self.picked.remove(&i)
        {
            self.picked.insert(i);
        }
    }

    /// The image (with the explained window of a patch model) and the overall map.
    fn image_column(&mut self, ui: &mut egui::Ui, shared: &mut Shared, explained: &Explained) {
        ui.strong("Image");
        let tiling = shared.model.as_ref().and_then(|m| m.tiling);
        if let Some(t) = tiling {
            ui.label(format!(
                "Patch VAE: maps explain the outlined {} px window. Click the image to explain \
                 another.",
                t.window
            ));
        }
        if let Some(t) = &self.original {
            let shown = textures::show(ui, t, 256.0);
            if let (Some(tiling), Some(at)) = (tiling, explained.window) {
                pick_window(ui, &shown, tiling, at, shared);
            }
        }
        ui.strong(if self.picked.is_empty() {
            "Overall map (all dimensions)".to_string()
        } else {
            format!("Overall map of {} picked", self.picked.len())
        });
        if let Some(t) = &self.overall {
            self.blended(ui, t, 256.0);
            colour_bar(
                ui,
                self.cmap,
                self.overall_scale,
                256.0,
                "overall attention",
            );
        }
        ui.small(explained.path.display().to_string());
        ui.small("Click maps to pick dimensions.");
    }

    /// One gallery tile: the map, its colour bar and its figures; true when clicked.
    fn tile_ui(&self, ui: &mut egui::Ui, explained: &Explained, i: usize, cell: f32) -> bool {
        let Some(tex) = self.tiles.get(i) else {
            return false;
        };
        let picked = self.picked.contains(&i);
        ui.vertical(|ui| {
            ui.set_width(cell);
            let frame = egui::Frame::NONE
                .stroke(if picked {
                    egui::Stroke::new(3.0, egui::Color32::from_rgb(255, 200, 0))
                } else {
                    egui::Stroke::new(1.0, egui::Color32::from_gray(60))
                })
                .inner_margin(2.0);
            let response = frame.show(ui, |ui| self.blended(ui, tex, self.tile)).inner;
            if let Some(&scale) = self.scales.get(i) {
                colour_bar(ui, self.cmap, scale, cell, &format!("z{i} attention"));
            }
            let label = ui
                .selectable_label(
                    picked,
                    format!(
                        "z{i}  KL {}\n|d| {}",
                        human32(explained.kl[i]),
                        human32(explained.difference[i].abs())
                    ),
                )
                .on_hover_text(
                    "KL: this image's KL divergence in dimension i (nats); |d|: its normal \
                     difference from the training images. Click to pick.",
                );
            response.clicked() || label.clicked()
        })
        .inner
    }

    /// The heat map `heat` over the model's input at the panel's opacity. The blend happens on
    /// the GPU (a tinted texture), so dragging the opacity redraws nothing on the CPU; it is the
    /// blend of `render::heat_overlay` (heat * opacity + image * (1 - opacity)).
    fn blended(&self, ui: &mut egui::Ui, heat: &egui::TextureHandle, side: f32) -> egui::Response {
        let response = match &self.base {
            Some(base) => textures::show(ui, base, side),
            None => textures::show(ui, heat, side),
        };
        let alpha = (self.opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
        egui::Image::new(heat)
            .tint(egui::Color32::from_white_alpha(alpha))
            .paint_at(ui, response.rect);
        response
    }

    fn controls(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.horizontal_wrapped(|ui| {
            ui.label("Sort by");
            ui.selectable_value(&mut self.sort, SortBy::Kl, "KL")
                .on_hover_text("Most informative dimensions first: this image's KL divergence");
            ui.selectable_value(
                &mut self.sort,
                SortBy::Difference,
                "|d| (normal difference)",
            )
            .on_hover_text(
                "Dimensions where this image differs most from the training images first \
                 (docs/method.md §3)",
            );
            ui.selectable_value(&mut self.sort, SortBy::Index, "index")
                .on_hover_text("Dimensions in order z0, z1, ...");
            ui.separator();
            if let Some(model) = &shared.model {
                let stages = model.config.stage_count();
                let name = ui.label("Encoder stage");
                egui::ComboBox::from_id_salt("encoder-stage")
                    .selected_text(format!("{}", shared.stage))
                    .show_ui(ui, |ui| {
                        for s in 0..stages {
                            let side = model.config.input_size >> (s + 1);
                            // Frozen pretrained stages come first.
                            let frozen = if s < model.config.backbone_stages().len() {
                                ", pretrained"
                            } else {
                                ""
                            };
                            ui.selectable_value(
                                &mut shared.stage,
                                s,
                                format!(
                                    "{s} ({} ch, {side}x{side}{frozen})",
                                    model.config.stage_widths()[s]
                                ),
                            );
                        }
                    })
                    .response
                    .labelled_by(name.id)
                    .on_hover_text(
                        "The encoder stage whose features the maps are computed at: earlier \
                         stages are finer, later ones coarser and more abstract",
                    );
            }
            let name = ui.label("CAM rule");
            egui::ComboBox::from_id_salt("cam-rule")
                .selected_text(shared.cam)
                .show_ui(ui, |ui| {
                    for cam in cam_methods() {
                        ui.selectable_value(&mut shared.cam, cam.id(), cam.id());
                    }
                })
                .response
                .labelled_by(name.id)
                .on_hover_text(
                    "How gradients become a map: gradcam (the paper's), layercam or gradcampp",
                );
        });
        ui.horizontal_wrapped(|ui| {
            colormap_combo(ui, &mut self.cmap);
            ui.add(egui::Slider::new(&mut self.opacity, 0.0..=1.0).text("Opacity"))
                .on_hover_text("How strongly the maps cover the image");
            ui.checkbox(&mut self.common_scale, "Common scale")
                .on_hover_text(
                    "One colour scale for every map, so their strengths compare; off: each map \
                     spans its own lowest to highest value (see its colour bar)",
                );
            ui.add(egui::Slider::new(&mut self.tile, 64.0..=256.0).text("Tile size"))
                .on_hover_text("Side of each map in the gallery");
            if ui
                .button("Clear picks")
                .on_hover_text("Unpick every dimension: the overall map averages them all")
                .clicked()
            {
                self.picked.clear();
            }
        });
    }
}

pub fn colormap_combo(ui: &mut egui::Ui, cmap: &mut Colormap) {
    let name = ui.label("Colormap");
    egui::ComboBox::from_id_salt(("colormap", name.id))
        .selected_text(cmap.name())
        .show_ui(ui, |ui| {
            for c in Colormap::ALL {
                ui.selectable_value(cmap, c, c.name());
            }
        })
        .response
        .labelled_by(name.id)
        .on_hover_text("Colours of the heat maps; their colour bars give the scale");
}

/// Outlines the explained window on the shown image and, on a click, asks for the window whose
/// centre is nearest the click.
fn pick_window(
    ui: &egui::Ui,
    shown: &egui::Response,
    tiling: Tiling,
    at: (usize, usize),
    shared: &mut Shared,
) {
    let rect = shown.rect;
    let side = tiling.image_size as f32;
    let to_screen = |x: usize, y: usize| {
        rect.min
            + egui::vec2(
                x as f32 / side * rect.width(),
                y as f32 / side * rect.height(),
            )
    };
    let outline = egui::Rect::from_min_max(
        to_screen(at.0, at.1),
        to_screen(at.0 + tiling.window, at.1 + tiling.window),
    );
    ui.painter().rect_stroke(
        outline,
        0.0,
        egui::Stroke::new(2.0, egui::Color32::from_rgb(255, 200, 0)),
        egui::StrokeKind::Inside,
    );
    if shown.clicked()
        && let Some(pos) = shown.interact_pointer_pos()
    {
        let x = (pos.x - rect.min.x) / rect.width() * side;
        let y = (pos.y - rect.min.y) / rect.height() * side;
        shared.window = Some(tiling.nearest((x, y)));
    }
}
