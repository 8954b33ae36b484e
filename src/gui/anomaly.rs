//! Anomaly panel: the selected test image's anomaly map (any scored method, picked by id) as a
//! heat-map overlay, a threshold turning it into a predicted mask drawn live with the
//! ground-truth contour, per-image figures, and exports; below it, the paper's map and the default
//! map side by side. Overlays are drawn by `export::overlay_on`, the very code `vaelens export` uses,
//! each with a colour bar of its scale. The worker reads the test image (once per selection); the
//! panel keeps it for redraws. A collapsed model's latent-based maps are flagged as meaningless.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use image::RgbaImage;

use super::attention::colormap_combo;
use super::colorbar::colour_bar;
use super::output_paths;
use super::shared::{Action, Shared, Write};
use super::textures;
use crate::engine::{Command, ScoredSet};
use crate::eval::ScoredTest;
use crate::explain::methods::GradCamMu;
use crate::explain::{DEFAULT_METHOD, MethodId, PAPER_METHOD, anomaly_method};
use crate::export::{ExportError, overlay_on};
use crate::map::FloatMap;
use crate::render::{Colormap, OverlayOptions, Scale, human, human32, mask_from_threshold};

#[derive(Clone, PartialEq)]
struct RenderKey {
    set: usize,
    test: usize,
    method: MethodId,
    threshold: u32,
    cmap: Colormap,
    opacity_pct: u32,
    show_truth: bool,
}

/// Figures of the selected image at the current threshold.
#[derive(Debug, Clone, Default)]
pub struct ImageFigures {
    pub predicted_pixels: usize,
    pub truth_pixels: usize,
    pub overlap: usize,
    pub image_score: f64,
}

impl ImageFigures {
    /// Intersection over union of the predicted and the ground-truth masks.
    pub fn iou(&self) -> f64 {
        let union = self.predicted_pixels + self.truth_pixels - self.overlap;
        self.overlap as f64 / union.max(1) as f64
    }
}

/// An overlay on screen, its figures, its colour scale, and what it was drawn from.
#[derive(Default)]
struct Overlay {
    texture: Option<egui::TextureHandle>,
    figures: Option<ImageFigures>,
    /// The heat map's scale: this image's lowest to highest score.
    scale: Option<Scale>,
    drawn: Option<RenderKey>,
}

/// The test image the worker read for the panel: on screen, and as RGBA for drawing overlays.
struct LoadedImage {
    path: PathBuf,
    rgba: RgbaImage,
    texture: egui::TextureHandle,
}

/// The paper's map (docs/method.md §3 Eq. 4; its overall attention map `gradcam-mu` when Eq. 4 is
/// itself the default) and the default map, when both were scored.
fn compared_methods(set: &ScoredSet) -> Option<[MethodId; 2]> {
    let paper = if DEFAULT_METHOD == PAPER_METHOD {
        GradCamMu::ID
    } else {
        PAPER_METHOD
    };
    let scored = |id| set.method_ids.contains(&id).then_some(id);
    Some([scored(paper)?, scored(DEFAULT_METHOD)?])
}

/// The lowest and highest finite score of `method` over the test set ((0, 1) when it has none).
fn score_range(set: &ScoredSet, method: MethodId) -> (f32, f32) {
    let (lo, hi) = set
        .tests
        .iter()
        .filter_map(|t| t.maps.get(&method))
        .flat_map(|m| m.scores.iter().copied())
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo <= hi { (lo, hi) } else { (0.0, 1.0) }
}

pub struct AnomalyPanel {
    /// The method shown (one of `ScoredSet::method_ids`).
    pub method: MethodId,
    /// Threshold per method (scores differ in scale between methods).
    pub thresholds: BTreeMap<MethodId, f32>,
    /// Score range per method over the test set: the slider's range.
    pub ranges: BTreeMap<MethodId, (f32, f32)>,
    pub cmap: Colormap,
    pub opacity: f32,
    pub show_truth: bool,
    /// Show the paper's map and the default map side by side.
    pub compare: bool,
    pub export_path: String,
    pub export_dir: String,
    /// The selected method's overlay, then the two compared maps.
    overlays: [Overlay; 3],
    /// The selected test image, so threshold drags do not read it again.
    image: Option<LoadedImage>,
    /// The image asked of the worker and not yet arrived.
    requested: Option<PathBuf>,
}

impl Default for AnomalyPanel {
    fn default() -> Self {
        Self {
            method: DEFAULT_METHOD,
            thresholds: BTreeMap::new(),
            ranges: BTreeMap::new(),
            cmap: Colormap::Turbo,
            opacity: 0.5,
            show_truth: true,
            compare: true,
            export_path: String::new(),
            export_dir: String::new(),
            overlays: Default::default(),
            image: None,
            requested: None,
        }
    }
}

