//! Training panel: hyperparameters, start/pause/resume/stop, live loss curves, per-dimension KL
//! with the active units, throughput and ETA, and saving or loading a checkpoint.

use std::path::PathBuf;

use eframe::egui;
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints};

use super::output_paths;
use super::shared::{Action, Shared, Write};
use super::textures;
use crate::engine::{Command, ModelInfo, TrainRequest, TrainingStatus};
use crate::model::{ReconLoss, VaeConfig};
use crate::render::human;
use crate::run::{EncoderChoice, RunOptions, Window};
use crate::train::{ACTIVE_UNIT_VARIANCE, TrainEvent, active_units};

/// Most points kept per loss curve (older ones are thinned out).
const MAX_POINTS: usize = 4000;

pub struct TrainingPanel {
    /// The run the Start button asks for (the library's defaults, as on the command line).
    pub options: RunOptions,
    /// Trained encoder stage widths as the user types them, comma-separated (empty: the
    /// encoder's default).
    pub stages: String,
    pub hidden: usize,
    pub run_dir: String,
    pub resume: bool,
    pub save_path: String,
    pub load_path: String,
    pub status: Option<TrainingStatus>,
    /// (step, total, recon, kl) per step.
    pub curve: Vec<[f64; 4]>,
    pub kl_per_dim: Vec<f64>,
    /// Posterior-mean variance per dimension of the last finished epoch (empty before one ends).
    pub mu_variance: Vec<f64>,
    /// The run's latest warning (a collapsed latent, say), shown until the next run starts.
    pub warning: Option<String>,
    pub images_per_second: f64,
    pub eta_seconds: f64,
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub total_steps: usize,
    pub checkpoints: usize,
    /// The curve holds one point per epoch (a loaded model's history), not per step.
    pub curve_per_epoch: bool,
}

impl Default for TrainingPanel {
    fn default() -> Self {
        Self {
            options: RunOptions::default(),
            stages: String::new(),
            hidden: VaeConfig::DEFAULT_HIDDEN,
            run_dir: String::new(),
            resume: false,
            save_path: String::new(),
            load_path: String::new(),
            status: None,
            curve: Vec::new(),
            kl_per_dim: Vec::new(),
            mu_variance: Vec::new(),
            warning: None,
            images_per_second: 0.0,
            eta_seconds: 0.0,
            epoch: 0,
            epochs: 0,
            step: 0,
            total_steps: 0,
            checkpoints: 0,
            curve_per_epoch: false,
        }
    }
}

pub fn status_text(status: &TrainingStatus) -> String {
    match status {
        TrainingStatus::Loading => "loading images".into(),
        TrainingStatus::Running => "running".into(),
        TrainingStatus::Paused => "paused".into(),
        TrainingStatus::Stopping => {
            "stopping… (finishing the current step and saving the checkpoint)".into()
        }
        TrainingStatus::Ended(how) => how.clone(),
    }
}

impl TrainingPanel {
    pub fn is_active(&self) -> bool {
        is_active(&self.status)
    }

    /// A loaded model shows its training history until a run starts.
    pub fn on_model(&mut self, info: &ModelInfo) {
        if self.is_active() {
            return;
        }
        if let Some(last) = info.history.last() {
            self.kl_per_dim = last.kl_per_dim.clone();
            self.mu_variance = last.mu_variance.clone();
            self.curve = info
                .history
                .iter()
                .map(|e| [e.epoch as f64, e.total, e.recon, e.kl])
                .collect();
            self.epoch = last.epoch;
            self.curve_per_epoch = true;
        }
        self.options.latent_dim = info.config.latent_dim;
    }

