//! Data panel: open a folder (dialog, drag-and-drop or a typed path), see its splits and defect
//! types with counts and thumbnails, its notes, and every load error.

use std::collections::HashMap;
use std::path::PathBuf;

use crossbeam_channel::{Receiver, Sender, unbounded};
use eframe::egui;
use image::RgbaImage;

use super::shared::Shared;
use super::textures;

pub struct DataPanel {
    pub path_text: String,
    pub thumbnails: HashMap<PathBuf, egui::TextureHandle>,
    /// Categories of an MVTec root, when the opened folder is one.
    pub categories: Vec<PathBuf>,
    picked_tx: Sender<Option<PathBuf>>,
    picked_rx: Receiver<Option<PathBuf>>,
    dialog_open: bool,
}

impl Default for DataPanel {
    fn default() -> Self {
        let (picked_tx, picked_rx) = unbounded();
        Self {
            path_text: String::new(),
            thumbnails: HashMap::new(),
            categories: Vec::new(),
            picked_tx,
            picked_rx,
            dialog_open: false,
        }
    }
}

impl DataPanel {
    pub fn set_thumbnails(&mut self, ctx: &egui::Context, list: Vec<(PathBuf, RgbaImage)>) {
        for (path, img) in list {
            let tex = textures::texture(ctx, format!("thumb:{}", path.display()), &img);
            self.thumbnails.insert(path, tex);
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        if let Ok(picked) = self.picked_rx.try_recv() {
            self.dialog_open = false;
            if let Some(dir) = picked {
                self.path_text = dir.display().to_string();
                shared.open_data(&dir);
            }
        }
        ui.heading("Data set");
        ui.horizontal(|ui| {
            let edit = textures::labelled(
                ui,
                "Folder:",
                egui::TextEdit::singleline(&mut self.path_text)
                    .hint_text("path to an MVTec category or a folder of images")
                    .desired_width(420.0),
            );
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Open").clicked() || enter {
                let dir = PathBuf::from(self.path_text.trim());
                shared.open_data(&dir);
            }
            if ui
                .add_enabled(!self.dialog_open, egui::Button::new("Browse..."))
                .clicked()
            {
                self.dialog_open = true;
                let tx = self.picked_tx.clone();
                // The dialog blocks its thread; where no portal exists it returns None.
                std::thread::spawn(move || {
                    let _ = tx.send(rfd::FileDialog::new().pick_folder());
                });
            }
        });
        ui.small("...or drop a folder (or a .safetensors checkpoint) onto the window.");
        if !self.categories.is_empty() {
            ui.separator();
            ui.label("This folder holds several categories; pick one:");
            ui.horizontal_wrapped(|ui| {
                for dir in self.categories.clone() {
                    let name = dir
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if ui.button(name).clicked() {
                        self.path_text = dir.display().to_string();
                        shared.open_data(&dir);
                    }
                }
            });
        }
        ui.separator();
        egui::ScrollArea::vertical().show(ui, |ui| {
            match shared.data.clone() {
                None => {
                    ui.label("No data set open.");
                }
                Some(data) => {
                    let category = &data.category;
                    ui.label(format!(
                        "{} ({:?} layout) at {}",
                        category.name,
                        category.kind,
                        category.root.display()
                    ));
                    egui::Grid::new("groups").striped(true).show(ui, |ui| {
                        ui.strong("split / defect");
                        ui.strong("images");
                        ui.strong("masks");
                        ui.strong("first images");
                        ui.end_row();
                        for group in &data.groups {
                            ui.label(&group.name);
                            ui.label(group.images.len().to_string());
                            ui.label(if group.name == "train" || group.name == "good" {
                                "-".to_string()
                            } else {
                                group.masks.to_string()
                            });
                            ui.horizontal(|ui| {
                                for path in group.images.iter().take(8) {
                                    if let Some(tex) = self.thumbnails.get(path) {
                                        let r = textures::show(ui, tex, 48.0)
                                            .on_hover_text(path.display().to_string());
                                        if r.clicked() {
                                            shared.select(path.clone());
                                        }
                                    }
                                }
                            });
                            ui.end_row();
                        }
                    });
                    if category.test.is_empty() {
                        ui.colored_label(
                            egui::Color32::from_rgb(220, 180, 80),
                            "No test split: anomaly maps and metrics need CAT/test/<defect>/ images.",
                        );
                    }
                    for note in &category.notes {
                        ui.label(format!("note: {note}"));
                    }
                }
            }
            ui.separator();
            ui.horizontal(|ui| {
                ui.heading(format!("Load errors ({})", shared.errors.len()));
                if !shared.errors.is_empty() && ui.button("Clear").clicked() {
                    shared.errors.clear();
                }
            });
            if shared.errors.is_empty() {
                ui.label("none");
            }
            for error in &shared.errors {
                ui.colored_label(egui::Color32::from_rgb(230, 90, 90), error);
            }
        });
    }
}
