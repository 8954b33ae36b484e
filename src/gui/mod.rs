//! The explorer window (eframe/egui): one struct per panel, each with its state kept apart from
//! its drawing, over the worker of [`crate::engine`]. Every frame reads the events that have
//! arrived and draws; nothing here waits on the worker or computes a model.

mod anomaly;
mod attention;
mod colorbar;
mod data;
mod disentanglement;
mod dsprites_training;
mod metrics;
mod output_paths;
mod shared;
mod startup_screenshot;
mod textures;
mod training;
mod traversal;
mod window_error;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, unbounded};
use eframe::egui;

pub use anomaly::AnomalyPanel;
pub use attention::{AttentionPanel, SortBy};
pub use data::DataPanel;
pub use dsprites_training::DspritesTrainingPanel;
pub use metrics::MetricsPanel;
pub use output_paths::OutputPaths;
pub use shared::{Action, Shared};
pub use startup_screenshot::{Readiness, ScreenshotOutcome};
pub use training::TrainingPanel;
pub use traversal::TraversalPanel;

use crate::backend::BackendChoice;
use crate::data::dsprites::is_gallery_path;
use crate::engine::{BackendSource, Command, Engine, Event, TrainingStatus};

/// How the window starts.
#[derive(Debug, Clone, Default)]
pub struct GuiOptions {
    /// Data folder to open; `None`: the bundled sample data when it is found.
    pub data_dir: Option<PathBuf>,
    /// Checkpoint to load; `None`: the bundled model when it is found.
    pub model: Option<PathBuf>,
    pub backend: BackendChoice,
    /// Save a screenshot of the window here once the panel shows what it is for.
    pub screenshot: Option<PathBuf>,
    /// Close the window after that screenshot.
    pub exit_after_screenshot: bool,
    /// How long the window may take to get ready for the screenshot (None: the default).
    pub screenshot_timeout: Option<Duration>,
    /// Where a failed start-up screenshot is reported, for the command line's exit status.
    pub screenshot_outcome: ScreenshotOutcome,
    /// Panel to show first.
    pub tab: Tab,
}

/// The panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Tab {
    Data,
    Training,
    #[default]
    Attention,
    Traversal,
    Anomaly,
    Metrics,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Data,
        Tab::Training,
        Tab::Attention,
        Tab::Traversal,
        Tab::Anomaly,
        Tab::Metrics,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Data => "Data",
            Tab::Training => "Training",
            Tab::Attention => "Attention",
            Tab::Traversal => "Traversal",
            Tab::Anomaly => "Anomaly",
            Tab::Metrics => "Metrics",
        }
    }
}

