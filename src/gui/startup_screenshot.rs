//! The screenshot asked for on the command line (`--screenshot FILE`): taken once the panel
//! shows what it is for (the maps explained, the test set scored and drawn, ...). When that state
//! cannot come (the model or the data folder does not load) or does not come within the time
//! allowed, no screenshot is written and the failure says why; the command line exits non-zero.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eframe::egui;

use super::shared::Write;
use super::{App, Tab};

/// How long the window may take to get ready unless told otherwise.
const DEFAULT_SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(600);

/// How long the window must stay ready before the picture is taken (textures settle).
const SETTLE: Duration = Duration::from_millis(800);

/// Where the window reports that the start-up screenshot failed (shared with whoever runs it).
#[derive(Debug, Clone, Default)]
pub struct ScreenshotOutcome(Arc<Mutex<Option<String>>>);

impl ScreenshotOutcome {
    /// Why no screenshot was written, if it was not.
    pub fn failure(&self) -> Option<String> {
        self.0.lock().map(|f| f.clone()).unwrap_or(None)
    }

    fn fail(&self, why: String) {
        if let Ok(mut failure) = self.0.lock() {
            failure.get_or_insert(why);
        }
    }
}

/// A load the window asked for at start.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Load {
    #[default]
    NotAsked,
    Pending(PathBuf),
    Done,
    /// The worker's error.
    Failed(String),
}

impl Load {
    /// The worker answered the load.
    pub fn settle(&mut self) {
        if matches!(self, Load::Pending(_)) {
            *self = Load::Done;
        }
    }
}

/// The data folder and the model asked for at start, and what came of them.
#[derive(Debug, Default)]
pub struct StartupLoads {
    pub data: Load,
    pub model: Load,
}

impl StartupLoads {
    /// An error from the worker: the first one after a load was asked is that load's answer
    /// (the worker serves commands in order, the data folder before the model).
    pub fn on_error(&mut self, error: &str) {
        for load in [&mut self.data, &mut self.model] {
            if let Load::Pending(_) = load {
                *load = Load::Failed(error.to_string());
                return;
            }
        }
    }
}

/// Whether the panel shows what the screenshot is for.
#[derive(Debug, PartialEq)]
pub enum Readiness {
    Ready,
    /// Still coming: what the window waits for.
    Waiting(String),
    /// Cannot come: why.
    Impossible(String),
}

pub struct StartupScreenshot {
    pub path: PathBuf,
    pub exit_after: bool,
    timeout: Duration,
    deadline: Instant,
    ready_since: Option<Instant>,
    /// Asked of the window: the picture is on its way to the worker.
    requested: bool,
    written: bool,
    outcome: ScreenshotOutcome,
}

impl StartupScreenshot {
    pub fn new(
        path: PathBuf,
        exit_after: bool,
        timeout: Option<Duration>,
        outcome: ScreenshotOutcome,
    ) -> Self {
        let timeout = timeout.unwrap_or(DEFAULT_SCREENSHOT_TIMEOUT);
        Self {
            path,
            exit_after,
            timeout,
            deadline: Instant::now() + timeout,
            ready_since: None,
            requested: false,
            written: false,
            outcome,
        }
    }

    pub fn is_open(&self) -> bool {
        !self.written && self.outcome.failure().is_none()
    }
}

impl App {
    /// Why no start-up screenshot was written, once that is known.
    pub fn screenshot_failure(&self) -> Option<String> {
        self.startup_screenshot
            .as_ref()
            .and_then(|s| s.outcome.failure())
    }

