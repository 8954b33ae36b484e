//! The Metrics panel when dSprites is open: the FactorVAE score and MIG of the model in use (with
//! MIG per factor, the reconstruction error and the active units), computed on request with a
//! progress bar that can be cancelled. The figures are those of `vaelens dsprites eval`.

use eframe::egui;
use egui_plot::{Bar, BarChart, Plot};

use std::time::Instant;

use super::shared::{Action, Shared};
use super::training::format_eta;
use crate::data::dsprites::FACTOR_NAMES;
use crate::engine::Command;
use crate::eval::dsprites::{DspritesEvalConfig, DspritesReport};
use crate::render::human;

/// Chance level of the FactorVAE score with five varying factors.
const CHANCE: f64 = 0.2;

pub fn ui(ui: &mut egui::Ui, shared: &mut Shared) {
    ui.heading("Disentanglement (dSprites)");
    ui.label(
        "FactorVAE score (Kim & Mnih 2018: a majority-vote classifier names the factor held \
         fixed from the least varying dimension; chance 0.2) and MIG (Chen et al. 2018: the \
         gap in mutual information between the two latents that know a factor best). The paper \
         reads about 0.82 for FactorVAE and 0.90 for AD-FactorVAE after 300,000 steps.",
    );
    ui.horizontal(|ui| {
        let running = shared.disentangling.is_some();
        if ui
            .add_enabled(
                shared.model.is_some() && !running,
                egui::Button::new("Compute the figures"),
            )
            .on_hover_text(
                "About 100,000 rendered images are encoded: a minute or two on a CPU, the same \
                 figures as `vaelens dsprites eval` with its defaults",
            )
            .clicked()
        {
            shared.disentanglement = None;
            shared.disentangling = Some((0, DspritesEvalConfig::default().total_images()));
            shared.disentangling_since = Some(Instant::now());
            shared
                .actions
                .push(Action::Send(Command::EvaluateDisentanglement(
                    DspritesEvalConfig::default(),
                )));
        }
        if let Some((done, total)) = shared.disentangling {
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                    .desired_width(260.0)
                    .text(format!("{done}/{total} images encoded")),
            );
            if let Some(since) = shared.disentangling_since
                && done > 0
            {
                let seconds = since.elapsed().as_secs_f64();
                let eta = seconds * total.saturating_sub(done) as f64 / done as f64;
                ui.label(format!("ETA {}", format_eta(eta)));
            }
            if ui.button("Cancel").clicked() {
                shared.disentangling = None;
                shared
                    .actions
                    .push(Action::Send(Command::CancelDisentanglement));
            }
        }
    });
    let Some((generation, report)) = shared.disentanglement.clone() else {
        if shared.model.is_none() {
            ui.label("No model: train one in the Training panel or load a dSprites run.");
        }
        return;
    };
    if generation != shared.generation() {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "These figures are of an earlier checkpoint: compute them again for the model in use.",
        );
    }
    figures(ui, &report);
}

fn figures(ui: &mut egui::Ui, report: &DspritesReport) {
    egui::Grid::new("disentanglement-figures")
        .striped(true)
        .show(ui, |ui| {
            let rows = [
                (
                    "FactorVAE score",
                    format!("{} (chance {CHANCE})", human(report.factorvae_score)),
                ),
                ("MIG", human(report.mig)),
                (
                    "Reconstruction (nats per image)",
                    human(report.reconstruction),
                ),
                ("Active units", report.active_units.to_string()),
            ];
            for (name, value) in rows {
                ui.label(name);
                ui.strong(value);
                ui.end_row();
            }
        });
    ui.label("MIG per factor");
    let bars: Vec<Bar> = report
        .mig_per_factor
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            Bar::new(i as f64, v)
                .width(0.7)
                .name(FACTOR_NAMES.get(i).copied().unwrap_or("?"))
        })
        .collect();
    Plot::new("mig-per-factor")
        .height((ui.available_height() - 10.0).clamp(120.0, 320.0))
        .include_y(0.0)
        .include_y(1.0)
        .x_axis_formatter(|mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                FACTOR_NAMES
                    .get(i as usize)
                    .map_or(String::new(), |s| s.to_string())
            } else {
                String::new()
            }
        })
        .show(ui, |plot| plot.bar_chart(BarChart::new("MIG", bars)));
}