impl AnomalyPanel {
    /// New maps: thresholds start at each method's F1-max threshold (or mid-range).
    pub fn on_scored(&mut self, set: &ScoredSet) {
        self.ranges = set
            .method_ids
            .iter()
            .map(|&id| (id, score_range(set, id)))
            .collect();
        self.thresholds = self
            .ranges
            .iter()
            .map(|(&id, &(lo, hi))| {
                let f1 = set
                    .evaluations
                    .get(&id)
                    .and_then(|e| e.overall.f1_threshold);
                (id, f1.map_or(0.5 * (lo + hi), |t| t as f32))
            })
            .collect();
        if !set.method_ids.contains(&self.method) {
            self.method = DEFAULT_METHOD;
        }
        self.overlays = Default::default();
    }

    /// The test image the worker read (`Command::LoadImage`), if it is the one asked for.
    pub fn on_image(&mut self, ctx: &egui::Context, path: PathBuf, rgba: RgbaImage) {
        if self.requested.as_ref() != Some(&path) {
            return;
        }
        self.requested = None;
        let texture = textures::texture(ctx, "anomaly:original", &rgba);
        self.image = Some(LoadedImage {
            path,
            rgba,
            texture,
        });
    }

    pub fn threshold(&self) -> Option<f32> {
        self.thresholds.get(&self.method).copied()
    }

    pub fn set_threshold(&mut self, t: f32) {
        if let Some(slot) = self.thresholds.get_mut(&self.method) {
            *slot = t;
        }
    }

    /// Figures of the selected image and method at the current threshold, once drawn.
    pub fn figures(&self) -> Option<&ImageFigures> {
        self.overlays[0].figures.as_ref()
    }

    pub fn overlay_options(&self) -> OverlayOptions {
        self.options_for(self.method)
    }

    fn options_for(&self, method: MethodId) -> OverlayOptions {
        OverlayOptions {
            cmap: self.cmap,
            opacity: self.opacity,
            threshold: self.thresholds.get(&method).copied(),
            ..OverlayOptions::default()
        }
    }

