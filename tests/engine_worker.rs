//! The explorer's worker without a window: decode requests are coalesced; training can be
//! paused, resumed and stopped while the model stays explorable; shutting down mid-training
//! leaves a loadable checkpoint; image files are written and read for the window.

mod common;

use common::{sample_data, tiny_model};

use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use vaelens::backend::BackendChoice;
use vaelens::checkpoint::Checkpoint;
use vaelens::engine::{BackendSource, Command, Engine, Event, TrainRequest, TrainingStatus};
use vaelens::run::{EncoderChoice, RunOptions, Window};
use vaelens::train::{TrainConfig, TrainEvent};

/// Waits for the first event `pick` accepts, failing on timeout.
fn wait_for<T>(
    events: &Receiver<Event>,
    what: &str,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(Event::Error(e)) if what != "an error" => eprintln!("engine error: {e}"),
            Ok(event) => {
                if let Some(found) = pick(event) {
                    return found;
                }
            }
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

#[test]
fn decode_requests_are_coalesced() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(BackendSource::Choice(BackendChoice::Cpu), None);
    engine
        .commands
        .send(Command::LoadModel(tiny_model(dir.path(), 3)))
        .unwrap();
    wait_for(&engine.events, "the model", |e| {
        matches!(e, Event::Model(_)).then_some(())
    });
    for seq in 1..=200u64 {
        engine
            .commands
            .send(Command::Decode {
                seq,
                latent: vec![seq as f32 / 100.0; 4],
            })
            .unwrap();
    }
    let mut served = Vec::new();
    wait_for(&engine.events, "the newest decode", |e| match e {
        Event::Decoded { seq, image } => {
            assert_eq!(image.dimensions(), (32, 32));
            served.push(seq);
            (seq == 200).then_some(())
        }
        _ => None,
    });
    assert!(
        served.len() < 200,
        "stale decodes were dropped: served {}",
        served.len()
    );
    assert!(served.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn training_pauses_resumes_stops_and_survives_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let mut engine = Engine::start(BackendSource::Choice(BackendChoice::Cpu), None);
    let commands = engine.commands.clone();
    let events = engine.events.clone();
    commands.send(Command::OpenData(sample_data())).unwrap();
    wait_for(&events, "the data", |e| {
        matches!(e, Event::Data(_)).then_some(())
    });
    commands
        .send(Command::StartTraining(TrainRequest {
            options: RunOptions {
                image_size: 32,
                window: Window::WholeImage,
                latent_dim: 4,
                epochs: Some(50),
                train: TrainConfig {
                    batch_size: 16,
                    checkpoint_every: 1,
                    ..TrainConfig::default()
                },
                ..RunOptions::default()
            },
            run_dir: run_dir.clone(),
            resume: false,
        }))
        .unwrap();
    // The first checkpoint is loaded back: the model can be explored while training runs.
    wait_for(&events, "the first checkpoint's model", |e| match e {
        Event::Model(info) => Some(info),
        _ => None,
    });
    commands
        .send(Command::Decode {
            seq: 1,
            latent: vec![0.0; 4],
        })
        .unwrap();
    wait_for(&events, "a decode during training", |e| {
        matches!(e, Event::Decoded { seq: 1, .. }).then_some(())
    });

    commands.send(Command::PauseTraining).unwrap();
    wait_for(&events, "the pause", |e| {
        matches!(e, Event::Training(TrainingStatus::Paused)).then_some(())
    });
    // At most the steps already in flight arrive; then training stands still.
    std::thread::sleep(Duration::from_millis(1500));
    let _: Vec<Event> = events.try_iter().collect();
    std::thread::sleep(Duration::from_millis(1500));
    let steps_while_paused = events
        .try_iter()
        .filter(|e| matches!(e, Event::Train(TrainEvent::Step { .. })))
        .count();
    assert_eq!(steps_while_paused, 0, "no training step while paused");

    commands.send(Command::ResumeTraining).unwrap();
    wait_for(&events, "a step after resuming", |e| {
        matches!(e, Event::Train(TrainEvent::Step { .. })).then_some(())
    });

    // Closing mid-training: shutdown stops training, which saves its checkpoint.
    engine.shutdown();
    let checkpoint = Checkpoint::load_run(&run_dir).expect("the checkpoint is intact");
    let state = checkpoint.state.expect("training state saved");
    assert!(state.steps_done > 0);
    assert!(state.epochs_done < 50);
}

#[test]
fn stop_ends_training_with_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let engine = Engine::start(BackendSource::Choice(BackendChoice::Cpu), None);
    engine
        .commands
        .send(Command::OpenData(sample_data()))
        .unwrap();
    wait_for(&engine.events, "the data", |e| {
        matches!(e, Event::Data(_)).then_some(())
    });
    engine
        .commands
        .send(Command::StartTraining(TrainRequest {
            options: RunOptions {
                image_size: 32,
                encoder: EncoderChoice::Scratch,
                latent_dim: 4,
                epochs: Some(50),
                train: TrainConfig {
                    batch_size: 16,
                    ..TrainConfig::default()
                },
                ..RunOptions::default()
            },
            run_dir: run_dir.clone(),
            resume: false,
        }))
        .unwrap();
    wait_for(&engine.events, "a step", |e| {
        matches!(e, Event::Train(TrainEvent::Step { .. })).then_some(())
    });
    engine.commands.send(Command::PauseTraining).unwrap();
    engine.commands.send(Command::StopTraining).unwrap();
    let how = wait_for(&engine.events, "the end of training", |e| match e {
        Event::Training(TrainingStatus::Ended(how)) => Some(how),
        _ => None,
    });
    assert!(how.contains("stopped"), "{how}");
    let checkpoint = Checkpoint::load_run(&run_dir).unwrap();
    let tiling = checkpoint.tiling.expect("the GUI trains a patch VAE");
    assert_eq!((tiling.image_size, tiling.window), (32, 16));
    assert_eq!(checkpoint.config.input_size, 16);
}

