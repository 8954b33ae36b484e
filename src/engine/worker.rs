//! The worker loop: drain the command channel, coalesce, serve, then do one unit of background
//! work (one test image of a scoring job) before looking at the channel again. Inside that unit,
//! between methods and batches of windows, interactive requests that arrived are served at once;
//! other commands wait for the image to finish.

mod dsprites;

use std::collections::{BTreeMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use super::Waker;
use super::control::TrainingControl;
use super::images::write_png;
use super::interactive::{ExplainCache, Interactive, Model, internal_error, is_interactive};
use super::messages::{
    Command, DataSummary, Event, GroupSummary, ModelInfo, ScoredSet, TrainRequest, TrainingStatus,
};
use super::training::TrainingHandle;
use crate::backend::Backend;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::data::{Category, DataError, LayoutKind, TrainSet, discover_categories, load_image};
use crate::eval::{Report, ScoredTest, score_test_image};
use crate::explain::{AnomalyMethod, MethodId, anomaly_methods};
use crate::export::export_overlays;
use crate::render::to_rgba;

/// How long background scoring waits after an interactive request for the next one.
const INTERACTION_GRACE: std::time::Duration = std::time::Duration::from_millis(150);

/// Thumbnail side in pixels, and how many per group the data panel shows.
const THUMB_SIDE: u32 = 64;
const THUMBS_PER_GROUP: usize = 8;

/// Sends `event` and wakes the window.
pub(crate) fn notify(events: &Sender<Event>, waker: &Option<Waker>, event: Event) {
    let _ = events.send(event);
    if let Some(wake) = waker {
        wake();
    }
}

/// A test-set scoring job in progress.
struct Scoring {
    generation: u64,
    stage: usize,
    next: usize,
    tests: Vec<ScoredTest>,
    notes: Vec<String>,
}

/// How the worker talks to the rest: its commands, its events, the window's waker, the sender
/// training threads report through, and the training run's control flags.
pub struct Channels {
    pub commands: Receiver<Command>,
    pub events: Sender<Event>,
    pub loopback: Sender<Command>,
    pub waker: Option<Waker>,
    pub control: TrainingControl,
}

pub struct Worker {
    backend: Backend,
    commands: Receiver<Command>,
    events: Sender<Event>,
    loopback: Sender<Command>,
    waker: Option<Waker>,
    control: TrainingControl,
    /// Commands that arrived while a test image was being scored and wait for it to finish.
    deferred: VecDeque<Command>,
    model: Option<Model>,
    generation: u64,
    category: Option<Category>,
    explained: ExplainCache,
    methods: Vec<Box<dyn AnomalyMethod>>,
    scoring: Option<Scoring>,
    /// A finished scoring job whose report is being built in its own thread: ticket,
    /// model generation and stage.
    evaluating: Option<(u64, u64, usize)>,
    tickets: u64,
    scored: Option<Arc<ScoredSet>>,
    training: Option<TrainingHandle>,
    disentangling: Option<dsprites::Disentangling>,
}

impl Worker {
    pub fn new(backend: Backend, channels: Channels) -> Self {
        let Channels {
            commands,
            events,
            loopback,
            waker,
            control,
        } = channels;
        Self {
            backend,
            commands,
            events,
            loopback,
            waker,
            control,
            deferred: VecDeque::new(),
            model: None,
            generation: 0,
            category: None,
            explained: ExplainCache::new(),
            methods: anomaly_methods(),
            scoring: None,
            evaluating: None,
            tickets: 0,
            scored: None,
            training: None,
            disentangling: None,
        }
    }

    fn send(&self, event: Event) {
        notify(&self.events, &self.waker, event);
    }

    pub fn run(mut self) {
        self.send(Event::Backend {
            description: self.backend.description.clone(),
            is_gpu: self.backend.is_gpu,
        });
        loop {
            let mut batch: Vec<Command> = self.deferred.drain(..).collect();
            if batch.is_empty() && self.scoring.is_none() {
                match self.commands.recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            batch.extend(self.commands.try_iter());
            if batch.iter().any(|c| matches!(c, Command::Shutdown)) {
                break;
            }
            for command in coalesce(batch) {
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| self.handle(command)));
                if let Err(panic) = outcome {
                    self.send(Event::Error(internal_error(panic.as_ref())));
                }
            }
            if self.scoring.is_some() {
                let step = std::panic::catch_unwind(AssertUnwindSafe(|| self.score_step()));
                if step.is_err() {
                    self.scoring = None;
                    self.send(Event::Error(
                        "scoring the test set failed with an internal error".into(),
                    ));
                }
            }
        }
        if let Some(mut training) = self.training.take() {
            training.stop_and_join();
        }
    }

    fn handle(&mut self, command: Command) {
        if is_interactive(&command) {
            self.interactive().serve(command);
            return;
        }
        match command {
            Command::OpenData(dir) => self.open_data(&dir),
            Command::OpenDsprites => self.open_dsprites(),
            Command::StartDspritesTraining(request) => self.start_dsprites_training(request),
            Command::DspritesTrainingEnded(run_dir, result) => {
                self.dsprites_training_ended(run_dir, result)
            }
            Command::EvaluateDisentanglement(config) => self.evaluate_disentanglement(config),
            Command::CancelDisentanglement => self.cancel_disentanglement(),
            Command::DisentanglementDone { ticket, result } => {
                self.disentanglement_done(ticket, result)
            }
            Command::LoadModel(path) => self.load_model(&path),
            Command::SaveModel(path) => self.save_model(&path),
            Command::Score { stage } => self.start_scoring(stage),
            Command::StartTraining(request) => self.start_training(request),
            Command::ExportOverlays {
                method,
                options,
                out,
                overwrite,
            } => self.export_overlays(method, &options, &out, overwrite),
            Command::WriteReport(path) => self.write_report(&path),
            Command::WritePng { image, path, what } => match write_png(&image, &path) {
                Ok(()) => self.send(Event::Written {
                    what: format!("{what} {}", path.display()),
                    paths: vec![path],
                }),
                Err(e) => self.send(Event::Error(e.to_string())),
            },
            Command::CheckpointWritten(dir) => {
                let source = format!("training checkpoint {}", dir.display());
                if let Err(e) =
                    Checkpoint::load_run(&dir).and_then(|c| self.install_model(c, source))
                {
                    self.send(Event::Error(e.to_string()));
                }
            }
            Command::TrainingEnded(result) => self.training_ended(result),
            Command::Evaluated { ticket, set } => {
                // A job of a model or data set replaced since is dropped.
                if self.evaluating.is_some_and(|(t, _, _)| t == ticket) {
                    self.evaluating = None;
                    self.scored = Some(set.clone());
                    self.send(Event::Scored(set));
                }
            }
            // Served elsewhere: interactive requests above, pause, resume and stop by the
            // command router, shutdown by the loop.
            Command::Explain { .. }
            | Command::Decode { .. }
            | Command::Traverse { .. }
            | Command::LoadImage(_)
            | Command::PauseTraining
            | Command::ResumeTraining
            | Command::StopTraining
            | Command::Shutdown => {}
        }
    }

    fn interactive(&mut self) -> Interactive<'_> {
        Interactive {
            model: self.model.as_ref(),
            explained: &mut self.explained,
            events: &self.events,
            waker: &self.waker,
        }
    }

    fn open_data(&mut self, dir: &Path) {
        let category = match Category::discover(dir) {
            Ok(c) => c,
            Err(DataError::MultipleCategories { .. }) => {
                self.send(Event::Categories(discover_categories(dir)));
                return;
            }
            Err(e) => {
                self.send(Event::Error(e.to_string()));
                return;
            }
        };
        self.install_category(category);
    }

    /// Makes `category` the data in use: its summary and thumbnails go to the window, and every
    /// result of the previous one is dropped.
    fn install_category(&mut self, category: Category) {
        let mut groups = vec![GroupSummary {
            name: "train".into(),
            images: category.train.clone(),
            masks: 0,
        }];
        for defect in category.defect_types() {
            let tests = category.test_of(&defect);
            groups.push(GroupSummary {
                name: defect.clone(),
                images: tests.iter().map(|t| t.path.clone()).collect(),
                masks: tests.iter().filter(|t| t.mask.is_some()).count(),
            });
        }
        if category.kind == LayoutKind::Mvtec && category.test.is_empty() {
            self.send(Event::Info(format!(
                "{} has no test split: the anomaly and metrics panels stay empty",
                category.root.display()
            )));
        }
        let summary = Arc::new(DataSummary {
            category: category.clone(),
            groups: groups.clone(),
        });
        self.category = Some(category);
        self.scored = None;
        self.scoring = None;
        self.evaluating = None;
        self.send(Event::Data(summary));
        // Thumbnails: a few per group, decoded here so the window never waits on files.
        let mut thumbs = Vec::new();
        for group in &groups {
            for path in group.images.iter().take(THUMBS_PER_GROUP) {
                match load_image(path) {
                    Ok(img) => thumbs.push((
                        path.clone(),
                        to_rgba(&img.thumbnail(THUMB_SIDE, THUMB_SIDE)),
                    )),
                    Err(e) => self.send(Event::Error(e.to_string())),
                }
            }
        }
        self.send(Event::Thumbnails(thumbs));
    }

    fn load_model(&mut self, path: &Path) {
        let loaded = if path.is_dir() {
            Checkpoint::load_run(path)
        } else {
            Checkpoint::load_file(path)
        };
        if let Err(e) = loaded.and_then(|c| self.install_model(c, path.display().to_string())) {
            self.send(Event::Error(e.to_string()));
        }
    }

    /// Makes `checkpoint` the model in use; clears every cached result.
    fn install_model(
        &mut self,
        checkpoint: Checkpoint,
        source: String,
    ) -> Result<(), CheckpointError> {
        let explainer = checkpoint.explainer(&self.backend.device)?;
        self.generation += 1;
        let info = Arc::new(ModelInfo {
            config: checkpoint.config.clone(),
            source,
            generation: self.generation,
            has_stats: checkpoint.stats.is_some(),
            default_stage: explainer.default_stage(),
            tiling: explainer.tiling,
            normal_mu: explainer.stats.mu.clone(),
            normal_var: explainer.stats.var.clone(),
            history: checkpoint
                .state
                .as_ref()
                .map(|s| s.history.clone())
                .unwrap_or_default(),
        });
        self.explained.clear();
        self.scored = None;
        self.scoring = None;
        self.evaluating = None;
        self.model = Some(Model {
            explainer,
            checkpoint,
            info: info.clone(),
        });
        self.send(Event::Model(info));
        Ok(())
    }

    fn save_model(&mut self, path: &Path) {
        let Some(model) = &self.model else {
            self.send(Event::Error(
                "no model to save: load or train one first".into(),
            ));
            return;
        };
        // The error names the file; the folder is made if it is new (a default path).
        let saved = path
            .parent()
            .map_or(Ok(()), |dir| {
                std::fs::create_dir_all(dir).map_err(|e| crate::fsx::with_path(e, dir))
            })
            .map_err(|e| e.to_string())
            .and_then(|()| {
                model
                    .checkpoint
                    .save_file(path, false)
                    .map_err(|e| e.to_string())
            });
        match saved {
            Ok(()) => self.send(Event::Written {
                what: format!("checkpoint {}", path.display()),
                paths: vec![path.to_path_buf()],
            }),
            Err(e) => self.send(Event::Error(format!("checkpoint not saved: {e}"))),
        }
    }

    fn start_scoring(&mut self, stage: usize) {
        let Some(model) = &self.model else {
            return;
        };
        let Some(category) = &self.category else {
            return;
        };
        let stage = stage.min(model.explainer.config.stage_count() - 1);
        if let Some(done) = &self.scored
            && done.generation == model.info.generation
            && done.stage == stage
        {
            self.send(Event::Scored(done.clone()));
            return;
        }
        let under_way = self
            .scoring
            .as_ref()
            .map(|s| (s.generation, s.stage))
            .or(self.evaluating.map(|(_, g, s)| (g, s)));
        if under_way == Some((model.info.generation, stage)) {
            return;
        }
        if category.test.is_empty() {
            self.send(Event::Info(format!(
                "{} has no test images: nothing to score",
                category.root.display()
            )));
            return;
        }
        let (generation, tests) = (model.info.generation, category.test.len());
        self.fit_missing_feature_stats();
        self.scoring = Some(Scoring {
            generation,
            stage,
            next: 0,
            tests: Vec::with_capacity(tests),
            notes: Vec::new(),
        });
    }

    /// Fits the feature Gaussians of `feature-distance` and the memory of `feature-knn` over
    /// the open category's training images when the model lacks them (checkpoints from before
    /// they existed, untrained models), so the default maps are not flat. The latent statistics
    /// are taken anew with the Gaussians.
    fn fit_missing_feature_stats(&mut self) {
        let (Some(model), Some(category)) = (&mut self.model, &self.category) else {
            return;
        };
        let explainer = &mut model.explainer;
        if !explainer.stats.incomplete() || category.train.is_empty() {
            return;
        }
        let (channels, size) = (explainer.config.channels, explainer.image_size() as u32);
        let fitted = TrainSet::load(&category.train, channels, size, &mut |_, _| {})
            .map_err(|e| e.to_string())
            .and_then(|set| {
                let fitted = explainer
                    .stats
                    .fill_missing(&explainer.model, &set, explainer.tiling, &explainer.device)
                    .map_err(|e| e.to_string())?;
                Ok((fitted, set.n))
            });
        match fitted {
            Ok((fitted, n)) => {
                let note = format!(
                    "the model lacked {}: fitted over the {n} training images",
                    fitted.join(" and ")
                );
                self.send(Event::Info(note));
            }
            Err(e) => self.send(Event::Error(format!(
                "no feature statistics for feature-distance and feature-knn: {e}"
            ))),
        }
    }

    /// Scores one test image (every method), through the library's own scoring so the maps are
    /// exactly those of `vaelens eval`/`export`; finishes the report after the last one. Between
    /// methods and batches of windows it serves the interactive requests that arrived and keeps
    /// the other commands for later.
    fn score_step(&mut self) {
        let Self {
            model: Some(model),
            category: Some(category),
            scoring: Some(scoring),
            commands,
            deferred,
            explained,
            events,
            waker,
            methods,
            ..
        } = self
        else {
            self.scoring = None;
            return;
        };
        let total = category.test.len();
        if scoring.next < total {
            let mut between = || {
                let mut interactive = Interactive {
                    model: Some(model),
                    explained: &mut *explained,
                    events,
                    waker,
                };
                let mut arrived: Vec<Command> = commands.try_iter().collect();
                // While the user interacts (a slider drag sends a request every frame), the
                // background work waits, leaving the CPU to the requests and the window.
                while !arrived.is_empty() {
                    let mut served = false;
                    for command in coalesce(arrived) {
                        if is_interactive(&command) {
                            interactive.serve(command);
                            served = true;
                        } else {
                            deferred.push_back(command);
                        }
                    }
                    arrived = if served {
                        commands
                            .recv_timeout(INTERACTION_GRACE)
                            .into_iter()
                            .collect()
                    } else {
                        Vec::new()
                    };
                    arrived.extend(commands.try_iter());
                }
            };
            let test = &category.test[scoring.next];
            match score_test_image(&model.explainer, test, methods, scoring.stage, &mut between) {
                Ok(scored) => scoring.tests.push(scored),
                Err(problem) => {
                    tracing::warn!("skipping test image: {problem}");
                    scoring.notes.push(format!("skipped: {problem}"));
                }
            }
            scoring.next += 1;
            let done = scoring.next;
            self.send(Event::ScoringProgress { done, total });
            return;
        }
        let scoring = self.scoring.take().expect("checked above");
        let method_ids: Vec<MethodId> = self
            .methods
            .iter()
            .map(|m| MethodId::of(m.as_ref()))
            .collect();
        // The metrics rank every pixel of every test image and label regions: seconds on large
        // images. They run in a thread of their own, so the worker keeps serving the window.
        self.tickets += 1;
        let ticket = self.tickets;
        self.evaluating = Some((ticket, scoring.generation, scoring.stage));
        let loopback = self.loopback.clone();
        std::thread::Builder::new()
            .name("vaelens-evaluate".into())
            .spawn(move || {
                let set = Arc::new(evaluate(scoring, method_ids));
                let _ = loopback.send(Command::Evaluated { ticket, set });
            })
            .expect("the OS can start a thread");
    }

    fn start_training(&mut self, request: TrainRequest) {
        if self.training.is_some() {
            self.send(Event::Error(
                "training is already running; stop it first".into(),
            ));
            return;
        }
        let Some(category) = self.category.clone() else {
            self.send(Event::Error("open a data folder before training".into()));
            return;
        };
        let resume = if request.resume {
            match &self.model {
                Some(model) => Some(model.checkpoint.clone()),
                None => {
                    self.send(Event::Error("no loaded model to continue from".into()));
                    return;
                }
            }
        } else {
            None
        };
        self.training = Some(TrainingHandle::start(
            self.control.clone(),
            request,
            category,
            resume,
            self.backend.clone(),
            self.events.clone(),
            self.loopback.clone(),
            self.waker.clone(),
        ));
    }

    fn training_ended(&mut self, result: Result<(Box<Checkpoint>, bool), crate::run::RunError>) {
        if let Some(mut training) = self.training.take() {
            training.join();
        }
        match result {
            Ok((checkpoint, cancelled)) => {
                let epochs = checkpoint.state.as_ref().map_or(0, |s| s.epochs_done);
                let how = if cancelled {
                    format!("stopped after {epochs} epoch(s); checkpoint saved")
                } else {
                    format!("finished {epochs} epoch(s)")
                };
                if let Err(e) = self.install_model(*checkpoint, format!("trained ({how})")) {
                    self.send(Event::Error(e.to_string()));
                }
                self.send(Event::Training(TrainingStatus::Ended(how)));
            }
            Err(e) => {
                self.send(Event::Error(format!("training failed: {e}")));
                self.send(Event::Training(TrainingStatus::Ended(format!(
                    "failed: {e}"
                ))));
            }
        }
    }

    fn export_overlays(
        &mut self,
        method: MethodId,
        options: &crate::render::OverlayOptions,
        out: &Path,
        overwrite: bool,
    ) {
        let Some(scored) = &self.scored else {
            self.send(Event::Error(
                "score the test set before exporting overlays".into(),
            ));
            return;
        };
        if !scored.method_ids.contains(&method) {
            self.send(Event::Error(format!(
                "no {method} maps to export: the scored methods are {}",
                scored
                    .method_ids
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
            return;
        }
        let scored = scored.clone();
        let events = self.events.clone();
        let waker = self.waker.clone();
        let result = export_overlays(
            &scored.tests,
            method,
            options,
            out,
            overwrite,
            &mut |done, total| {
                notify(&events, &waker, Event::ExportProgress { done, total });
            },
        );
        match result {
            Ok(paths) => self.send(Event::Written {
                what: format!("{} overlay(s) to {}", paths.len(), out.display()),
                paths,
            }),
            Err(e) => self.send(Event::Error(e.to_string())),
        }
    }

    fn write_report(&mut self, path: &Path) {
        let Some(scored) = &self.scored else {
            self.send(Event::Error(
                "score the test set before writing the report".into(),
            ));
            return;
        };
        let Some(report) = &scored.report else {
            self.send(Event::Error(
                "the evaluation has no report (see its notes)".into(),
            ));
            return;
        };
        match report.write(path, &scored.evaluations) {
            Ok(mut paths) => {
                paths.insert(0, path.to_path_buf());
                self.send(Event::Written {
                    what: format!("report {}", path.display()),
                    paths,
                });
            }
            Err(e) => self.send(Event::Error(format!("report not written: {e}"))),
        }
    }
}

/// The scored test set with its report (None, with the reason in the notes, when it cannot be
/// built).
fn evaluate(scoring: Scoring, method_ids: Vec<MethodId>) -> ScoredSet {
    let mut notes = scoring.notes;
    let built = if scoring.tests.is_empty() {
        Err("no test image could be scored".to_string())
    } else {
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            Report::build(
                &scoring.tests,
                &method_ids,
                notes.clone(),
                Some(scoring.stage),
            )
        }))
        .map_err(|panic| internal_error(panic.as_ref()))
        .and_then(|built| built.map_err(|e| e.to_string()))
    };
    let (report, evaluations) = match built {
        Ok((report, evaluations)) => (Some(report), evaluations),
        Err(why) => {
            notes.push(why);
            (None, BTreeMap::new())
        }
    };
    ScoredSet {
        generation: scoring.generation,
        stage: scoring.stage,
        method_ids,
        tests: scoring.tests,
        report,
        evaluations,
        notes,
    }
}

