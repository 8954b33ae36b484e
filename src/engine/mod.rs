//! The explorer's worker: one thread owns the compute device and the model. The window sends
//! [`Command`]s and draws the [`Event`]s that come back; it never waits on the worker.
//!
//! Interactive requests are coalesced: of several queued `Decode` (or `Explain`) commands only the
//! newest is served, so dragging a latent slider never queues up work. Long jobs (scoring the
//! test set) run one image at a time, and within an image interactive requests are served
//! between batches of windows, so they never wait for background work. Training runs in a
//! second thread; pause, resume and stop reach it through a command router that acts at once,
//! whatever the worker is doing. Each checkpoint training writes is loaded back here, so the
//! user keeps exploring the latest weights while training goes on.

mod control;
mod images;
mod interactive;
mod messages;
mod priority;
mod training;
mod worker;

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, unbounded};

pub use messages::{
    Command, DataSummary, DspritesTrainRequest, Event, Explained, GroupSummary, ModelInfo,
    ScoredSet, TrainRequest, TrainingStatus,
};

use crate::backend::{Backend, BackendChoice};

/// Called after each event is sent, e.g. to make the window repaint.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// A running worker: its command sender, its event receiver and its thread.
pub struct Engine {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts a detached worker that opens the device for `choice` itself; it runs until it
    /// receives [`Command::Shutdown`].
    pub fn spawn(choice: BackendChoice) -> (Sender<Command>, Receiver<Event>) {
        let mut engine = Self::start(BackendSource::Choice(choice), None);
        engine.thread.take();
        (engine.commands.clone(), engine.events.clone())
    }

    /// Starts a worker on `backend` (or on the device for `choice` when `None`), calling `waker`
    /// after each event.
    pub fn start(source: BackendSource, waker: Option<Waker>) -> Self {
        let (command_tx, command_rx) = unbounded();
        let (worker_tx, worker_rx) = unbounded();
        let (event_tx, event_rx) = unbounded();
        let control = control::TrainingControl::default();
        {
            let (worker_tx, control) = (worker_tx.clone(), control.clone());
            let (event_tx, waker) = (event_tx.clone(), waker.clone());
            std::thread::Builder::new()
                .name("vaelens-commands".into())
                .spawn(move || control::route(command_rx, worker_tx, control, event_tx, waker))
                .expect("the OS can start a thread");
        }
        let channels = worker::Channels {
            commands: worker_rx,
            events: event_tx.clone(),
            loopback: worker_tx,
            waker,
            control,
        };
        let thread = std::thread::Builder::new()
            .name("vaelens-engine".into())
            .spawn(move || {
                priority::lower_this_thread();
                let backend = match source {
                    BackendSource::Ready(backend) => backend,
                    BackendSource::Choice(choice) => match crate::backend::select(choice) {
                        Ok(backend) => backend,
                        Err(e) => {
                            // Not an error of anything the window asked: the status bar
                            // shows the CPU backend, this says why.
                            let _ =
                                event_tx.send(Event::Info(format!("{e}; falling back to the CPU")));
                            crate::backend::select(BackendChoice::Cpu)
                                .expect("the CPU backend always opens")
                        }
                    },
                };
                worker::Worker::new(backend, channels).run();
            })
            .expect("the OS can start a thread");
        Self {
            commands: command_tx,
            events: event_rx,
            thread: Some(thread),
        }
    }

    /// Asks the worker to stop (cancelling training, which then saves its checkpoint) and waits
    /// for it to finish. Does nothing for a detached worker or one already shut down.
    pub fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.commands.send(Command::Shutdown);
            let _ = thread.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Where the worker's device comes from.
pub enum BackendSource {
    /// Already opened (e.g. to share its wgpu device with the window).
    Ready(Backend),
    /// Opened by the worker.
    Choice(BackendChoice),
}
