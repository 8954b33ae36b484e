//! The Training panel when dSprites is open: one of the three models (beta-VAE, FactorVAE,
//! AD-FactorVAE) with its weights, start/pause/resume/stop, progress with ETA, and live curves of
//! the VAE terms and of the FactorVAE terms (total-correlation estimate, L_AD, discriminator).

use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::output_paths;
use super::shared::{Action, Shared, Write};
use super::textures;
use super::training::{control_buttons, format_eta, is_active, status_text};
use crate::engine::{DspritesTrainRequest, TrainingStatus};
use crate::render::human;
use crate::train::dsprites::{DspritesModel, DspritesTrainConfig, StepReport, StepTerms};

/// Most steps kept per curve (older ones are thinned out).
const MAX_POINTS: usize = 4000;
/// The explorer's default budget: a few minutes on a laptop's CPU.
const DEFAULT_STEPS: usize = 1000;
/// Checkpoints (each loaded into the other panels) come this often by default.
const DEFAULT_CHECKPOINT_EVERY: usize = 100;

pub struct DspritesTrainingPanel {
    pub config: DspritesTrainConfig,
    pub run_dir: String,
    /// Continue the run saved in the run folder instead of starting anew.
    pub resume: bool,
    /// Every step's terms (thinned when long).
    pub curve: Vec<StepTerms>,
    pub step: usize,
    pub steps: usize,
    pub steps_per_second: f64,
    pub checkpoints: usize,
}

impl Default for DspritesTrainingPanel {
    fn default() -> Self {
        let mut config = DspritesTrainConfig::new(DspritesModel::AdFactor, DEFAULT_STEPS);
        config.checkpoint_every = DEFAULT_CHECKPOINT_EVERY;
        Self {
            config,
            run_dir: String::new(),
            resume: false,
            curve: Vec::new(),
            step: 0,
            steps: 0,
            steps_per_second: 0.0,
            checkpoints: 0,
        }
    }
}

impl DspritesTrainingPanel {
    pub fn on_step(&mut self, report: StepReport) {
        self.step = report.terms.step;
        self.steps = report.steps;
        self.steps_per_second = report.steps_per_second;
        self.checkpoints += usize::from(report.checkpoint);
        self.curve.push(report.terms);
        if self.curve.len() > MAX_POINTS {
            // Keep every other point of the older half.
            let half = self.curve.len() / 2;
            let mut kept: Vec<StepTerms> = self.curve[..half].iter().step_by(2).cloned().collect();
            kept.extend_from_slice(&self.curve[half..]);
            self.curve = kept;
        }
    }

    /// Seconds to the end of the run at the current pace.
    pub fn eta_seconds(&self) -> f64 {
        self.steps.saturating_sub(self.step) as f64 / self.steps_per_second.max(1e-9)
    }

