//! vaelens: train variational autoencoders and see why they encode what they encode.
//!
//! A library with two faces: the `vaelens` command line and the explorer window. Everything
//! but `gui` knows nothing of windows and long work reports progress through events; `gui`
//! (the explorer, cargo feature `gui`, on by default) is the only module that draws.

pub mod backend;
pub mod checkpoint;
pub mod data;
pub mod engine;
pub mod eval;
pub mod explain;
pub mod export;
pub mod fsx;
#[cfg(feature = "gui")]
pub mod gui;
pub mod map;
pub mod metrics;
pub mod model;
pub mod render;
pub mod run;
pub mod tiling;
pub mod train;
