//! The harness every step test shares, and the workshop tool runs on: read a step's
//! facts, build its image the way the book says, look inside it, run it, check what
//! the step teaches, and say clearly what is wrong. One idea per module; a module
//! only uses the ones listed above it
//! (tests/layout.rs checks it):
//!
//! - `error`      the one error type (what was found, and a hint)
//! - `tool`       how the workshop tool's commands are typed
//! - `check`      the named checks: each check's name and what it proves
//! - `docker`     the docker CLI and Docker's typed API
//! - `cleanup`    what a run has under way, removed when it is interrupted or died
//! - `locks`      one check at a time on this machine; cache mounts kept under builds
//! - `files`      the files inside an image, and private temporary folders
//! - `layers`     an image's size, read from its layers (the same on every image store)
//! - `registry`   a registry on this machine
//! - `link`       a slow link on loopback, to time a pull over it
//! - `published`  an image pushed to it: its index, platforms, files
//! - `buildkit`   reading BuildKit's build log
//! - `step`       a step's number and its typed facts (step.toml)
//! - `ci_cache`   a fresh CI runner: BuildKit's cache forgotten, an exported one given back
//! - `results`    the measurements the book shows (results.json)
//! - `load`       the load generator (wrk), pinned apart from the server
//! - `image`      a built image, read back
//! - `build`      building a step's image, and why a build failed
//! - `publish`    pushing a step's image for every platform, and signing it (cosign)
//! - `contenders` the images compared side by side: ours and the article's Go service
//! - `hardening`  the flags production runs with, and what the kernel applied
//! - `running`    running a container of an image
//! - `kubernetes` the Kubernetes manifest: the restricted profile, the flags it implies
//! - `checks`     every check, and the one dispatcher
//! - `learner`    learner mode: the learner's file, the report
//! - `progress`   the learner's progress between checks
//! - `coach`      the learner's loop: hints, a reset, the solution once it passes
//! - `assertions` the step tests' assertions
//! - `comparison` the comparison with the Go service, as the book shows it
//! - `trades`     two trade-offs measured (panic, forms of CMD), as the book shows them
//! - `book`       the generated parts of the book
//! - `doctor`     is this machine ready?

pub mod assertions;
pub mod book;
pub mod build;
pub mod buildkit;
pub mod check;
pub mod checks;
pub mod ci_cache;
pub mod cleanup;
pub mod coach;
pub mod comparison;
pub mod contenders;
pub mod docker;
pub mod doctor;
pub mod error;
pub mod files;
pub mod hardening;
pub mod image;
pub mod kubernetes;
pub mod layers;
pub mod learner;
pub mod link;
pub mod load;
pub mod locks;
pub mod progress;
pub mod publish;
pub mod published;
pub mod registry;
pub mod results;
pub mod running;
pub mod step;
pub mod tool;
pub mod trades;

pub use check::Check;
pub use error::{BuildFailure, Error, Must, Result};
pub use files::{Entry, Files};
pub use image::Image;
pub use running::Running;
pub use step::{PREPARE, Step, StepNumber};

/// Where the repository is: every command in the book runs from here. The workshop
/// package is its folder `workshop/`.
pub fn repo_root() -> &'static std::path::Path {
    let package = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    package.parent().unwrap_or(package)
}

/// The Rust version the workshop is written for, in one place: Cargo.toml's
/// `rust-version`. The base images, the Dockerfiles and the book are checked
/// against it (tests/layout.rs).
pub const RUST_VERSION: &str = env!("PING_RUST_VERSION");

/// The image the builds start from, and whose `rustc` the results name.
pub fn rust_image() -> String {
    format!("rust:{RUST_VERSION}-slim-trixie")
}

/// Bytes in a megabyte, as `docker images` counts them.
pub const MB: f64 = 1_000_000.0;