#[test]
fn the_worker_writes_pngs_and_reads_images_for_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(BackendSource::Choice(BackendChoice::Cpu), None);
    let image = image::RgbaImage::from_pixel(3, 2, image::Rgba([10, 20, 30, 255]));
    let png = dir.path().join("new/folder/grid.png");
    engine
        .commands
        .send(Command::WritePng {
            image: image.clone(),
            path: png.clone(),
            what: "traversal grid".into(),
        })
        .unwrap();
    let (what, paths) = wait_for(&engine.events, "the written PNG", |e| match e {
        Event::Written { what, paths } => Some((what, paths)),
        _ => None,
    });
    assert_eq!(paths, vec![png.clone()]);
    assert!(what.starts_with("traversal grid"), "{what}");
    assert_eq!(image::open(&png).unwrap().to_rgba8(), image);

    let picture = sample_data().join("test/hole/000.png");
    engine
        .commands
        .send(Command::LoadImage(picture.clone()))
        .unwrap();
    let (path, read) = wait_for(&engine.events, "the image", |e| match e {
        Event::Image { path, image } => Some((path, image)),
        _ => None,
    });
    assert_eq!(path, picture);
    assert_eq!(read, image::open(&picture).unwrap().to_rgba8());

    engine
        .commands
        .send(Command::LoadImage(dir.path().join("missing.png")))
        .unwrap();
    let error = wait_for(&engine.events, "an error", |e| match e {
        Event::Error(e) => Some(e),
        _ => None,
    });
    assert!(error.contains("missing.png"), "{error}");
}

