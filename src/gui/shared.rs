//! State every panel reads: the data set, the model, the selected image and what the worker has
//! computed for it, messages and errors, and the actions panels ask the app to carry out.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::Sender;
use eframe::egui;

use crate::data::dsprites::{GALLERY_ROOT, is_gallery_path};
use crate::engine::{
    Command, DataSummary, DspritesTrainRequest, Explained, ModelInfo, ScoredSet, TrainRequest,
};
use crate::eval::dsprites::DspritesReport;
use crate::explain::cam::DEFAULT_CAM;

/// A file the user asked to write; the app asks before replacing an existing one.
#[derive(Debug, Clone)]
pub enum Write {
    Checkpoint(PathBuf),
    Overlay(PathBuf),
    AllOverlays(PathBuf),
    Report(PathBuf),
    Grid(PathBuf),
    Screenshot(PathBuf),
    /// A training run into a run directory that already holds a model.
    Train(Box<TrainRequest>),
    /// A dSprites run into a run directory that already holds a model.
    DspritesTrain(Box<DspritesTrainRequest>),
}

impl Write {
    /// Whether carrying it out would replace something on disk (an export folder counts only
    /// when it already has files in it).
    pub fn would_replace(&self) -> bool {
        match self {
            Write::AllOverlays(dir) => std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()),
            // Continuing a run is what its folder is for.
            Write::DspritesTrain(r) if r.resume => false,
            other => other.target().exists(),
        }
    }

    /// The file (or folder) that would be replaced.
    pub fn target(&self) -> PathBuf {
        match self {
            Write::Checkpoint(p)
            | Write::Overlay(p)
            | Write::Report(p)
            | Write::Grid(p)
            | Write::Screenshot(p) => p.clone(),
            Write::AllOverlays(p) => p.clone(),
            Write::Train(r) => r.run_dir.join(crate::checkpoint::MODEL_FILE),
            Write::DspritesTrain(r) => r.run_dir.join(crate::checkpoint::MODEL_FILE),
        }
    }
}

/// What a panel asks the app to do after drawing.
#[derive(Debug)]
pub enum Action {
    Send(Command),
    Write(Write),
    Confirmed(Write),
}