    pub fn on_event(&mut self, event: TrainEvent) {
        match event {
            TrainEvent::Started {
                first_epoch,
                epochs,
                steps_per_epoch,
                ..
            } => {
                self.curve.clear();
                self.mu_variance.clear();
                self.warning = None;
                self.curve_per_epoch = false;
                self.epoch = first_epoch;
                self.epochs = epochs;
                self.total_steps = steps_per_epoch * epochs;
                self.status = Some(TrainingStatus::Running);
            }
            TrainEvent::Step {
                epoch,
                step,
                total_steps,
                loss,
                images_per_second,
                eta_seconds,
            } => {
                self.epoch = epoch;
                self.step = step;
                self.total_steps = total_steps;
                self.images_per_second = images_per_second;
                self.eta_seconds = eta_seconds;
                self.curve
                    .push([step as f64, loss.total, loss.recon, loss.kl]);
                if self.curve.len() > MAX_POINTS {
                    // Keep every other point of the older half.
                    let half = self.curve.len() / 2;
                    let mut kept: Vec<[f64; 4]> =
                        self.curve[..half].iter().step_by(2).copied().collect();
                    kept.extend_from_slice(&self.curve[half..]);
                    self.curve = kept;
                }
                self.kl_per_dim = loss.kl_per_dim;
            }
            TrainEvent::Epoch(summary) => {
                // The only warnings are about a latent that has not come alive.
                if summary.active_units > 0 {
                    self.warning = None;
                }
                self.kl_per_dim = summary.kl_per_dim;
                self.mu_variance = summary.mu_variance;
            }
            TrainEvent::Checkpoint(_) => self.checkpoints += 1,
            TrainEvent::Warning(text) => self.warning = Some(text),
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.heading("Training");
        egui::Panel::left("train-settings")
            .resizable(true)
            .default_size(420.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("train-settings-scroll")
                    .show(ui, |ui| self.settings(ui, shared));
            });
        egui::CentralPanel::default().show(ui, |ui| self.plots(ui));
    }