    /// Another model: its default weights (beta 4 for beta-VAE, 1 for the FactorVAEs), the rest
    /// kept.
    fn choose_model(&mut self, model: DspritesModel) {
        let old = &self.config;
        let mut config = DspritesTrainConfig::new(model, old.steps);
        config.batch_size = old.batch_size;
        config.lr = old.lr;
        config.seed = old.seed;
        config.gamma = old.gamma;
        config.lambda = old.lambda;
        config.checkpoint_every = old.checkpoint_every;
        self.config = config;
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        shared: &mut Shared,
        status: &mut Option<TrainingStatus>,
    ) {
        ui.heading("Training on dSprites");
        egui::Panel::left("dsprites-settings")
            .resizable(true)
            .default_size(400.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("dsprites-settings-scroll")
                    .show(ui, |ui| self.settings(ui, shared, status));
            });
        egui::CentralPanel::default().show(ui, |ui| self.plots(ui));
    }

    fn settings(
        &mut self,
        ui: &mut egui::Ui,
        shared: &mut Shared,
        status: &mut Option<TrainingStatus>,
    ) {
        let running = is_active(status);
        ui.add_enabled_ui(!running, |ui| {
            egui::Grid::new("dsprites-hyper")
                .num_columns(2)
                .show(ui, |ui| self.hyperparameters(ui));
            ui.checkbox(&mut self.resume, "Continue the run in the run folder")
                .on_hover_text(
                    "Train on from the run's last checkpoint (weights, discriminator, both Adam                      states) with its own settings, up to the Steps above; the same as                      `vaelens dsprites train --resume`",
                );
        });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!running, egui::Button::new("Start"))
                .on_hover_text("Train on batches rendered on the fly")
                .clicked()
            {
                let request = DspritesTrainRequest {
                    config: self.config.clone(),
                    run_dir: output_paths::typed_path(&self.run_dir),
                    resume: self.resume,
                };
                self.curve.clear();
                self.step = 0;
                self.steps = self.config.steps;
                self.checkpoints = 0;
                *status = Some(TrainingStatus::Running);
                shared
                    .actions
                    .push(Action::Write(Write::DspritesTrain(Box::new(request))));
            }
            control_buttons(ui, shared, status);
        });
        if let Some(status) = status.as_ref() {
            ui.label(format!("Status: {}", status_text(status)));
        }
        if self.steps > 0 {
            ui.add(
                egui::ProgressBar::new(self.step as f32 / self.steps as f32)
                    .text(format!("step {}/{}", self.step, self.steps)),
            );
            if *status == Some(TrainingStatus::Running) && self.step > 0 {
                ui.label(format!(
                    "{} steps/s, ETA {}",
                    human(self.steps_per_second),
                    format_eta(self.eta_seconds())
                ));
            }
            ui.label(format!("checkpoints written: {}", self.checkpoints));
        }
        ui.separator();
        ui.label(
            "Each checkpoint is loaded into the other panels: Attention shows one map per \
             latent dimension, Traversal a grid per dimension, Metrics the FactorVAE score and \
             MIG.",
        );
    }

    fn hyperparameters(&mut self, ui: &mut egui::Ui) {
        let name = ui.label("Model");
        let mut model = self.config.model;
        egui::ComboBox::from_id_salt("dsprites-model")
            .selected_text(model.title())
            .show_ui(ui, |ui| {
                for choice in DspritesModel::ALL {
                    ui.selectable_value(&mut model, choice, choice.title());
                }
            })
            .response
            .labelled_by(name.id)
            .on_hover_text(
                "beta-VAE: recon + beta KL. FactorVAE: recon + KL + gamma TC (a discriminator \
                 estimates the total correlation). AD-FactorVAE: FactorVAE + lambda L_AD, the \
                 paper's attention disentanglement loss",
            );
        if model != self.config.model {
            self.choose_model(model);
        }
        ui.end_row();
        let c = &mut self.config;
        textures::grid_row(
            ui,
            "Steps",
            true,
            egui::DragValue::new(&mut c.steps).range(1..=10_000_000),
            "Training steps (batches); the paper trains for 300,000 on a GPU",
        );
        textures::grid_row(
            ui,
            "Batch size",
            true,
            egui::DragValue::new(&mut c.batch_size).range(2..=1024),
            "Images per step (the discriminator needs at least 2)",
        );
        textures::grid_row(
            ui,
            "Learning rate",
            true,
            textures::learning_rate(&mut c.lr),
            "The VAE's Adam step size (the paper: 1e-4 over 300,000 steps)",
        );
        textures::grid_row(
            ui,
            "Beta (KL weight)",
            true,
            egui::DragValue::new(&mut c.beta)
                .range(0.0..=100.0)
                .speed(0.05),
            "4 for beta-VAE; 1 for the FactorVAEs",
        );
        let (factor, ad) = (
            c.model.uses_discriminator(),
            c.model == DspritesModel::AdFactor,
        );
        textures::grid_row(
            ui,
            "Gamma (TC weight)",
            factor,
            egui::DragValue::new(&mut c.gamma)
                .range(0.0..=1000.0)
                .speed(0.5),
            "Weight of the total correlation (FactorVAE, AD-FactorVAE)",
        );
        textures::grid_row(
            ui,
            "Lambda (L_AD weight)",
            ad,
            egui::DragValue::new(&mut c.lambda)
                .range(0.0..=1000.0)
                .speed(0.5),
            "Weight of the attention disentanglement loss (AD-FactorVAE)",
        );
        textures::grid_row(
            ui,
            "Seed",
            true,
            egui::DragValue::new(&mut c.seed),
            "Same seed and settings: the same batches and weights",
        );
        textures::grid_row(
            ui,
            "Checkpoint every",
            true,
            egui::DragValue::new(&mut c.checkpoint_every)
                .range(1..=100_000)
                .suffix(" steps"),
            "A checkpoint is written (and loaded into the other panels) this often",
        );
        textures::grid_row(
            ui,
            "Run folder",
            true,
            egui::TextEdit::singleline(&mut self.run_dir),
            "Where the run goes: model.safetensors, config.json, dsprites.json and, for the \
             FactorVAEs, the discriminator and both Adam states",
        );
    }

    fn plots(&mut self, ui: &mut egui::Ui) {
        let height = (ui.available_height() - 50.0).max(240.0) / 2.0;
        let series = |get: fn(&StepTerms) -> Option<f64>| -> PlotPoints<'static> {
            self.curve
                .iter()
                .filter_map(|t| get(t).map(|v| [t.step as f64, v]))
                .collect()
        };
        ui.label("VAE terms per image (nats)");
        Plot::new("dsprites-vae-terms")
            .height(height)
            .legend(Legend::default())
            .x_axis_label("step")
            .y_axis_formatter(|mark, _| human(mark.value))
            .show(ui, |plot| {
                plot.line(Line::new("reconstruction", series(|t| Some(t.recon))));
                plot.line(Line::new("KL", series(|t| Some(t.kl))));
            });
        if !self.config.model.uses_discriminator() && self.curve.is_empty() {
            return;
        }
        ui.label(
            "FactorVAE terms: total-correlation estimate (the VAE minimises gamma x TC), L_AD \
             (attention overlap of active dimensions) and the discriminator's loss",
        );
        Plot::new("dsprites-factor-terms")
            .height(height)
            .legend(Legend::default())
            .x_axis_label("step")
            .y_axis_formatter(|mark, _| human(mark.value))
            .show(ui, |plot| {
                plot.line(Line::new("TC estimate", series(|t| t.total_correlation)));
                plot.line(Line::new("L_AD", series(|t| t.attention)));
                plot.line(Line::new("discriminator", series(|t| t.discriminator)));
            });
    }
}