    fn selected_test<'a>(shared: &Shared, set: &'a ScoredSet) -> Option<(usize, &'a ScoredTest)> {
        let path = shared.selected.as_ref()?;
        set.tests.iter().enumerate().find(|(_, t)| &t.path == path)
    }

    /// The overlay of the selected image as exported (ground truth included when shown), once
    /// the worker has read the image.
    pub fn current_overlay(&self, shared: &Shared) -> Option<RgbaImage> {
        let set = shared.scored.as_ref()?;
        let (_, test) = Self::selected_test(shared, set)?;
        self.overlay_of(test, self.method)?.ok()
    }

    /// The overlay of `method`'s map of `test`, at that method's threshold; None until the
    /// worker has read the image.
    fn overlay_of(
        &self,
        test: &ScoredTest,
        method: MethodId,
    ) -> Option<Result<RgbaImage, ExportError>> {
        let image = self.image.as_ref().filter(|i| i.path == test.path)?;
        let options = self.options_for(method);
        Some(overlay_on(
            &image.rgba,
            test,
            method,
            &options,
            self.show_truth,
        ))
    }

    fn figures_of(&self, test: &ScoredTest, method: MethodId) -> Option<ImageFigures> {
        let scores = test.maps.get(&method)?;
        let map = FloatMap::from_raw(test.width, test.height, scores.scores.clone())
            .unwrap_or_else(|| FloatMap::new(test.width, test.height));
        let threshold = self
            .thresholds
            .get(&method)
            .copied()
            .unwrap_or(f32::INFINITY);
        let (mask, predicted_pixels) = mask_from_threshold(&map, threshold);
        let (truth_pixels, overlap) = match &test.mask {
            Some(truth) => (
                truth.iter().filter(|&&t| t).count(),
                truth
                    .iter()
                    .zip(mask.as_raw())
                    .filter(|&(&t, &p)| t && p != 0)
                    .count(),
            ),
            None => (0, 0),
        };
        Some(ImageFigures {
            predicted_pixels,
            truth_pixels,
            overlap,
            image_score: scores.image_score,
        })
    }

    /// Redraws the overlays on screen whose method, threshold or look changed.
    fn render(
        &mut self,
        ctx: &egui::Context,
        shared: &mut Shared,
        set: &Arc<ScoredSet>,
        index: usize,
    ) {
        let test = &set.tests[index];
        if self.image.as_ref().is_none_or(|i| i.path != test.path) {
            if self.requested.as_ref() != Some(&test.path) {
                shared.send(Command::LoadImage(test.path.clone()));
                self.requested = Some(test.path.clone());
                // The previous image's overlays and figures are not this one's.
                self.overlays = Default::default();
            }
            return;
        }
        // An answer still on its way for an image selected before is not wanted.
        self.requested = None;
        let compared = compared_methods(set).filter(|_| self.compare);
        let methods = std::iter::once(self.method).chain(compared.into_iter().flatten());
        for (slot, method) in methods.enumerate() {
            let key = RenderKey {
                set: Arc::as_ptr(set) as usize,
                test: index,
                method,
                threshold: self
                    .thresholds
                    .get(&method)
                    .copied()
                    .unwrap_or(0.0)
                    .to_bits(),
                cmap: self.cmap,
                opacity_pct: (self.opacity * 100.0).round() as u32,
                show_truth: self.show_truth,
            };
            if self.overlays[slot].drawn.as_ref() == Some(&key) {
                continue;
            }
            let figures = self.figures_of(test, method);
            let scale = test.maps.get(&method).and_then(|m| {
                FloatMap::from_raw(test.width, test.height, m.scores.clone())
                    .map(|map| Scale::of(&map))
            });
            let Some(drawn) = self.overlay_of(test, method) else {
                return;
            };
            let overlay = &mut self.overlays[slot];
            overlay.figures = figures;
            overlay.scale = scale;
            overlay.drawn = Some(key);
            match (drawn, &mut overlay.texture) {
                (Err(e), _) => shared.error(e.to_string()),
                (Ok(img), Some(tex)) => {
                    tex.set(textures::color_image(&img), egui::TextureOptions::LINEAR)
                }
                (Ok(img), None) => {
                    overlay.texture = Some(textures::texture(ctx, format!("anomaly:{slot}"), &img))
                }
            }
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let Some(set) = shared.scored.clone() else {
            ui.label(match (&shared.model, &shared.data, shared.scoring) {
                (None, _, _) => {
                    "No model: train one in the Training panel or load a checkpoint.".to_string()
                }
                (_, Some(d), _) if d.category.test.is_empty() => {
                    "This data set has no test split (CAT/test/<defect>/): nothing to inspect."
                        .to_string()
                }
                (_, _, Some((done, total))) => {
                    format!("Computing anomaly maps: {done}/{total} test images...")
                }
                _ => "Waiting for anomaly maps...".to_string(),
            });
            return;
        };
        if shared.is_collapsed() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "Collapsed latent: no dimension of this model is active, so the maps built \
                     from it ({}, {}) are blank and mean nothing; a threshold of 0 marks every \
                     pixel. Use {} or recon, or train again (Training panel).",
                    PAPER_METHOD,
                    GradCamMu::ID,
                    DEFAULT_METHOD
                ),
            );
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("Map");
            for &id in &set.method_ids {
                let summary = anomaly_method(id.as_str()).map(|m| m.summary());
                ui.selectable_value(&mut self.method, id, id.as_str())
                    .on_hover_text(summary.unwrap_or("a baseline"));
            }
            ui.separator();
            colormap_combo(ui, &mut self.cmap);
            ui.add(egui::Slider::new(&mut self.opacity, 0.0..=1.0).text("Opacity"))
                .on_hover_text("How strongly the heat map covers the image");
            ui.checkbox(&mut self.show_truth, "Ground-truth contour")
                .on_hover_text("Outline the defect's true extent (magenta), where a mask exists");
            ui.checkbox(&mut self.compare, "Compare paper's map with default")
                .on_hover_text("Show the paper's map and the default map side by side below");
        });
        if let (Some(&(lo, hi)), Some(t)) = (
            self.ranges.get(&self.method),
            self.thresholds.get_mut(&self.method),
        ) {
            ui.horizontal(|ui| {
                ui.spacing_mut().slider_width = 420.0;
                ui.add(
                    egui::Slider::new(t, lo..=hi)
                        .text("Threshold")
                        .custom_formatter(|v, _| human(v)),
                )
                .on_hover_text(
                    "Pixels scoring at or above this are predicted anomalous (white outline); \
                     shared with the Metrics panel",
                );
                if let Some(f1) = set
                    .evaluations
                    .get(&self.method)
                    .and_then(|e| e.overall.f1_threshold)
                    && ui
                        .button(format!("F1-max threshold ({})", human(f1)))
                        .on_hover_text("The threshold with the best pixel F1 over the test set")
                        .clicked()
                {
                    *t = f1 as f32;
                }
            });
        }
        let Some((index, test)) = Self::selected_test(shared, &set) else {
            ui.label("Pick a test image on the left (Up/Down step through them).");
            return;
        };
        let test = test.clone();
        self.render(ui.ctx(), shared, &set, index);
        let compared = compared_methods(&set).filter(|_| self.compare);
        ui.horizontal_top(|ui| {
            let height = ui.available_height() - 80.0;
            // Leaves the comparison row below about 45% of the height.
            let side = if compared.is_some() {
                0.55 * height
            } else {
                height
            }
            .clamp(200.0, 520.0);
            ui.vertical(|ui| {
                ui.strong("Image");
                if let Some(image) = self.image.as_ref().filter(|i| i.path == test.path) {
                    textures::show(ui, &image.texture, side * 0.6);
                }
            });
            ui.vertical(|ui| {
                ui.strong(format!(
                    "{} overlay: white = predicted mask, magenta = ground truth",
                    self.method
                ));
                if let Some(tex) = &self.overlays[0].texture {
                    textures::show(ui, tex, side);
                }
                if let Some(scale) = self.overlays[0].scale {
                    colour_bar(
                        ui,
                        self.cmap,
                        scale,
                        side,
                        &format!("{} score", self.method),
                    );
                }
            });
            ui.vertical(|ui| {
                ui.strong("This image");
                ui.label(format!("{} / {}", test.defect, test.stem()));
                ui.label(format!("{} x {} px", test.width, test.height));
                if let Some(f) = self.figures() {
                    ui.label(format!("image score: {}", human(f.image_score)));
                    ui.label(format!("predicted pixels: {}", f.predicted_pixels));
                    if test.mask.is_some() {
                        ui.label(format!("ground-truth pixels: {}", f.truth_pixels));
                        ui.label(format!("IoU: {:.3}", f.iou()));
                        ui.label(format!(
                            "pixel recall: {:.3}",
                            f.overlap as f64 / f.truth_pixels.max(1) as f64
                        ));
                    } else if test.defect == "good" {
                        ui.label("normal image: every predicted pixel is a false positive");
                    } else {
                        ui.label("no ground-truth mask");
                    }
                }
                ui.label("Image scores per method:");
                for id in &set.method_ids {
                    if let Some(scores) = test.maps.get(id) {
                        ui.label(format!("  {id}: {}", human(scores.image_score)));
                    }
                }
                ui.separator();
                ui.strong("Export");
                textures::labelled(
                    ui,
                    "Overlay file",
                    egui::TextEdit::singleline(&mut self.export_path).desired_width(220.0),
                )
                .on_hover_text("Where this image's overlay goes (you are asked before replacing)");
                if ui
                    .button("Save this overlay (PNG)")
                    .on_hover_text("The overlay as shown, at the image's own size")
                    .clicked()
                {
                    let path = output_paths::typed_path(&self.export_path);
                    shared.actions.push(Action::Write(Write::Overlay(path)));
                }
                textures::labelled(
                    ui,
                    "Overlay folder",
                    egui::TextEdit::singleline(&mut self.export_dir).desired_width(220.0),
                )
                .on_hover_text("Overlays go to FOLDER/<defect>/<stem>.png, as `vaelens export`");
                if ui
                    .button("Export all test overlays")
                    .on_hover_text("Every test image's overlay of this map at this threshold")
                    .clicked()
                {
                    let dir = output_paths::typed_path(&self.export_dir);
                    shared.actions.push(Action::Write(Write::AllOverlays(dir)));
                }
                if let Some((done, total)) = shared.export {
                    ui.add(
                        egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                            .text(format!("{done}/{total}")),
                    );
                }
            });
        });
        let Some(compared) = compared else {
            return;
        };
        ui.separator();
        let [paper, default] = compared;
        let captions = [
            format!("paper's map: {paper} (stage {})", set.stage),
            format!("default map: {default}"),
        ];
        ui.horizontal_top(|ui| {
            let side = (ui.available_height() - 50.0).clamp(160.0, 400.0);
            for ((method, overlay), caption) in
                compared.into_iter().zip(&self.overlays[1..]).zip(captions)
            {
                ui.vertical(|ui| {
                    let summary = anomaly_method(method.as_str()).map(|a| a.summary());
                    ui.strong(caption)
                        .on_hover_text(summary.unwrap_or_default());
                    if let Some(tex) = &overlay.texture {
                        textures::show(ui, tex, side);
                    }
                    if let Some(scale) = overlay.scale {
                        colour_bar(ui, self.cmap, scale, side, &format!("{method} score"));
                    }
                    if let Some(f) = &overlay.figures {
                        let hits = match test.mask {
                            Some(_) => format!("IoU {:.3}", f.iou()),
                            None => format!("{} px flagged", f.predicted_pixels),
                        };
                        let threshold = self.thresholds.get(&method).copied();
                        ui.label(format!(
                            "score {}, threshold {}, {hits}",
                            human(f.image_score),
                            threshold.map_or("-".into(), human32)
                        ));
                    }
                });
            }
        });
    }
}