    fn settings(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let running = self.is_active();
        ui.add_enabled_ui(!running, |ui| {
            egui::Grid::new("hyper").num_columns(2).show(ui, |ui| {
                epochs_row(ui, &mut self.options.epochs);
                ui.end_row();
                let c = &mut self.options.train;
                textures::labelled(
                    ui,
                    "Batch size",
                    egui::DragValue::new(&mut c.batch_size).range(1..=512),
                )
                .on_hover_text("Images (or windows) per training step");
                ui.end_row();
                textures::grid_row(
                    ui,
                    "Learning rate",
                    true,
                    textures::learning_rate(&mut c.lr),
                    "Adam's step size",
                );
                textures::labelled(
                    ui,
                    "Beta (KL weight)",
                    egui::DragValue::new(&mut c.beta)
                        .range(0.0..=100.0)
                        .speed(0.001)
                        .max_decimals(4),
                )
                .on_hover_text("Weight of the KL term: larger pushes the latent towards the prior (and, too large, to collapse)");
                ui.end_row();
                textures::labelled(
                    ui,
                    "KL warm-up epochs",
                    egui::DragValue::new(&mut c.kl_warmup_epochs).range(0..=10_000),
                )
                .on_hover_text("The KL weight ramps from 0 to beta over these epochs, so the latent comes alive first");
                ui.end_row();
                textures::labelled(
                    ui,
                    "Noise warm-up epochs",
                    egui::DragValue::new(&mut c.noise_warmup_epochs).range(0..=10_000),
                )
                .on_hover_text("The sampling noise ramps from 0 (z = mu) to full over these epochs");
                ui.end_row();
                textures::labelled(
                    ui,
                    "Free bits (nats)",
                    egui::DragValue::new(&mut c.free_bits)
                        .range(0.0..=10.0)
                        .speed(0.01),
                )
                .on_hover_text("KL below this per dimension is not penalised, which keeps dimensions alive");
                ui.end_row();
                let name = ui.label("Reconstruction");
                egui::ComboBox::from_id_salt("recon-loss")
                    .selected_text(format!("{:?}", c.recon))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut c.recon, ReconLoss::Mse, "Mse");
                        ui.selectable_value(&mut c.recon, ReconLoss::Bce, "Bce");
                    })
                    .response
                    .labelled_by(name.id)
                    .on_hover_text("Reconstruction loss: squared error or binary cross-entropy");
                ui.end_row();
                ui.label("");
                ui.checkbox(&mut c.flip, "Random flips")
                    .on_hover_text("Flip training images at random (augmentation)");
                ui.end_row();
                textures::labelled(ui, "Seed", egui::DragValue::new(&mut c.seed))
                    .on_hover_text("Same seed, same data and settings: the same weights");
                ui.end_row();
                textures::labelled(
                    ui,
                    "Checkpoint every",
                    egui::DragValue::new(&mut c.checkpoint_every)
                        .range(1..=1000)
                        .suffix(" epochs"),
                )
                .on_hover_text(
                    "A checkpoint is written (and loaded into the other panels) this often",
                );
                ui.end_row();
                let fresh = !self.resume;
                let name = ui.label("Latent dimensions");
                ui.add_enabled(
                    fresh,
                    egui::DragValue::new(&mut self.options.latent_dim).range(1..=256),
                )
                .labelled_by(name.id)
                .on_hover_text("Size of the latent z: one attention map per dimension");
                ui.end_row();
                let name = ui.label("Encoder stages");
                let default = join(
                    &RunOptions {
                        stages: None,
                        ..self.options.clone()
                    }
                    .architecture(1)
                    .stages,
                );
                ui.add_enabled(
                    fresh,
                    egui::TextEdit::singleline(&mut self.stages).hint_text(default),
                )
                .labelled_by(name.id)
                .on_hover_text("Channels of each encoder stage, comma-separated");
                ui.end_row();
                let name = ui.label("Hidden width");
                ui.add_enabled(
                    fresh,
                    egui::DragValue::new(&mut self.hidden).range(1..=8192),
                )
                .labelled_by(name.id)
                .on_hover_text("Width of the fully connected layer between the stages and z");
                ui.end_row();
                let name = ui.label("Image size");
                ui.add_enabled_ui(fresh, |ui| {
                    egui::ComboBox::from_id_salt("image-size")
                        .selected_text(format!("{} px", self.options.image_size))
                        .show_ui(ui, |ui| {
                            for s in [64, 128, 192, 256] {
                                ui.selectable_value(
                                    &mut self.options.image_size,
                                    s,
                                    format!("{s} px"),
                                );
                            }
                        })
                        .response
                        .labelled_by(name.id)
                        .on_hover_text("Side the images are resized to before training");
                });
                ui.end_row();
                let name = ui.label("Model input");
                ui.add_enabled_ui(fresh, |ui| {
                    window_choice(ui, &mut self.options)
                        .labelled_by(name.id)
                        .on_hover_text(
                            "Whole images, or random windows of them (a patch VAE, scored \
                             window by window)",
                        );
                });
                ui.end_row();
                let name = ui.label("Encoder");
                ui.add_enabled_ui(fresh, |ui| {
                    egui::ComboBox::from_id_salt("encoder-choice")
                        .selected_text(encoder_text(self.options.encoder))
                        .show_ui(ui, |ui| {
                            for choice in [EncoderChoice::Pretrained, EncoderChoice::Scratch] {
                                ui.selectable_value(
                                    &mut self.options.encoder,
                                    choice,
                                    encoder_text(choice),
                                );
                            }
                        })
                        .response
                        .labelled_by(name.id)
                        .on_hover_text(
                            "Frozen ImageNet-pretrained stages first (the default), or every \
                             stage trained from scratch (the paper's setting)",
                        );
                });
                ui.end_row();
                textures::labelled(
                    ui,
                    "Run folder",
                    egui::TextEdit::singleline(&mut self.run_dir),
                )
                .on_hover_text("Where checkpoints go: model.safetensors, config.json, optimizer.bpk");
                ui.end_row();
            });
            ui.checkbox(&mut self.resume, "Continue from the loaded model")
                .on_hover_text("Keep the loaded model's weights, architecture and epoch count");
        });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    !running && shared.data.is_some(),
                    egui::Button::new("Start"),
                )
                .clicked()
            {
                let Some(stages) = parse_stages(&self.stages) else {
                    shared.error(format!(
                        "encoder stages \"{}\": give positive channel counts separated by commas, \
                         e.g. 32,64,128,128, or leave the field empty for the default",
                        self.stages
                    ));
                    return;
                };
                let request = TrainRequest {
                    options: RunOptions {
                        stages,
                        hidden: Some(self.hidden),
                        ..self.options.clone()
                    },
                    run_dir: output_paths::typed_path(&self.run_dir),
                    resume: self.resume,
                };
                self.curve.clear();
                self.kl_per_dim.clear();
                self.status = Some(TrainingStatus::Loading);
                shared
                    .actions
                    .push(Action::Write(Write::Train(Box::new(request))));
            }
            control_buttons(ui, shared, &self.status);
        });
        if let Some(status) = &self.status {
            ui.label(format!("Status: {}", status_text(status)));
        }
        if self.total_steps > 0 {
            ui.add(
                egui::ProgressBar::new(self.step as f32 / self.total_steps.max(1) as f32).text(
                    format!(
                        "epoch {}/{}  step {}/{}",
                        self.epoch, self.epochs, self.step, self.total_steps
                    ),
                ),
            );
            // A paused (or stopping) run has no time of arrival.
            if self.status == Some(TrainingStatus::Running) {
                ui.label(format!(
                    "{} images/s, ETA {}",
                    human(self.images_per_second),
                    format_eta(self.eta_seconds)
                ));
            }
            ui.label(format!("checkpoints written: {}", self.checkpoints));
        }
        if let Some(warning) = &self.warning {
            ui.colored_label(ui.visuals().warn_fg_color, warning);
        }
        ui.separator();
        ui.label("While training runs, the other panels show the latest checkpoint.");
        ui.separator();
        ui.strong("Checkpoint");
        ui.horizontal(|ui| {
            textures::labelled(
                ui,
                "Save to",
                egui::TextEdit::singleline(&mut self.save_path).desired_width(160.0),
            );
            if ui
                .add_enabled(shared.model.is_some(), egui::Button::new("Save"))
                .clicked()
            {
                let path = output_paths::typed_path(&self.save_path);
                shared.actions.push(Action::Write(Write::Checkpoint(path)));
            }
        });
        ui.horizontal(|ui| {
            textures::labelled(
                ui,
                "Load from",
                egui::TextEdit::singleline(&mut self.load_path)
                    .hint_text("file.safetensors or run folder")
                    .desired_width(160.0),
            );
            if ui.button("Load").clicked() {
                let path = PathBuf::from(self.load_path.trim());
                shared.actions.push(Action::Send(Command::LoadModel(path)));
            }
        });
    }

    fn plots(&mut self, ui: &mut egui::Ui) {
        let height = (ui.available_height() - 40.0).max(200.0) * 0.55;
        let unit = if self.curve_per_epoch {
            "epoch"
        } else {
            "step"
        };
        ui.label(format!("Loss per {unit} (per image)"));
        let series =
            |k: usize| -> PlotPoints<'static> { self.curve.iter().map(|p| [p[0], p[k]]).collect() };
        Plot::new("loss")
            .height(height)
            .legend(Legend::default())
            .x_axis_label(unit)
            .y_axis_formatter(|mark, _| human(mark.value))
            .show(ui, |plot| {
                plot.line(Line::new("total", series(1)));
                plot.line(Line::new("reconstruction", series(2)));
                plot.line(Line::new("KL", series(3)));
            });
        let known = self.mu_variance.len() == self.kl_per_dim.len();
        if known {
            ui.label(format!(
                "KL per latent dimension (nats): {} of {} active (blue: mu varies over the data by \
                 more than {ACTIVE_UNIT_VARIANCE})",
                active_units(&self.mu_variance),
                self.kl_per_dim.len()
            ));
        } else if self.curve_per_epoch {
            ui.label(
                "KL per latent dimension (nats); this checkpoint predates the active-unit count",
            );
        } else {
            ui.label("KL per latent dimension (nats); active units are counted after each epoch");
        }
        let bars: Vec<Bar> = self
            .kl_per_dim
            .iter()
            .enumerate()
            .map(|(i, &kl)| {
                let active = known && self.mu_variance[i] > ACTIVE_UNIT_VARIANCE;
                let colour = if active {
                    egui::Color32::from_rgb(80, 160, 230)
                } else {
                    egui::Color32::from_gray(110)
                };
                Bar::new(i as f64, kl)
                    .width(0.8)
                    .fill(colour)
                    .name(format!("z{i}"))
            })
            .collect();
        Plot::new("kl-bars")
            .height((ui.available_height() - 10.0).max(120.0))
            .x_axis_label("dimension")
            .y_axis_formatter(|mark, _| human(mark.value))
            .show(ui, |plot| plot.bar_chart(BarChart::new("KL", bars)));
    }
}

