//! Data panel: open a folder (dialog, drag-and-drop or a typed path), see its splits and defect
//! types with counts and thumbnails, its notes, and every load error. Where no file dialog can
//! open (no xdg-desktop-portal or zenity), the panel says so and puts the cursor in the path field.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};
use eframe::egui;
use image::RgbaImage;

use super::shared::Shared;
use super::textures;
use crate::data::dsprites::GALLERY_ROOT;

/// Answers faster than this come from a dialog that never showed: no person cancels that fast.
const NO_DIALOG: Duration = Duration::from_millis(700);

/// Asks the user for a folder (blocking its thread); None when cancelled or when no dialog
/// could open.
pub type FolderPicker = fn() -> Option<PathBuf>;

fn system_dialog() -> Option<PathBuf> {
    rfd::FileDialog::new().pick_folder()
}

pub struct DataPanel {
    pub path_text: String,
    pub thumbnails: HashMap<PathBuf, egui::TextureHandle>,
    /// Categories of an MVTec root, when the opened folder is one.
    pub categories: Vec<PathBuf>,
    /// The folder dialog behind Browse (the system's; tests put another).
    pub pick_folder: FolderPicker,
    /// What the last Browse came to, when it picked nothing.
    pub browse_note: Option<String>,
    picked_tx: Sender<Option<PathBuf>>,
    picked_rx: Receiver<Option<PathBuf>>,
    /// When the dialog was opened, while it is open.
    dialog_since: Option<Instant>,
    focus_path: bool,
}

impl Default for DataPanel {
    fn default() -> Self {
        let (picked_tx, picked_rx) = unbounded();
        Self {
            path_text: String::new(),
            thumbnails: HashMap::new(),
            categories: Vec::new(),
            pick_folder: system_dialog,
            browse_note: None,
            picked_tx,
            picked_rx,
            dialog_since: None,
            focus_path: false,
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

    /// The dialog's answer: a folder to open, or a note on why nothing was picked.
    fn on_picked(&mut self, picked: Option<PathBuf>, shared: &mut Shared) {
        let waited = self.dialog_since.take().map(|t| t.elapsed());
        match picked {
            Some(dir) => {
                self.browse_note = None;
                self.path_text = dir.display().to_string();
                shared.open_data(&dir);
            }
            None => {
                self.focus_path = true;
                self.browse_note = Some(if waited.is_some_and(|w| w < NO_DIALOG) {
                    "No folder dialog could open on this system (it needs xdg-desktop-portal \
                     or zenity). Type the folder's path in the Folder field and press Open, or \
                     drop the folder onto the window."
                        .into()
                } else {
                    "No folder picked. You can also type its path in the Folder field and press \
                     Open."
                        .into()
                });
            }
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        if let Ok(picked) = self.picked_rx.try_recv() {
            self.on_picked(picked, shared);
        }
        ui.heading("Data set");
        ui.horizontal(|ui| {
            let edit = textures::labelled(
                ui,
                "Folder:",
                egui::TextEdit::singleline(&mut self.path_text)
                    .hint_text("path to an MVTec category or a folder of images")
                    .desired_width(420.0),
            )
            .on_hover_text(
                "An MVTec AD category (train/, test/, ground_truth/) or any folder of images",
            );
            if std::mem::take(&mut self.focus_path) {
                edit.request_focus();
            }
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui
                .button("Open")
                .on_hover_text("Open the folder typed on the left")
                .clicked()
                || enter
            {
                let dir = PathBuf::from(self.path_text.trim());
                shared.open_data(&dir);
            }
            let browse = ui
                .add_enabled(self.dialog_since.is_none(), egui::Button::new("Browse..."))
                .on_hover_text("Pick the folder in the system's file dialog");
            if browse.clicked() {
                self.dialog_since = Some(Instant::now());
                self.browse_note = None;
                let (tx, pick) = (self.picked_tx.clone(), self.pick_folder);
                let repaint = ui.ctx().clone();
                // The dialog blocks its thread; where no dialog can open it returns None at once.
                std::thread::spawn(move || {
                    let _ = tx.send(pick());
                    repaint.request_repaint();
                });
            }
        });
        if let Some(note) = &self.browse_note {
            ui.colored_label(ui.visuals().warn_fg_color, note);
        }
        ui.small("...or drop a folder (or a .safetensors checkpoint) onto the window.");
        ui.horizontal(|ui| {
            if ui
                .button("Open dSprites (built in)")
                .on_hover_text(
                    "The disentanglement benchmark of the paper's second half, rendered on                      demand: train beta-VAE, FactorVAE or AD-FactorVAE on it in the Training                      panel and read the FactorVAE score and MIG in the Metrics panel",
                )
                .clicked()
            {
                self.path_text = GALLERY_ROOT.into();
                shared.open_data(std::path::Path::new(GALLERY_ROOT));
            }
            ui.small("(also `vaelens dsprites:` on the command line)");
        });
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
