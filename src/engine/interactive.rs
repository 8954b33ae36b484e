//! The requests a user waits for (explain an image, decode a latent, a traversal grid, read an
//! image for display): served between commands, and also in the middle of background scoring,
//! between two batches of windows, so they never queue behind a whole test image.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::Sender;
use image::RgbaImage;

use super::Waker;
use super::images::read_rgba;
use super::messages::{Command, Event, Explained, ModelInfo};
use super::worker::notify;
use crate::checkpoint::Checkpoint;
use crate::data::{load_image, to_model_input};
use crate::explain::cam::cam_method;
use crate::explain::{AttentionTarget, Explainer, image_from_chw};
use crate::render::to_rgba;

/// The model in use.
pub struct Model {
    pub explainer: Explainer,
    pub checkpoint: Checkpoint,
    pub info: Arc<ModelInfo>,
}

/// Image, stage, patch window and CAM rule of an explanation.
pub type ExplainKey = (PathBuf, usize, Option<(usize, usize)>, &'static str);

/// Explanations already computed for the model in use.
pub type ExplainCache = HashMap<ExplainKey, Arc<Explained>>;

/// Whether `command` is one a user waits for, served even while the test set is being scored.
pub fn is_interactive(command: &Command) -> bool {
    matches!(
        command,
        Command::Explain { .. }
            | Command::Decode { .. }
            | Command::Traverse { .. }
            | Command::LoadImage(_)
    )
}

/// What serving an interactive request needs: the model, the cache and the way to the window.
pub struct Interactive<'a> {
    pub model: Option<&'a Model>,
    pub explained: &'a mut ExplainCache,
    pub events: &'a Sender<Event>,
    pub waker: &'a Option<Waker>,
}

impl Interactive<'_> {
    fn send(&self, event: Event) {
        notify(self.events, self.waker, event);
    }

    /// Serves one interactive request (others are ignored); a panic becomes an error event.
    pub fn serve(&mut self, command: Command) {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| match command {
            Command::Explain {
                path,
                stage,
                window,
                cam,
            } => self.explain(&path, stage, window, cam),
            Command::Decode { seq, latent } => self.decode(seq, &latent),
            Command::Traverse { mu, dims, values } => self.traverse(&mu, dims, values),
            Command::LoadImage(path) => match read_rgba(&path) {
                Ok(image) => self.send(Event::Image { path, image }),
                Err(e) => self.send(Event::Error(e.to_string())),
            },
            _ => {}
        }));
        if let Err(panic) = outcome {
            self.send(Event::Error(internal_error(panic.as_ref())));
        }
    }

    fn explain(
        &mut self,
        path: &Path,
        stage: usize,
        window: Option<(usize, usize)>,
        cam_id: &'static str,
    ) {
        let Some(model) = self.model else {
            return;
        };
        let Some(cam) = cam_method(cam_id) else {
            self.send(Event::Error(format!("no CAM rule is called {cam_id}")));
            return;
        };
        let key = (path.to_path_buf(), stage, window, cam_id);
        if let Some(hit) = self.explained.get(&key) {
            self.send(Event::Explained(hit.clone()));
            return;
        }
        let explainer = &model.explainer;
        let stage = stage.min(explainer.config.stage_count() - 1);
        let image = match load_image(path) {
            Ok(img) => img,
            Err(e) => {
                self.send(Event::Error(e.to_string()));
                return;
            }
        };
        let config = &explainer.config;
        let size = config.input_size as u32;
        // A patch model explains one window of the image: the centre one unless asked.
        let (input, window) = explainer.view_at(
            &to_model_input(&image, config.channels, explainer.image_size() as u32),
            window,
        );
        let maps = explainer.attention(&input, stage, AttentionTarget::Mu, cam.as_ref());
        let reconstruction = explainer.reconstruct(&input);
        let (kl, difference) = explainer.latent_summary(&maps.mu, &maps.logvar);
        let explained = Arc::new(Explained {
            path: path.to_path_buf(),
            stage,
            cam: cam_id,
            generation: model.info.generation,
            window,
            original: to_rgba(&image),
            input: to_rgba(&image_from_chw(&input, config.channels, size)),
            reconstruction: to_rgba(&image_from_chw(&reconstruction, config.channels, size)),
            maps,
            kl,
            difference,
        });
        self.explained.insert(key, explained.clone());
        self.send(Event::Explained(explained));
    }

    fn decode(&mut self, seq: u64, latent: &[f32]) {
        let Some(model) = self.model else {
            return;
        };
        let config = &model.explainer.config;
        if latent.len() != config.latent_dim {
            return;
        }
        let image = model
            .explainer
            .decode(latent)
            .into_iter()
            .next()
            .map(|chw| {
                to_rgba(&image_from_chw(
                    &chw,
                    config.channels,
                    config.input_size as u32,
                ))
            })
            .unwrap_or_default();
        self.send(Event::Decoded { seq, image });
    }

    fn traverse(&mut self, mu: &[f32], dims: Vec<usize>, values: Vec<f32>) {
        let Some(model) = self.model else {
            return;
        };
        let config = &model.explainer.config;
        if mu.len() != config.latent_dim || dims.iter().any(|&d| d >= config.latent_dim) {
            return;
        }
        let tiles: Vec<RgbaImage> = model
            .explainer
            .traversal(mu, &dims, &values)
            .iter()
            .map(|chw| {
                to_rgba(&image_from_chw(
                    chw,
                    config.channels,
                    config.input_size as u32,
                ))
            })
            .collect();
        self.send(Event::Traversal {
            dims,
            values,
            tiles,
        });
    }
}

/// The message of a caught panic, for the error panel.
pub fn internal_error(panic: &(dyn std::any::Any + Send)) -> String {
    let what = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error (the explorer keeps running): {what}")
}
