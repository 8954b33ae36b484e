//! dSprites in the worker: the gallery opened as a data set, training one of the three models in
//! a thread of its own (pause, resume and stop as for any run), and the disentanglement figures
//! of the model in use, computed in another thread with progress and cancel.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Worker, notify};
use crate::backend::Backend;
use crate::data::dsprites::{GALLERY_NAME, GALLERY_ROOT, IMAGE_SIDE, gallery, gallery_path};
use crate::data::{Category, LayoutKind};
use crate::engine::control::TrainingControl;
use crate::engine::messages::{Command, DspritesTrainRequest, Event, TrainingStatus};
use crate::engine::training::TrainingHandle;
use crate::eval::dsprites::{DspritesEvalConfig, DspritesReport, evaluate_dsprites};
use crate::train::dsprites::{DspritesResume, DspritesRun, DspritesTrainConfig, train_dsprites};

/// Least time between two progress events sent to the window: each one redraws it, which costs
/// tens of milliseconds where it draws in software.
const EVENT_INTERVAL: Duration = Duration::from_millis(250);

/// Lets an event through at most every `EVENT_INTERVAL`, and always when forced.
#[derive(Default)]
struct Throttle(Option<Instant>);

impl Throttle {
    fn due(&mut self, force: bool) -> bool {
        let due = force || self.0.is_none_or(|t| t.elapsed() >= EVENT_INTERVAL);
        if due {
            self.0 = Some(Instant::now());
        }
        due
    }
}

