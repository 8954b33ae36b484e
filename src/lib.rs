//! vaelens: train variational autoencoders and see why they encode what they encode.
//!
//! A library with two faces: the `vaelens` command line and the explorer window. Everything
//! here knows nothing of windows; long work reports progress through events.

pub mod backend;
pub mod checkpoint;
pub mod data;
pub mod engine;
pub mod eval;
pub mod explain;
pub mod export;
pub mod fsx;
pub mod gui;
pub mod map;
pub mod metrics;
pub mod model;
pub mod render;
pub mod train;