/// Image, stage, model generation, patch window and CAM rule of an explain request.
type ExplainRequest = (PathBuf, usize, u64, Option<(usize, usize)>, &'static str);

pub struct Shared {
    commands: Sender<Command>,
    pub backend: String,
    pub backend_is_gpu: bool,
    pub data: Option<Arc<DataSummary>>,
    pub model: Option<Arc<ModelInfo>>,
    pub selected: Option<PathBuf>,
    pub explained: Option<Arc<Explained>>,
    pub scored: Option<Arc<ScoredSet>>,
    /// Encoder stage explained (attention and anomaly maps).
    pub stage: usize,
    /// The CAM rule of the attention maps (an id from `explain::cam::cam_methods`).
    pub cam: &'static str,
    /// A patch model's window to explain (top-left corner in image-size pixels, one of the
    /// tiling's positions); None for the centre one.
    pub window: Option<(usize, usize)>,
    pub scoring: Option<(usize, usize)>,
    pub export: Option<(usize, usize)>,
    pub errors: Vec<String>,
    pub message: Option<String>,
    pub last_written: Vec<PathBuf>,
    pub actions: Vec<Action>,
    pub confirm: Option<Write>,
    pub screenshot_path: String,
    pub report_path: String,
    /// The disentanglement figures and the model generation they are of.
    pub disentanglement: Option<(u64, Arc<DspritesReport>)>,
    /// Images encoded so far and in all, while the figures are computed.
    pub disentangling: Option<(usize, usize)>,
    /// When the figures were asked for (for their ETA).
    pub disentangling_since: Option<std::time::Instant>,
    /// Explain request in flight.
    requested: Option<ExplainRequest>,
    scoring_requested: Option<(usize, u64)>,
    scroll_to_selected: bool,
}

impl Shared {
    pub fn new(commands: Sender<Command>) -> Self {
        Self {
            commands,
            backend: String::new(),
            backend_is_gpu: false,
            data: None,
            model: None,
            selected: None,
            explained: None,
            scored: None,
            stage: usize::MAX,
            cam: DEFAULT_CAM,
            window: None,
            scoring: None,
            export: None,
            errors: Vec::new(),
            message: None,
            last_written: Vec::new(),
            actions: Vec::new(),
            confirm: None,
            screenshot_path: String::new(),
            report_path: String::new(),
            disentanglement: None,
            disentangling: None,
            disentangling_since: None,
            requested: None,
            scoring_requested: None,
            scroll_to_selected: false,
        }
    }

    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.message = Some(text.into());
    }

    pub fn error(&mut self, text: String) {
        tracing::warn!("{text}");
        self.errors.push(text);
    }

    /// Opens a data folder, or the built-in dSprites gallery for `dsprites:`.
    pub fn open_data(&mut self, dir: &Path) {
        if is_gallery_path(dir) {
            self.send(Command::OpenDsprites);
        } else {
            self.send(Command::OpenData(dir.to_path_buf()));
        }
    }

    /// The open data set is the built-in dSprites gallery.
    pub fn is_dsprites(&self) -> bool {
        self.data
            .as_ref()
            .is_some_and(|d| d.category.root.as_os_str() == GALLERY_ROOT)
    }

    pub fn set_data(&mut self, summary: Arc<DataSummary>) {
        self.data = Some(summary);
        self.selected = None;
        self.explained = None;
        self.scored = None;
        self.requested = None;
        self.scoring_requested = None;
    }

    pub fn set_model(&mut self, info: Arc<ModelInfo>) {
        if self.stage >= info.config.stage_count() || info.tiling.is_some() {
            self.stage = info.default_stage;
        }
        self.model = Some(info);
        self.window = None;
        self.requested = None;
        self.scoring_requested = None;
    }

    pub fn set_explained(&mut self, explained: Arc<Explained>) {
        if Some(&explained.path) == self.selected.as_ref() {
            self.explained = Some(explained);
        }
    }

    pub fn set_scored(&mut self, set: Arc<ScoredSet>) {
        if self
            .model
            .as_ref()
            .is_some_and(|m| m.generation == set.generation)
        {
            self.scored = Some(set);
        }
    }

    /// The model's latent has collapsed: no unit was active after its last epoch of training.
    pub fn is_collapsed(&self) -> bool {
        self.model
            .as_ref()
            .is_some_and(|m| m.active_units() == Some(0))
    }

    pub fn generation(&self) -> u64 {
        self.model.as_ref().map_or(0, |m| m.generation)
    }

    /// Test images first (they have anomaly maps), then training images.
    pub fn all_images(&self, test_only: bool) -> Vec<(String, PathBuf)> {
        let Some(data) = &self.data else {
            return Vec::new();
        };
        let mut groups: Vec<_> = data.groups.iter().filter(|g| g.name != "train").collect();
        if !test_only {
            groups.extend(data.groups.iter().filter(|g| g.name == "train"));
        }
        groups
            .into_iter()
            .flat_map(|g| g.images.iter().map(|p| (g.name.clone(), p.clone())))
            .collect()
    }

    pub fn select(&mut self, path: PathBuf) {
        if self.selected.as_ref() != Some(&path) {
            self.selected = Some(path);
            self.explained = None;
            self.scroll_to_selected = true;
        }
    }

    /// Requests what the current selection and model need and the worker has not sent yet.
    pub fn before_frame(&mut self) {
        let Some(model) = &self.model else {
            return;
        };
        let generation = model.generation;
        if self.selected.is_none()
            && let Some((_, first)) = self.all_images(false).into_iter().next()
        {
            self.selected = Some(first);
        }
        if let Some(path) = &self.selected {
            let want = (path.clone(), self.stage, generation, self.window, self.cam);
            let have = self.explained.as_ref().is_some_and(|e| {
                e.path == *path
                    && e.stage == self.stage
                    && e.generation == generation
                    && e.cam == self.cam
                    && (self.window.is_none() || e.window == self.window)
            });
            if !have && self.requested.as_ref() != Some(&want) {
                self.send(Command::Explain {
                    path: path.clone(),
                    stage: self.stage,
                    window: self.window,
                    cam: self.cam,
                });
                self.requested = Some(want);
            }
        }
        let has_tests = self
            .data
            .as_ref()
            .is_some_and(|d| !d.category.test.is_empty());
        let want = (self.stage, generation);
        let have = self
            .scored
            .as_ref()
            .is_some_and(|s| s.stage == self.stage && s.generation == generation);
        if has_tests && !have && self.scoring_requested != Some(want) {
            self.send(Command::Score { stage: self.stage });
            self.scoring_requested = Some(want);
        }
    }

    /// Maps visible: an image is explained.
    pub fn is_ready(&self) -> bool {
        self.explained.is_some() || (self.model.is_some() && self.data.is_none())
    }

    pub fn is_busy(&self) -> bool {
        self.scoring.is_some()
            || self.disentangling.is_some()
            || self.export.is_some()
            || (self.selected.is_some() && self.model.is_some() && self.explained.is_none())
    }

    /// The list of images on the left, grouped by split and defect type.
    pub fn image_browser(&mut self, ui: &mut egui::Ui, test_only: bool) {
        ui.heading("Images");
        let Some(data) = self.data.clone() else {
            ui.label("No data: open a folder in the Data panel.");
            return;
        };
        ui.small("Up/Down step through images");
        let mut clicked = None;
        let scroll = std::mem::take(&mut self.scroll_to_selected);
        egui::ScrollArea::vertical().show(ui, |ui| {
            let groups = data.groups.iter().filter(|g| g.name != "train").chain(
                data.groups
                    .iter()
                    .filter(|g| g.name == "train" && !test_only),
            );
            for group in groups {
                egui::CollapsingHeader::new(format!("{} ({})", group.name, group.images.len()))
                    .id_salt(("group", &group.name))
                    .default_open(group.name != "train" || data.groups.len() == 1)
                    .show(ui, |ui| {
                        for path in &group.images {
                            let is_selected = self.selected.as_ref() == Some(path);
                            let name = path
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            let response = ui
                                .selectable_label(is_selected, format!("{}/{}", group.name, name));
                            if is_selected && scroll {
                                response.scroll_to_me(None);
                            }
                            if response.clicked() {
                                clicked = Some(path.clone());
                            }
                        }
                    });
            }
        });
        if let Some(path) = clicked {
            self.select(path);
        }
    }

    /// Up/Down (or J/K) step through the images.
    pub fn step_keys(&mut self, ctx: &egui::Context, test_only: bool) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let (down, up) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowDown) || i.key_pressed(egui::Key::J),
                i.key_pressed(egui::Key::ArrowUp) || i.key_pressed(egui::Key::K),
            )
        });
        if !(down || up) {
            return;
        }
        let images = self.all_images(test_only);
        if images.is_empty() {
            return;
        }
        let current = self
            .selected
            .as_ref()
            .and_then(|s| images.iter().position(|(_, p)| p == s));
        let next = match (current, down) {
            (None, _) => 0,
            (Some(i), true) => (i + 1).min(images.len() - 1),
            (Some(i), false) => i.saturating_sub(1),
        };
        self.select(images[next].1.clone());
    }
}