/// A run is going: loading, running, paused or stopping.
pub(super) fn is_active(status: &Option<TrainingStatus>) -> bool {
    matches!(
        status,
        Some(
            TrainingStatus::Loading
                | TrainingStatus::Running
                | TrainingStatus::Paused
                | TrainingStatus::Stopping
        )
    )
}

/// Pause, Resume and Stop of the run under way.
pub(super) fn control_buttons(
    ui: &mut egui::Ui,
    shared: &mut Shared,
    status: &Option<TrainingStatus>,
) {
    let running = is_active(status);
    let paused = *status == Some(TrainingStatus::Paused);
    let stopping = *status == Some(TrainingStatus::Stopping);
    if ui
        .add_enabled(running && !paused && !stopping, egui::Button::new("Pause"))
        .on_hover_text("Hold training after the current step; Resume continues it")
        .clicked()
    {
        shared.actions.push(Action::Send(Command::PauseTraining));
    }
    if ui
        .add_enabled(paused, egui::Button::new("Resume"))
        .on_hover_text("Continue a paused run")
        .clicked()
    {
        shared.actions.push(Action::Send(Command::ResumeTraining));
    }
    if ui
        .add_enabled(running && !stopping, egui::Button::new("Stop"))
        .on_hover_text("End the run after the current step; its checkpoint is saved and loaded")
        .clicked()
    {
        shared.actions.push(Action::Send(Command::StopTraining));
    }
}