/// While the worker scores the test set in the background, a decode request is answered before
/// the image being scored is finished: interactive requests pre-empt scoring between batches of
/// windows instead of waiting for a whole test image.
#[test]
fn interactive_requests_preempt_background_scoring() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(BackendSource::Choice(BackendChoice::Cpu), None);
    engine
        .commands
        .send(Command::OpenData(sample_data()))
        .unwrap();
    engine
        .commands
        .send(Command::LoadModel(common::tiny_patch_model(dir.path(), 3)))
        .unwrap();
    wait_for(&engine.events, "the model", |e| {
        matches!(e, Event::Model(_)).then_some(())
    });
    engine.commands.send(Command::Score { stage: 0 }).unwrap();
    let mut preempted = 0;
    for seq in 1..=5u64 {
        let done = wait_for(&engine.events, "scoring progress", |e| match e {
            Event::ScoringProgress { done, .. } => Some(done),
            _ => None,
        });
        engine
            .commands
            .send(Command::Decode {
                seq,
                latent: vec![0.1 * seq as f32; 4],
            })
            .unwrap();
        let first = wait_for(
            &engine.events,
            "the decode or the next image",
            |e| match e {
                Event::Decoded { seq: got, .. } if got == seq => Some(true),
                Event::ScoringProgress { done: next, .. } if next > done => Some(false),
                _ => None,
            },
        );
        if first {
            preempted += 1;
            wait_for(&engine.events, "the next image", |e| {
                matches!(e, Event::ScoringProgress { .. }).then_some(())
            });
        }
    }
    assert_eq!(
        preempted, 5,
        "every decode is served before the test image in progress is finished"
    );
    // The evaluation of the finished set (every pixel ranked) runs beside the worker too.
    wait_for(&engine.events, "the last image", |e| match e {
        Event::ScoringProgress { done, total } if done == total => Some(()),
        _ => None,
    });
    engine
        .commands
        .send(Command::Decode {
            seq: 99,
            latent: vec![0.0; 4],
        })
        .unwrap();
    let decoded_first = wait_for(&engine.events, "the decode or the report", |e| match e {
        Event::Decoded { seq: 99, .. } => Some(true),
        Event::Scored(_) => Some(false),
        _ => None,
    });
    assert!(decoded_first, "the decode does not wait for the evaluation");
    let set = wait_for(&engine.events, "the report", |e| match e {
        Event::Scored(set) => Some(set),
        _ => None,
    });
    assert!(set.report.is_some(), "{:?}", set.notes);
}

/// Stop acts at once: the status says "stopping" straight away, then the run ends with its
/// checkpoint; pause and resume answer at once too, even while the worker scores.
#[test]
fn stop_and_pause_answer_at_once_while_the_worker_scores() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let engine = Engine::start(BackendSource::Choice(BackendChoice::Cpu), None);
    engine
        .commands
        .send(Command::OpenData(sample_data()))
        .unwrap();
    engine
        .commands
        .send(Command::LoadModel(common::tiny_patch_model(dir.path(), 3)))
        .unwrap();
    wait_for(&engine.events, "the model", |e| {
        matches!(e, Event::Model(_)).then_some(())
    });
    engine
        .commands
        .send(Command::StartTraining(TrainRequest {
            options: RunOptions {
                image_size: 32,
                window: Window::WholeImage,
                encoder: EncoderChoice::Scratch,
                latent_dim: 4,
                epochs: Some(50),
                train: TrainConfig {
                    batch_size: 16,
                    checkpoint_every: 1000,
                    ..TrainConfig::default()
                },
                ..RunOptions::default()
            },
            run_dir: run_dir.clone(),
            resume: false,
        }))
        .unwrap();
    wait_for(&engine.events, "a step", |e| {
        matches!(e, Event::Train(TrainEvent::Step { .. })).then_some(())
    });
    engine.commands.send(Command::Score { stage: 0 }).unwrap();
    wait_for(&engine.events, "scoring under way", |e| {
        matches!(e, Event::ScoringProgress { .. }).then_some(())
    });
    for (command, status) in [
        (Command::PauseTraining, TrainingStatus::Paused),
        (Command::ResumeTraining, TrainingStatus::Running),
        (Command::StopTraining, TrainingStatus::Stopping),
    ] {
        let asked = Instant::now();
        engine.commands.send(command).unwrap();
        let got = wait_for(&engine.events, "the new status", |e| match e {
            Event::Training(s) => Some(s),
            _ => None,
        });
        assert_eq!(got, status);
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{status:?} took {:?}",
            asked.elapsed()
        );
    }
    let how = wait_for(&engine.events, "the end of training", |e| match e {
        Event::Training(TrainingStatus::Ended(how)) => Some(how),
        _ => None,
    });
    assert!(how.contains("stopped"), "{how}");
    assert!(Checkpoint::load_run(&run_dir).is_ok());
}
