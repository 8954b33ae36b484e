//! Pause, resume and stop reach the training thread at once, whatever the worker is busy with.
//!
//! The window's commands pass through a small router thread before the worker: it applies
//! `PauseTraining`, `ResumeTraining` and `StopTraining` to flags the training thread reads after
//! every step, answers with the new status straight away, and forwards every other command in
//! order. So a stop asked for while the worker scores a large test image takes effect after the
//! training step in flight, not after the image.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender};

use super::Waker;
use super::messages::{Command, Event, TrainingStatus};
use super::worker::notify;

/// Flags shared by the router, the worker and the training threads of one run at a time.
#[derive(Clone, Default)]
pub struct TrainingControl(Arc<Flags>);

#[derive(Default)]
struct Flags {
    /// A run is going (set by the worker when it starts one, cleared when it ends).
    active: AtomicBool,
    cancel: AtomicBool,
    paused: AtomicBool,
}

impl TrainingControl {
    /// A new run starts: not paused, not cancelled.
    pub fn begin(&self) {
        self.0.cancel.store(false, Ordering::SeqCst);
        self.0.paused.store(false, Ordering::SeqCst);
        self.0.active.store(true, Ordering::SeqCst);
    }

    /// The run has ended.
    pub fn end(&self) {
        self.0.active.store(false, Ordering::SeqCst);
        self.0.paused.store(false, Ordering::SeqCst);
    }

    pub fn is_active(&self) -> bool {
        self.0.active.load(Ordering::SeqCst)
    }

    pub fn is_paused(&self) -> bool {
        self.0.paused.load(Ordering::SeqCst) && !self.is_cancelled()
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancel.load(Ordering::SeqCst)
    }

    /// The flag the training loop checks after every step.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.0.cancel
    }

    /// Stops the run (a paused run resumes to stop, saving its checkpoint).
    pub fn stop(&self) {
        self.0.cancel.store(true, Ordering::SeqCst);
        self.0.paused.store(false, Ordering::SeqCst);
    }

    /// Applies a pause, resume or stop command; returns the status to show, or None when no run
    /// is going or the command is not one of the three.
    pub fn apply(&self, command: &Command) -> Option<TrainingStatus> {
        if !self.is_active() || self.is_cancelled() {
            return None;
        }
        match command {
            Command::PauseTraining => {
                self.0.paused.store(true, Ordering::SeqCst);
                Some(TrainingStatus::Paused)
            }
            Command::ResumeTraining => {
                self.0.paused.store(false, Ordering::SeqCst);
                Some(TrainingStatus::Running)
            }
            Command::StopTraining => {
                self.stop();
                Some(TrainingStatus::Stopping)
            }
            _ => None,
        }
    }
}

/// Whether `command` controls a training run (and is served by the router).
pub fn is_training_control(command: &Command) -> bool {
    matches!(
        command,
        Command::PauseTraining | Command::ResumeTraining | Command::StopTraining
    )
}

/// The router's loop: runs until `Shutdown` (forwarded) or until every sender is gone.
pub fn route(
    commands: Receiver<Command>,
    worker: Sender<Command>,
    control: TrainingControl,
    events: Sender<Event>,
    waker: Option<Waker>,
) {
    for command in commands.iter() {
        if is_training_control(&command) {
            if let Some(status) = control.apply(&command) {
                notify(&events, &waker, Event::Training(status));
            }
            continue;
        }
        let shutdown = matches!(command, Command::Shutdown);
        if worker.send(command).is_err() || shutdown {
            return;
        }
    }
    let _ = worker.send(Command::Shutdown);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::unbounded;

    /// The router answers pause and stop with the worker's queue untouched (as when the worker
    /// is busy), and forwards everything else in order.
    #[test]
    fn pause_and_stop_never_wait_for_the_worker() {
        let (command_tx, command_rx) = unbounded();
        let (worker_tx, worker_rx) = unbounded();
        let (event_tx, event_rx) = unbounded();
        let control = TrainingControl::default();
        control.begin();
        let router = {
            let control = control.clone();
            std::thread::spawn(move || route(command_rx, worker_tx, control, event_tx, None))
        };
        command_tx.send(Command::PauseTraining).unwrap();
        assert!(matches!(
            event_rx.recv().unwrap(),
            Event::Training(TrainingStatus::Paused)
        ));
        assert!(control.is_paused());
        command_tx.send(Command::Score { stage: 1 }).unwrap();
        command_tx.send(Command::StopTraining).unwrap();
        assert!(matches!(
            event_rx.recv().unwrap(),
            Event::Training(TrainingStatus::Stopping)
        ));
        assert!(control.is_cancelled() && !control.is_paused());
        command_tx.send(Command::Shutdown).unwrap();
        router.join().unwrap();
        let forwarded: Vec<Command> = worker_rx.try_iter().collect();
        assert!(matches!(
            forwarded.as_slice(),
            [Command::Score { stage: 1 }, Command::Shutdown]
        ));
        // No run: nothing to pause, no status.
        control.end();
        assert_eq!(control.apply(&Command::PauseTraining), None);
    }
}