pub(super) fn format_eta(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "-".into();
    }
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

fn join(stages: &[usize]) -> String {
    stages
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn encoder_text(choice: EncoderChoice) -> &'static str {
    match choice {
        EncoderChoice::Pretrained => "pretrained (ImageNet features, frozen)",
        EncoderChoice::Scratch => "from scratch (the paper's setting)",
    }
}

/// Positive channel counts separated by commas (`Some(None)` for an empty field: the default),
/// or None when the text is not such a list.
fn parse_stages(text: &str) -> Option<Option<Vec<usize>>> {
    if text.trim().is_empty() {
        return Some(None);
    }
    let stages: Option<Vec<usize>> = text
        .split(',')
        .map(|s| s.trim().parse().ok().filter(|&c: &usize| c > 0))
        .collect();
    stages.filter(|s| !s.is_empty()).map(Some)
}

/// "Epochs": automatic (see `TrainConfig::auto_epochs`) or a number.
fn epochs_row(ui: &mut egui::Ui, epochs: &mut Option<usize>) {
    ui.label("Epochs");
    ui.horizontal(|ui| {
        let mut auto = epochs.is_none();
        if ui
            .checkbox(&mut auto, "auto")
            .on_hover_text("About 2,400 images' worth over pretrained features, 6,000 from scratch (10 to 100 epochs)")
            .changed()
        {
            *epochs = if auto { None } else { Some(60) };
        }
        if let Some(n) = epochs {
            ui.add(egui::DragValue::new(n).range(1..=10_000));
        }
    });
}

/// Whole images, or a patch VAE on windows of an automatic or chosen side; `auto` is what the
/// run plan picks for `options`.
fn window_choice(ui: &mut egui::Ui, options: &mut RunOptions) -> egui::Response {
    let image_size = options.image_size;
    let auto = match options.tiling(options.architecture(1).stage_count()) {
        Some(t) => format!("patch VAE, {} px windows (auto)", t.window),
        None => "whole image (auto)".to_string(),
    };
    let window = &mut options.window;
    let text = |w: &Window| match w {
        Window::Auto => auto.clone(),
        Window::Patch(side) => format!("patch VAE, {side} px windows"),
        Window::WholeImage => "whole image (the paper's setting)".to_string(),
    };
    egui::ComboBox::from_id_salt("model-input")
        .selected_text(text(window))
        .show_ui(ui, |ui| {
            ui.selectable_value(window, Window::Auto, text(&Window::Auto));
            for side in [16, 32, 48, 64, 96, 128]
                .into_iter()
                .filter(|&s| s <= image_size)
            {
                ui.selectable_value(window, Window::Patch(side), text(&Window::Patch(side)));
            }
            ui.selectable_value(window, Window::WholeImage, text(&Window::WholeImage));
        })
        .response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::EpochSummary;

    fn epoch(epoch: usize, mu_variance: Vec<f64>) -> TrainEvent {
        TrainEvent::Epoch(EpochSummary {
            epoch,
            total: 1.0,
            recon: 1.0,
            kl: 0.0,
            kl_per_dim: vec![0.0; mu_variance.len()],
            active_units: active_units(&mu_variance),
            mu_variance,
            seconds: 1.0,
        })
    }

    #[test]
    fn collapse_warning_stays_until_a_unit_wakes() {
        let mut panel = TrainingPanel::default();
        panel.on_event(epoch(10, vec![0.0, 0.001]));
        panel.on_event(TrainEvent::Warning("not come alive yet".into()));
        panel.on_event(epoch(11, vec![0.0, 0.001]));
        assert_eq!(panel.warning.as_deref(), Some("not come alive yet"));
        panel.on_event(epoch(12, vec![0.5, 0.001]));
        assert_eq!(panel.warning, None);
        assert_eq!(panel.mu_variance, vec![0.5, 0.001]);
    }
}