/// Keeps the newest `Decode` and the newest `Explain` of a batch (at their last positions); every
/// other command is kept in order.
pub(crate) fn coalesce(batch: Vec<Command>) -> Vec<Command> {
    let last_decode = batch
        .iter()
        .rposition(|c| matches!(c, Command::Decode { .. }));
    let last_explain = batch
        .iter()
        .rposition(|c| matches!(c, Command::Explain { .. }));
    batch
        .into_iter()
        .enumerate()
        .filter(|(i, c)| match c {
            Command::Decode { .. } => Some(*i) == last_decode,
            Command::Explain { .. } => Some(*i) == last_explain,
            _ => true,
        })
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_decode_and_explain_survive() {
        let batch = vec![
            Command::Decode {
                seq: 1,
                latent: vec![],
            },
            Command::Explain {
                path: "a".into(),
                stage: 0,
                window: None,
                cam: "gradcam",
            },
            Command::Decode {
                seq: 2,
                latent: vec![],
            },
            Command::PauseTraining,
            Command::Explain {
                path: "b".into(),
                stage: 0,
                window: None,
                cam: "gradcam",
            },
            Command::Decode {
                seq: 3,
                latent: vec![],
            },
        ];
        let kept = coalesce(batch);
        assert_eq!(kept.len(), 3);
        assert!(matches!(kept[0], Command::PauseTraining));
        assert!(matches!(&kept[1], Command::Explain { path, .. } if path == Path::new("b")));
        assert!(matches!(kept[2], Command::Decode { seq: 3, .. }));
    }
}
