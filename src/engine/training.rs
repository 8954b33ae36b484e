//! Training in a thread of its own, controlled by the worker.
//!
//! Pause needs no hook in the training loop: its events go through a channel without capacity,
//! and while paused the forwarding thread stops reading it, so the loop blocks on the `send`
//! after the step in flight. Stop sets the loop's cancel flag, which it checks after every step;
//! the loop then saves a checkpoint (atomically) and returns. Both flags live in the
//! [`TrainingControl`] that the command router sets the moment the window asks.

use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender, bounded};

use super::control::TrainingControl;
use super::messages::{Command, Event, TrainRequest, TrainingStatus};
use super::{Waker, worker::notify};
use crate::backend::Backend;
use crate::checkpoint::Checkpoint;
use crate::data::Category;
use crate::run::{RunError, RunOutcome, execute, plan_run};
use crate::train::TrainEvent;

pub struct TrainingHandle {
    control: TrainingControl,
    trainer: Option<JoinHandle<()>>,
    forwarder: Option<JoinHandle<()>>,
}

impl TrainingHandle {
    /// Loads the training images and trains, in new threads, under `control` (which this run
    /// begins and ends).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        control: TrainingControl,
        request: TrainRequest,
        category: Category,
        resume: Option<Checkpoint>,
        backend: Backend,
        events: Sender<Event>,
        loopback: Sender<Command>,
        waker: Option<Waker>,
    ) -> Self {
        control.begin();
        let (train_tx, train_rx) = bounded::<TrainEvent>(0);

        let forwarder = {
            let control = control.clone();
            let (events, loopback, waker) = (events.clone(), loopback.clone(), waker.clone());
            std::thread::Builder::new()
                .name("vaelens-train-events".into())
                .spawn(move || {
                    loop {
                        if control.is_paused() {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                        match train_rx.recv_timeout(Duration::from_millis(50)) {
                            Ok(event) => {
                                if let TrainEvent::Checkpoint(dir) = &event {
                                    let _ = loopback.send(Command::CheckpointWritten(dir.clone()));
                                }
                                notify(&events, &waker, Event::Train(event));
                            }
                            Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Disconnected) => break,
                        }
                    }
                })
                .expect("the OS can start a thread")
        };

        let trainer = {
            let control = control.clone();
            std::thread::Builder::new()
                .name("vaelens-train".into())
                .spawn(move || {
                    let result = run(
                        request,
                        &category,
                        resume,
                        backend,
                        &events,
                        &waker,
                        train_tx,
                        control.cancel_flag(),
                    );
                    let _ = loopback.send(Command::TrainingEnded(result));
                })
                .expect("the OS can start a thread")
        };
        Self {
            control,
            trainer: Some(trainer),
            forwarder: Some(forwarder),
        }
    }

    /// A run in the thread `trainer`, which began `control` and reports through its own events.
    pub fn from_thread(control: TrainingControl, trainer: JoinHandle<()>) -> Self {
        Self {
            control,
            trainer: Some(trainer),
            forwarder: None,
        }
    }

    /// Stops and waits until the checkpoint is written.
    pub fn stop_and_join(&mut self) {
        self.control.stop();
        self.join();
    }

    /// Waits for the threads to end and marks the run ended.
    pub fn join(&mut self) {
        if let Some(t) = self.trainer.take() {
            let _ = t.join();
        }
        if let Some(t) = self.forwarder.take() {
            let _ = t.join();
        }
        self.control.end();
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    request: TrainRequest,
    category: &Category,
    resume: Option<Checkpoint>,
    backend: Backend,
    events: &Sender<Event>,
    waker: &Option<Waker>,
    train_tx: Sender<TrainEvent>,
    cancel: &AtomicBool,
) -> Result<(Box<Checkpoint>, bool), RunError> {
    notify(events, waker, Event::Training(TrainingStatus::Loading));
    let plan = plan_run(
        category,
        &request.options,
        &request.run_dir,
        resume.as_ref(),
        &mut |_, _| {},
    )?;
    for skipped in &plan.data.skipped {
        notify(
            events,
            waker,
            Event::Error(format!("skipped a training image: {}", skipped.reason)),
        );
    }
    notify(events, waker, Event::Info(plan.describe()));
    notify(events, waker, Event::Training(TrainingStatus::Running));
    let job = plan.job(backend, resume, &category.root);
    Ok(match execute(job, &train_tx, cancel)? {
        RunOutcome::Finished(checkpoint) => (Box::new(checkpoint), false),
        RunOutcome::Cancelled(checkpoint) => (Box::new(checkpoint), true),
    })
}