/// Trains (or continues) the run `request` asks for under `control`, reporting warnings and
/// steps through `send` (every checkpoint and the last step always, others throttled); returns
/// the run's record and whether it was stopped.
fn train_in_thread(
    request: DspritesTrainRequest,
    backend: &Backend,
    control: &TrainingControl,
    send: &mut dyn FnMut(Event),
) -> Result<(DspritesRun, bool), String> {
    let DspritesTrainRequest {
        mut config,
        run_dir,
        resume,
    } = request;
    std::fs::create_dir_all(&run_dir)
        .map_err(|e| crate::fsx::with_path(e, &run_dir).to_string())?;
    let resume = if resume {
        let saved = DspritesResume::load(&run_dir, &backend.device).map_err(|e| e.to_string())?;
        for warning in saved.warnings() {
            send(Event::Info(warning.clone()));
        }
        // A continued run keeps its own settings; only the budget comes from the window.
        config = DspritesTrainConfig {
            steps: config.steps,
            ..saved.config().clone()
        };
        Some(saved)
    } else {
        None
    };
    let mut throttle = Throttle::default();
    let cancel = control.cancel_flag();
    let (_, run) = train_dsprites(&config, &run_dir, resume, backend, cancel, &mut |report| {
        if throttle.due(report.checkpoint || report.terms.step == report.steps) {
            send(Event::DspritesStep(report.clone()));
        }
        // Pause holds the loop here, after the step.
        while control.is_paused() {
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .map_err(|e| e.to_string())?;
    Ok((run, control.is_cancelled()))
}

/// A disentanglement evaluation under way.
pub(super) struct Disentangling {
    ticket: u64,
    generation: u64,
    cancel: Arc<AtomicBool>,
}

impl Worker {
    pub(super) fn open_dsprites(&mut self) {
        let category = Category {
            root: PathBuf::from(GALLERY_ROOT),
            name: GALLERY_NAME.into(),
            kind: LayoutKind::PlainFolder,
            train: gallery().into_iter().map(gallery_path).collect(),
            test: Vec::new(),
            notes: vec![
                "built in: a gallery of 72 sprites rendered on demand; training draws random \
                 batches from the whole grid of 737,280 images"
                    .into(),
            ],
        };
        self.install_category(category);
    }

    pub(super) fn start_dsprites_training(&mut self, request: DspritesTrainRequest) {
        if self.training.is_some() {
            self.send(Event::Error(
                "training is already running; stop it first".into(),
            ));
            return;
        }
        let control = self.control.clone();
        control.begin();
        let (backend, events, waker) = (
            self.backend.clone(),
            self.events.clone(),
            self.waker.clone(),
        );
        let loopback = self.loopback.clone();
        let thread_control = control.clone();
        let trainer = std::thread::Builder::new()
            .name("vaelens-train-dsprites".into())
            .spawn(move || {
                let run_dir = request.run_dir.clone();
                notify(&events, &waker, Event::Training(TrainingStatus::Running));
                let result = train_in_thread(request, &backend, &thread_control, &mut |event| {
                    if let Event::DspritesStep(report) = &event
                        && report.checkpoint
                    {
                        let _ = loopback.send(Command::CheckpointWritten(run_dir.clone()));
                    }
                    notify(&events, &waker, event);
                });
                let _ = loopback.send(Command::DspritesTrainingEnded(run_dir, result));
            })
            .expect("the OS can start a thread");
        self.training = Some(TrainingHandle::from_thread(control, trainer));
    }

    pub(super) fn dsprites_training_ended(
        &mut self,
        run_dir: PathBuf,
        result: Result<(DspritesRun, bool), String>,
    ) {
        if let Some(mut training) = self.training.take() {
            training.join();
        }
        let ended = result.and_then(|(run, cancelled)| {
            let steps = run.steps_done;
            let how = if cancelled {
                format!("stopped after {steps} step(s); checkpoint saved")
            } else {
                format!("finished {steps} step(s)")
            };
            let source = format!("{} ({how}) {}", run.config.model.title(), run_dir.display());
            crate::checkpoint::Checkpoint::load_run(&run_dir)
                .and_then(|c| self.install_model(c, source))
                .map_err(|e| e.to_string())?;
            Ok(how)
        });
        match ended {
            Ok(how) => self.send(Event::Training(TrainingStatus::Ended(how))),
            Err(e) => {
                self.send(Event::Error(format!("training failed: {e}")));
                self.send(Event::Training(TrainingStatus::Ended(format!(
                    "failed: {e}"
                ))));
            }
        }
    }

    pub(super) fn evaluate_disentanglement(&mut self, config: DspritesEvalConfig) {
        let Some(model) = &self.model else {
            self.send(Event::Error(
                "no model to evaluate: train or load one first".into(),
            ));
            return;
        };
        if self.disentangling.is_some() {
            self.send(Event::Info(
                "the disentanglement figures are already being computed".into(),
            ));
            return;
        }
        let c = &model.checkpoint.config;
        if c.channels != 1 || c.input_size != IMAGE_SIDE {
            self.send(Event::Error(format!(
                "the disentanglement figures need a model of {IMAGE_SIDE} x {IMAGE_SIDE} gray \
                 images (dSprites); this one takes {} x {} with {} channel(s)",
                c.input_size, c.input_size, c.channels
            )));
            return;
        }
        self.tickets += 1;
        let (ticket, generation) = (self.tickets, model.info.generation);
        let cancel = Arc::new(AtomicBool::new(false));
        self.disentangling = Some(Disentangling {
            ticket,
            generation,
            cancel: cancel.clone(),
        });
        // Scoring needs no gradients, and forward passes on an autodiff device keep their graphs.
        let device = self.backend.device.clone().without_autodiff();
        let checkpoint = model.checkpoint.clone();
        let (events, waker, loopback) = (
            self.events.clone(),
            self.waker.clone(),
            self.loopback.clone(),
        );
        std::thread::Builder::new()
            .name("vaelens-disentanglement".into())
            .spawn(move || {
                let result = checkpoint
                    .build(&device)
                    .map_err(|e| e.to_string())
                    .map(|model| {
                        let mut throttle = Throttle::default();
                        evaluate_dsprites(&model, &device, &config, &mut |done, total| {
                            if throttle.due(done == 0 || done == total) {
                                let progress = Event::DisentanglementProgress { done, total };
                                notify(&events, &waker, progress);
                            }
                            !cancel.load(Ordering::Relaxed)
                        })
                    });
                let _ = loopback.send(Command::DisentanglementDone { ticket, result });
            })
            .expect("the OS can start a thread");
    }

    pub(super) fn cancel_disentanglement(&mut self) {
        if let Some(job) = &self.disentangling {
            job.cancel.store(true, Ordering::Relaxed);
        }
    }

    pub(super) fn disentanglement_done(
        &mut self,
        ticket: u64,
        result: Result<Option<DspritesReport>, String>,
    ) {
        let Some(job) = self.disentangling.take_if(|job| job.ticket == ticket) else {
            return;
        };
        match result {
            Ok(Some(report)) => self.send(Event::Disentanglement {
                generation: job.generation,
                report: Arc::new(report),
            }),
            Ok(None) => self.send(Event::Info("disentanglement evaluation cancelled".into())),
            Err(e) => self.send(Event::Error(format!(
                "the disentanglement figures failed: {e}"
            ))),
        }
    }
}
