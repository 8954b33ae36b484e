//! Driving the explorer headless with egui_kittest.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use vaelens::gui::{App, Tab};

/// Runs frames until `done` holds (the worker answers on its own thread).
pub fn pump_until(harness: &mut Harness<'_, App>, what: &str, done: impl Fn(&App) -> bool) {
    let start = Instant::now();
    while !done(harness.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "timed out waiting for {what}; errors: {:?}",
            harness.state().shared.errors
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.step();
    harness.step();
}

pub fn click_tab(harness: &mut Harness<'_, App>, tab: Tab) {
    harness.get_by_label(tab.title()).click();
    harness.step();
    harness.step();
    assert_eq!(harness.state().tab, tab);
}