    /// What the start-up screenshot waits for on the current panel.
    pub fn readiness(&self) -> Readiness {
        use Readiness::{Impossible, Ready, Waiting};
        let needs_model = !matches!(self.tab, Tab::Data | Tab::Training);
        // The worker's messages name the file.
        if let Load::Failed(error) = &self.startup.data {
            return Impossible(format!("the data folder could not be opened: {error}"));
        }
        if let (Load::Failed(error), true) = (&self.startup.model, needs_model) {
            return Impossible(format!("the model could not be loaded: {error}"));
        }
        if matches!(self.startup.data, Load::Pending(_)) {
            return Waiting("the data folder to open".into());
        }
        if matches!(self.startup.model, Load::Pending(_)) {
            return Waiting("the model to load".into());
        }
        let shared = &self.shared;
        if !needs_model {
            return Ready;
        }
        if shared.model.is_none() {
            return Impossible(format!(
                "the {} panel needs a model: pass --model",
                self.tab.title()
            ));
        }
        let Some(data) = &shared.data else {
            return Impossible(format!(
                "the {} panel needs a data set: pass a data folder",
                self.tab.title()
            ));
        };
        let selected = || {
            shared
                .selected
                .as_ref()
                .map_or("the first image".into(), |p| p.display().to_string())
        };
        match self.tab {
            Tab::Data | Tab::Training => Ready,
            Tab::Attention if shared.explained.is_none() => {
                Waiting(format!("the attention maps of {}", selected()))
            }
            Tab::Traversal if shared.explained.is_none() || self.traversal.decoded.is_none() => {
                Waiting(format!("the decoded latent of {}", selected()))
            }
            // dSprites' figures are computed when asked for, not at start.
            Tab::Metrics if shared.is_dsprites() => Ready,
            Tab::Anomaly | Tab::Metrics if data.category.test.is_empty() => Impossible(format!(
                "{} has no test split (CAT/test/<defect>/): nothing to score",
                data.category.root.display()
            )),
            Tab::Anomaly | Tab::Metrics if shared.scored.is_none() => {
                Waiting(match shared.scoring {
                    Some((done, total)) => format!("the test set to be scored ({done}/{total})"),
                    None => "the test set to be scored".into(),
                })
            }
            Tab::Anomaly if self.anomaly.figures().is_none() => {
                Waiting(format!("the anomaly overlay of {}", selected()))
            }
            _ => Ready,
        }
    }

    /// Takes the start-up screenshot once the panel has been ready for a moment, or gives up
    /// with a message when it cannot get ready.
    pub(super) fn startup_screenshot_step(&mut self, ctx: &egui::Context) {
        let readiness = self.readiness();
        let Some(shot) = self.startup_screenshot.as_mut() else {
            return;
        };
        if shot.requested || !shot.is_open() {
            return;
        }
        let failure = match readiness {
            Readiness::Ready => {
                let since = *shot.ready_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= SETTLE {
                    shot.requested = true;
                    let path = shot.path.clone();
                    self.write(ctx, Write::Screenshot(path), true);
                }
                None
            }
            Readiness::Waiting(what) => {
                shot.ready_since = None;
                (Instant::now() >= shot.deadline).then(|| {
                    format!(
                        "no screenshot written: after {} s the window still waited for {what} \
                         (--screenshot-timeout sets the time allowed)",
                        shot.timeout.as_secs()
                    )
                })
            }
            Readiness::Impossible(why) => Some(format!("no screenshot written: {why}")),
        };
        if let Some(why) = failure {
            self.fail_screenshot(ctx, why);
        }
    }

    /// Records why the start-up screenshot failed, shows it, and closes a window that was to
    /// close after it.
    pub(super) fn fail_screenshot(&mut self, ctx: &egui::Context, why: String) {
        let Some(shot) = &self.startup_screenshot else {
            return;
        };
        shot.outcome.fail(why.clone());
        if shot.exit_after {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        self.shared.error(why);
    }

    /// The worker wrote `paths`: closes the window when the start-up screenshot is among them
    /// and it was to close after it.
    pub(super) fn screenshot_written(&mut self, ctx: &egui::Context, paths: &[PathBuf]) {
        if let Some(shot) = &mut self.startup_screenshot
            && paths.contains(&shot.path)
        {
            shot.written = true;
            if shot.exit_after {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }

    /// An error while the start-up screenshot was being written ends it.
    pub(super) fn screenshot_write_failed(&mut self, ctx: &egui::Context, error: &str) {
        if let Some(shot) = &self.startup_screenshot
            && shot.requested
            && shot.is_open()
        {
            let why = format!("the screenshot was not written: {error}");
            self.fail_screenshot(ctx, why);
        }
    }

    /// The window closes: a screenshot that was asked for and never written is a failure.
    pub(super) fn screenshot_on_exit(&self) {
        if let Some(shot) = &self.startup_screenshot
            && shot.is_open()
        {
            shot.outcome
                .fail("the window was closed before the screenshot was taken".into());
        }
    }
}