/// Opens the explorer window and runs it until it is closed.
pub fn run_gui(options: GuiOptions) -> anyhow::Result<()> {
    let (backend, shared_wgpu) = crate::backend::open(options.backend)?;
    tracing::info!("backend: {}", backend.description);
    let mut native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("vaelens explorer")
            .with_inner_size([1400.0, 900.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    if let Some(setup) = shared_wgpu {
        // One device for compute and drawing: burn created it with the adapter's own features
        // and limits, which the window's renderer accepts as they are.
        native.wgpu_options.wgpu_setup =
            egui_wgpu::WgpuSetup::Existing(egui_wgpu::WgpuSetupExisting {
                instance: setup.instance,
                adapter: setup.adapter,
                device: setup.device,
                queue: setup.queue,
            });
    }
    let outcome = options.screenshot_outcome.clone();
    eframe::run_native(
        "vaelens",
        native,
        Box::new(move |cc| {
            Ok(Box::new(App::with_source(
                cc,
                options,
                BackendSource::Ready(backend),
            )))
        }),
    )
    .map_err(|e| anyhow::anyhow!(window_error::explain(&e)))?;
    match outcome.failure() {
        Some(why) => anyhow::bail!(why),
        None => Ok(()),
    }
}

use eframe::egui_wgpu;

/// The explorer application.
pub struct App {
    engine: Engine,
    pub shared: Shared,
    pub tab: Tab,
    pub data: DataPanel,
    pub training: TrainingPanel,
    pub dsprites_training: DspritesTrainingPanel,
    pub attention: AttentionPanel,
    pub traversal: TraversalPanel,
    pub anomaly: AnomalyPanel,
    pub metrics: MetricsPanel,
    screenshot_tx: Sender<Arc<egui::ColorImage>>,
    screenshot_rx: Receiver<Arc<egui::ColorImage>>,
    /// The screenshot asked for on the command line.
    startup_screenshot: Option<startup_screenshot::StartupScreenshot>,
    /// The data folder and model asked for at start, and what came of them.
    startup: startup_screenshot::StartupLoads,
    /// A screenshot asked of the window, to be written here when its image arrives.
    pending_screenshot: Option<PathBuf>,
    /// Default output paths, beside the open data set.
    outputs: OutputPaths,
    started: bool,
    options: GuiOptions,
}

impl App {
    /// The app on the device `options.backend` names (opened by the worker).
    pub fn new(cc: &eframe::CreationContext<'_>, options: GuiOptions) -> Self {
        let choice = options.backend;
        Self::with_source(cc, options, BackendSource::Choice(choice))
    }

    pub fn with_source(
        cc: &eframe::CreationContext<'_>,
        options: GuiOptions,
        source: BackendSource,
    ) -> Self {
        let ctx = cc.egui_ctx.clone();
        let engine = Engine::start(source, Some(Arc::new(move || ctx.request_repaint())));
        let shared = Shared::new(engine.commands.clone());
        let (screenshot_tx, screenshot_rx) = unbounded();
        let startup_screenshot = options.screenshot.clone().map(|path| {
            startup_screenshot::StartupScreenshot::new(
                output_paths::typed_path(&path.display().to_string()),
                options.exit_after_screenshot,
                options.screenshot_timeout,
                options.screenshot_outcome.clone(),
            )
        });
        let mut app = Self {
            engine,
            shared,
            tab: options.tab,
            data: DataPanel::default(),
            training: TrainingPanel::default(),
            dsprites_training: DspritesTrainingPanel::default(),
            attention: AttentionPanel::default(),
            traversal: TraversalPanel::default(),
            anomaly: AnomalyPanel::default(),
            metrics: MetricsPanel,
            screenshot_tx,
            screenshot_rx,
            startup_screenshot,
            startup: Default::default(),
            pending_screenshot: None,
            outputs: OutputPaths::without_data(),
            started: false,
            options,
        };
        app.follow_output_defaults(OutputPaths::without_data(), true);
        app
    }

    /// Moves every output path still at its old default to the new data set's default.
    fn follow_output_defaults(&mut self, new: OutputPaths, first: bool) {
        use output_paths::follow_default;
        let old = std::mem::replace(&mut self.outputs, new);
        let new = &self.outputs;
        let fields: [(&mut String, PathBuf, PathBuf); 8] = [
            (
                &mut self.shared.screenshot_path,
                old.screenshot(),
                new.screenshot(),
            ),
            (&mut self.shared.report_path, old.report(), new.report()),
            (&mut self.anomaly.export_path, old.overlay(), new.overlay()),
            (&mut self.anomaly.export_dir, old.overlays(), new.overlays()),
            (
                &mut self.traversal.export_path,
                old.traversal_grid(),
                new.traversal_grid(),
            ),
            (&mut self.training.run_dir, old.run_dir(), new.run_dir()),
            (
                &mut self.dsprites_training.run_dir,
                old.run_dir(),
                new.run_dir(),
            ),
            (
                &mut self.training.save_path,
                old.checkpoint(),
                new.checkpoint(),
            ),
        ];
        for (field, old, new) in fields {
            if first {
                field.clear();
            }
            follow_default(field, &old, &new);
        }
    }

    /// Sends a command to the worker.
    pub fn send(&self, command: Command) {
        self.shared.send(command);
    }

    /// Opens the data and model given at start (or the bundled ones).
    fn start(&mut self) {
        let data = self
            .options
            .data_dir
            .clone()
            .or_else(|| bundled("sample_data/brick"));
        // The bundled model reads bricks, not sprites: dSprites starts without one.
        let dsprites = data.as_deref().is_some_and(is_gallery_path);
        match data {
            Some(dir) => {
                self.shared.open_data(&dir);
                self.startup.data = startup_screenshot::Load::Pending(dir);
            }
            None => self.shared.info("open a data folder to begin (Data panel)"),
        }
        let model = self
            .options
            .model
            .clone()
            .or_else(|| (!dsprites).then(|| bundled("assets/brick.safetensors"))?);
        match model {
            Some(path) => {
                self.send(Command::LoadModel(path.clone()));
                self.startup.model = startup_screenshot::Load::Pending(path);
            }
            None => self
                .shared
                .info("no model: train one in the Training panel, or load a checkpoint"),
        }
    }

    fn handle_event(&mut self, ctx: &egui::Context, event: Event) {
        match event {
            Event::Backend {
                description,
                is_gpu,
            } => {
                self.shared.backend = description;
                self.shared.backend_is_gpu = is_gpu;
            }
            Event::Data(summary) => {
                let category = &summary.category;
                let outputs = OutputPaths::for_data(&category.root, &category.name);
                self.follow_output_defaults(outputs, false);
                self.shared.set_data(summary);
                self.data.thumbnails.clear();
                self.data.categories.clear();
                self.startup.data.settle();
            }
            Event::Categories(list) => {
                self.data.categories = list;
                self.startup.data.settle();
            }
            Event::Thumbnails(list) => self.data.set_thumbnails(ctx, list),
            Event::Image { path, image } => self.anomaly.on_image(ctx, path, image),
            Event::Model(info) => {
                self.training.on_model(&info);
                self.shared.set_model(info);
                self.startup.model.settle();
            }
            Event::Explained(explained) => self.shared.set_explained(explained),
            Event::Decoded { seq, image } => self.traversal.on_decoded(ctx, seq, image),
            Event::Traversal {
                dims,
                values,
                tiles,
            } => self.traversal.on_grid(ctx, dims, values, tiles),
            Event::ScoringProgress { done, total } => self.shared.scoring = Some((done, total)),
            Event::Scored(set) => {
                self.shared.scoring = None;
                self.anomaly.on_scored(&set);
                self.shared.set_scored(set);
            }
            Event::Train(event) => self.training.on_event(event),
            Event::DspritesStep(report) => self.dsprites_training.on_step(report),
            Event::DisentanglementProgress { done, total } => {
                self.shared.disentangling = Some((done, total));
            }
            Event::Disentanglement { generation, report } => {
                self.shared.disentangling = None;
                self.shared.disentanglement = Some((generation, report));
            }
            Event::Training(status) => {
                if let TrainingStatus::Ended(how) = &status {
                    self.shared.info(format!("training {how}"));
                }
                self.training.status = Some(status);
            }
            Event::ExportProgress { done, total } => self.shared.export = Some((done, total)),
            Event::Written { what, paths } => {
                self.screenshot_written(ctx, &paths);
                self.shared.export = None;
                self.shared.last_written = paths;
                self.shared.info(format!("wrote {what}"));
            }
            Event::Error(e) => {
                self.startup.on_error(&e);
                self.screenshot_write_failed(ctx, &e);
                self.shared.export = None;
                self.shared.error(e);
            }
            Event::Info(text) => self.shared.info(text),
        }
    }

    fn perform(&mut self, ctx: &egui::Context, action: Action) {
        match action {
            Action::Send(command) => self.send(command),
            Action::Confirmed(write) => self.write(ctx, write, true),
            Action::Write(write) => {
                if write.would_replace() {
                    self.shared.confirm = Some(write);
                } else {
                    self.write(ctx, write, false);
                }
            }
        }
    }

    /// Carries out a file write the user asked for (`overwrite`: they agreed to replace it).
    fn write(&mut self, ctx: &egui::Context, write: shared::Write, overwrite: bool) {
        use shared::Write;
        match write {
            Write::Checkpoint(path) => self.send(Command::SaveModel(path)),
            Write::Overlay(path) => match self.anomaly.current_overlay(&self.shared) {
                Some(image) => self.write_png(image, path, "overlay"),
                None => self
                    .shared
                    .error("no overlay to export: pick a scored test image".into()),
            },
            Write::AllOverlays(out) => {
                let options = self.anomaly.overlay_options();
                self.send(Command::ExportOverlays {
                    method: self.anomaly.method,
                    options,
                    out,
                    overwrite,
                });
            }
            Write::Report(path) => self.send(Command::WriteReport(path)),
            Write::Grid(path) => match self.traversal.grid_image.clone() {
                Some(image) => self.write_png(image, path, "traversal grid"),
                None => self.shared.error("no traversal grid yet".into()),
            },
            Write::Screenshot(path) => {
                self.pending_screenshot = Some(path);
                let tx = self.screenshot_tx.clone();
                let repaint = ctx.clone();
                ctx.request_screenshot(move |image| {
                    let _ = tx.send(image);
                    repaint.request_repaint();
                });
            }
            Write::Train(request) => self.send(Command::StartTraining(*request)),
            Write::DspritesTrain(request) => self.send(Command::StartDspritesTraining(*request)),
        }
    }

    /// Asks the worker to write `image` to `path` as a PNG; it answers `Written` or `Error`.
    fn write_png(&self, image: image::RgbaImage, path: PathBuf, what: &str) {
        self.send(Command::WritePng {
            image,
            path,
            what: what.into(),
        });
    }

    fn save_screenshot(&mut self, ctx: &egui::Context, image: &egui::ColorImage) {
        let Some(path) = self.pending_screenshot.take() else {
            return;
        };
        let [w, h] = image.size;
        let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
        match image::RgbaImage::from_raw(w as u32, h as u32, bytes) {
            Some(rgba) => self.write_png(rgba, path, "screenshot"),
            None => {
                let problem = format!("{}: the screenshot has the wrong size", path.display());
                self.screenshot_write_failed(ctx, &problem);
                self.shared.error(problem);
            }
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("vaelens");
            ui.separator();
            for tab in Tab::ALL {
                ui.selectable_value(&mut self.tab, tab, tab.title());
            }
            ui.separator();
            textures::labelled(
                ui,
                "Screenshot to",
                egui::TextEdit::singleline(&mut self.shared.screenshot_path).desired_width(200.0),
            )
            .on_hover_text("Where the window's screenshot goes (you are asked before replacing)");
            if ui
                .button("Save screenshot")
                .on_hover_text("A PNG of the whole window as it is now")
                .clicked()
            {
                let path = output_paths::typed_path(&self.shared.screenshot_path);
                self.shared
                    .actions
                    .push(Action::Write(shared::Write::Screenshot(path)));
            }
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            let colour = if self.shared.backend_is_gpu {
                egui::Color32::from_rgb(90, 200, 90)
            } else {
                egui::Color32::from_rgb(220, 180, 80)
            };
            let backend = if self.shared.backend.is_empty() {
                "opening the compute device...".to_string()
            } else {
                self.shared.backend.clone()
            };
            ui.colored_label(colour, format!("Backend: {backend}"));
            ui.separator();
            match &self.shared.model {
                Some(m) => ui.label(match m.tiling {
                    Some(t) => format!(
                        "Model: {} (D = {}, patch VAE: {} px windows of {} px images)",
                        m.source, m.config.latent_dim, t.window, t.image_size
                    ),
                    None => format!(
                        "Model: {} (D = {}, {} px)",
                        m.source, m.config.latent_dim, m.config.input_size
                    ),
                }),
                None => ui.label("Model: none (train one or load a checkpoint)"),
            };
            ui.separator();
            if let Some(data) = &self.shared.data {
                ui.label(format!("Data: {}", data.category.name));
                ui.separator();
            }
            if let Some((done, total)) = self.shared.scoring {
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .desired_width(160.0)
                        .text(format!("scoring {done}/{total}")),
                );
                ui.separator();
            }
            if let Some(status) = &self.training.status {
                ui.label(format!("Training: {}", training::status_text(status)));
                ui.separator();
            }
            if let Some(err) = self.shared.errors.last() {
                ui.colored_label(
                    egui::Color32::from_rgb(230, 90, 90),
                    format!("{} error(s); last: {err}", self.shared.errors.len()),
                );
            } else if let Some(msg) = &self.shared.message {
                ui.label(msg);
            }
        });
    }

    fn confirm_dialog(&mut self, ctx: &egui::Context) {
        let Some(write) = self.shared.confirm.take() else {
            return;
        };
        let mut answer = None;
        egui::Modal::new(egui::Id::unique("confirm-overwrite")).show(ctx, |ui| {
            ui.heading("Replace existing file?");
            ui.label(format!("{} already exists.", write.target().display()));
            ui.horizontal(|ui| {
                if ui.button("Overwrite").clicked() {
                    answer = Some(true);
                }
                if ui.button("Cancel").clicked() {
                    answer = Some(false);
                }
            });
        });
        match answer {
            Some(true) => self.shared.actions.push(Action::Confirmed(write)),
            Some(false) => {
                if matches!(
                    write,
                    shared::Write::Train(_) | shared::Write::DspritesTrain(_)
                ) {
                    self.training.status = None;
                }
                self.shared.info("not overwritten");
            }
            None => self.shared.confirm = Some(write),
        }
    }

    fn dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            if path.is_dir() {
                self.data.path_text = path.display().to_string();
                self.shared.open_data(&path);
            } else if path.extension().is_some_and(|e| e == "safetensors") {
                self.send(Command::LoadModel(path));
            } else if let Some(parent) = path.parent() {
                self.shared.open_data(parent);
            }
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if !self.started {
            self.started = true;
            self.start();
        }
        while let Ok(event) = self.engine.events.try_recv() {
            self.handle_event(&ctx, event);
        }
        while let Ok(image) = self.screenshot_rx.try_recv() {
            self.save_screenshot(&ctx, &image);
        }
        self.dropped_files(&ctx);
        self.shared.before_frame();

        egui::Panel::top("tabs").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        if matches!(self.tab, Tab::Attention | Tab::Traversal | Tab::Anomaly) {
            let test_only = self.tab == Tab::Anomaly;
            egui::Panel::left("images")
                .resizable(true)
                .default_size(210.0)
                .show(ui, |ui| self.shared.image_browser(ui, test_only));
        }
        egui::CentralPanel::default().show(ui, |ui| match self.tab {
            Tab::Data => self.data.ui(ui, &mut self.shared),
            Tab::Training if self.shared.is_dsprites() => {
                self.dsprites_training
                    .ui(ui, &mut self.shared, &mut self.training.status)
            }
            Tab::Training => self.training.ui(ui, &mut self.shared),
            Tab::Attention => self.attention.ui(ui, &mut self.shared),
            Tab::Traversal => self
                .traversal
                .ui(ui, &mut self.shared, &self.attention.picked),
            Tab::Anomaly => self.anomaly.ui(ui, &mut self.shared),
            Tab::Metrics if self.shared.is_dsprites() => disentanglement::ui(ui, &mut self.shared),
            Tab::Metrics => self.metrics.ui(ui, &mut self.shared, &mut self.anomaly),
        });
        if !matches!(self.tab, Tab::Data | Tab::Training | Tab::Metrics) {
            self.shared.step_keys(&ctx, self.tab == Tab::Anomaly);
        }
        self.confirm_dialog(&ctx);

        for action in std::mem::take(&mut self.shared.actions) {
            self.perform(&ctx, action);
        }
        self.startup_screenshot_step(&ctx);
        let waiting_for_screenshot = self
            .startup_screenshot
            .as_ref()
            .is_some_and(|s| s.is_open());
        // Every event wakes the window at once; this only keeps timers and spinners going,
        // slowly enough to leave the CPU to the work on a machine that draws in software.
        if self.shared.is_busy() || self.training.is_active() || waiting_for_screenshot {
            ctx.request_repaint_after(Duration::from_millis(250));
        }
    }

    fn on_exit(&mut self) {
        self.screenshot_on_exit();
        // Stops training (which saves its checkpoint atomically) and waits for the worker.
        self.engine.shutdown();
    }
}

/// `relative` under the working directory, or under the source tree (for `cargo run` from
/// elsewhere), if it exists.
fn bundled(relative: &str) -> Option<PathBuf> {
    [
        PathBuf::from(relative),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative),
    ]
    .into_iter()
    .find(|p| p.exists())
}
