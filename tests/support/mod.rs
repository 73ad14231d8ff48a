//! The harness every step test shares: read a step's facts, build its image the
//! way the book says, run it, look inside it, and say clearly what is wrong.
#![allow(dead_code, unused_imports)] // each test binary uses a different part of the harness

pub mod book;
pub mod checks;
pub mod docker;
pub mod doctor;
mod files;
pub mod learner;
pub mod running;
pub mod step;

pub use checks::{Check, Problem};
pub use files::{Entry, Files};
pub use running::Running;
pub use step::{BuildFailure, Image, PREPARE, Step};

/// Where the repository is: every command in the book runs from here.
pub fn repo_root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Bytes in a megabyte, as `docker images` counts them.
pub const MB: f64 = 1_000_000.0;
