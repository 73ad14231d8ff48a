//! Every check, in one place: `Check::run` is the one dispatcher (the names and what
//! each proves are in check.rs), and the checks themselves live in this folder by
//! what they read: the image's files, its config, its build log, its size, a running
//! container (and the HTTP limits it holds), a build for another platform, what the image says it is built from.
//!
//! A step lists its checks in its `step.toml` (`checks`, and `new`: the ones the
//! previous step must fail); its test, `cargo workshop check` and the book all read
//! those lists, so a learner's Dockerfile meets exactly what the reference meets.

mod build_log;
mod config;
mod container;
mod contents;
mod http_connections;
mod http_limits;
mod http_timeouts;
mod platform;
mod publish;
mod size;
mod source;
mod supply_chain;

use std::time::{Duration, Instant};

use crate::check::{Check, Cost, Demo};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::step::Step;

pub use config::declares_only_what_it_serves;
pub use container::answers_pong;
pub use http_limits::{HEADER_TIMEOUT, MAX_CONNECTIONS, WRITE_STALL_TIMEOUT, try_limits};
pub use http_timeouts::idle_keep_alive_is_closed;
pub use platform::{ARM64, BOTH, emulated_stage, host_platform};
pub use publish::REVISION_LABEL;
pub use size::{assert_size_matches_the_book, assert_smaller_than};
pub use source::{SOURCE_LABEL, checkout_remote, source_verdict};
pub use supply_chain::{IMAGE_FILES, embedded_crates, scan_command};

/// A check passed; what it measured, if anything worth showing (a size, a time).
pub type Passed = Option<String>;

impl Check {
    /// Runs the check on `image` with the facts (budget) of `step`, the step checking.
    pub async fn run(self, step: &Step, image: &Image) -> Result<Passed> {
        let done = |result: Result<()>| result.map(|()| None);
        match self {
            Check::AnswersPong => answers_pong(image).await.map(|_| None),
            Check::WithinBudget => size::within_budget(step, image),
            Check::ShipsToolchainSourceAndBuildTree => {
                done(contents::ships_toolchain_source_and_build_tree(image))
            }
            Check::NoBuildContextJunk => done(contents::no_build_context_junk(image)),
            Check::NoSource => done(contents::no_source(image)),
            Check::NoToolchain => done(contents::no_toolchain(image)),
            Check::CopiesFromABuildStage => done(build_log::copies_from_a_build_stage(image)),
            Check::ReusesTheDependencyLayer => build_log::reuses_the_dependency_layer(image).await,
            Check::RebuildsOnlyWhatChanged => build_log::rebuilds_only_what_changed(image).await,
            Check::BuildsAStaticArm64Image => platform::builds_a_static_arm64_image(image),
            Check::Arm64ImageAnswersPongUnderEmulation => {
                platform::arm64_image_answers_pong_under_emulation(image).await
            }
            Check::BuildsOneMultiPlatformImage => platform::builds_one_multi_platform_image(image),
            Check::LinksWithRustLld => platform::links_with_rust_lld(image),
            Check::EmbedsItsDependencyList => supply_chain::embeds_its_dependency_list(image),
            Check::ScannersSeeItsCrates => supply_chain::cargo_audit_reads_the_binary(image),
            Check::ExportsAnSbom => supply_chain::exports_an_sbom(image),
            Check::AllocatesWithMimalloc => supply_chain::allocates_with_mimalloc(image),
            Check::PushesOneMultiPlatformIndex => {
                publish::pushes_one_multi_platform_index(step, image)
            }
            Check::DigestIsReproducible => publish::digest_is_reproducible(step, image),
            Check::SbomAttestationVerifies => publish::sbom_attestation_verifies(step, image),
            Check::BinaryIsStatic => done(contents::binary_is_static(image)),
            Check::HoldsOnlyTheBinary => done(contents::holds_only_the_binary(image)),
            Check::NoShell => done(contents::no_shell(image)),
            Check::NoSetuidFiles => done(contents::no_setuid_files(image)),
            Check::RunsAsNumericNonRootUser => done(config::runs_as_numeric_non_root_user(image)),
            Check::ExecFormEntrypointAndHealthcheck => {
                done(config::exec_form_entrypoint_and_healthcheck(image))
            }
            Check::HasOciLabels => config::has_oci_labels(image),
            Check::DeclaresOnlyWhatItServes => {
                done(config::declares_only_what_it_serves(&image.config()))
            }
            Check::ServesLockedDown => container::serves_locked_down(image).await,
            Check::BecomesHealthy => container::becomes_healthy(image).await,
            Check::StopsGracefully => container::stops_gracefully(image).await,
            Check::BoundsItsThreads => container::bounds_its_threads(image).await,
            Check::HoldsHttpLimits => http_limits::holds_http_limits(image).await,
        }
    }
}

impl Demo {
    /// Shows what the tools do for `image` of `step`: what it did, or why it could not.
    pub async fn run(self, step: &Step, image: &Image) -> Result<Passed> {
        match self {
            Demo::TheKernelAppliesTheFlags => container::the_kernel_applies_the_flags(image).await,
            Demo::NamesItsSourceAndCommit => publish::names_its_source_and_commit(step, image),
            Demo::SignsAndVerifiesByDigest => publish::signs_and_verifies_by_digest(step, image),
            Demo::RunsByDigest => publish::runs_by_digest(step, image).await,
        }
    }
}

/// One demonstration's result in a report.
pub struct Shown {
    pub demo: Demo,
    pub result: Result<Passed>,
    pub took: Duration,
}

/// Runs `demos` one after the other, after the checks.
pub async fn show_all(step: &Step, image: &Image, demos: &[Demo]) -> Vec<Shown> {
    let mut shown = Vec::new();
    for &demo in demos {
        let started = Instant::now();
        // Each demonstration runs containers: alone, as a check that does.
        let result = match crate::locks::check().await {
            Ok(_alone) => demo.run(step, image).await,
            Err(error) => Err(error),
        };
        shown.push(Shown {
            demo,
            result,
            took: started.elapsed(),
        });
    }
    shown
}

/// The service binary of `image` (the path ENTRYPOINT/CMD runs) and its bytes, or
/// what a learner should fix when there is none.
fn the_service_binary(image: &Image) -> Result<(String, Vec<u8>)> {
    let path = service_binary_path(image)?;
    match image.binary_bytes(&path)? {
        Some(bytes) => Ok((path, bytes)),
        None => crate::error::found(
            format!("ENTRYPOINT/CMD runs {path}, which is not in the image"),
            "COPY the binary to the path your ENTRYPOINT names",
        ),
    }
}

/// The path ENTRYPOINT/CMD runs, or what a learner should fix when none is found.
fn service_binary_path(image: &Image) -> Result<String> {
    image.service_binary()?.ok_or_else(|| Error::Found {
        found: "cannot find the service binary from ENTRYPOINT/CMD".into(),
        hint: "use the exec form, with the binary's absolute path".into(),
    })
}

/// One check's result in a report.
pub struct Outcome {
    pub check: Check,
    pub result: Result<Passed>,
    pub took: Duration,
}

/// Runs `checks` one after the other; a report is always whole: a check that cannot
/// run (Docker failing under it, say) is a failed outcome with what went wrong.
pub async fn run_all(step: &Step, image: &Image, checks: &[Check]) -> Vec<Outcome> {
    run_all_telling(step, image, checks, &mut |_| {}).await
}

/// `run_all` in run order (`Check::in_run_order`: what reads first, what builds last),
/// each outcome handed to `told` as soon as it is known, and in that order. The checks
/// that build start at once, one after the other on a thread of their own, beside the
/// ones that read the image and run its container: a build uses the builder's CPU while
/// a container check mostly waits for the service's timeouts, and a rebuild, an arm64
/// build or a publish no longer waits for them (in a tokio runtime of one thread, they
/// run one after the other).
pub async fn run_all_telling(
    step: &Step,
    image: &Image,
    checks: &[Check],
    told: &mut (dyn FnMut(&Outcome) + Send),
) -> Vec<Outcome> {
    let (builds, first): (Vec<Check>, Vec<Check>) = Check::in_run_order(checks)
        .into_iter()
        .partition(|check| check.cost() == Cost::Builds);
    let runtime = tokio::runtime::Handle::current();
    let beside = !builds.is_empty()
        && !first.is_empty()
        && runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread;
    if !beside {
        let mut outcomes = Vec::new();
        for check in first.into_iter().chain(builds) {
            let outcome = run_one(step, image, check).await;
            told(&outcome);
            outcomes.push(outcome);
        }
        return outcomes;
    }
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let (done, finished) = std::sync::mpsc::channel();
            let building = &builds;
            let builder = runtime.clone();
            scope.spawn(move || {
                for &check in building {
                    let outcome = builder.block_on(run_one(step, image, check));
                    if done.send(outcome).is_err() {
                        break;
                    }
                }
            });
            let mut outcomes = Vec::new();
            for check in first {
                let outcome = runtime.block_on(run_one(step, image, check));
                told(&outcome);
                outcomes.push(outcome);
            }
            for _ in &builds {
                let Ok(outcome) = finished.recv() else {
                    // The builds' thread panicked: the scope passes its panic on.
                    break;
                };
                told(&outcome);
                outcomes.push(outcome);
            }
            outcomes
        })
    })
}

/// One check, timed; a check that runs a container runs alone on this machine
/// (`locks::check`). A check that could not run is a failed outcome saying so.
async fn run_one(step: &Step, image: &Image, check: Check) -> Outcome {
    let started = Instant::now();
    let alone = match check.cost() {
        Cost::Runs => Some(crate::locks::check().await),
        Cost::Reads | Cost::Builds => None,
    };
    let result = match alone {
        Some(Err(error)) => Err(error),
        _ => check.run(step, image).await,
    };
    let result = result.map_err(|error| match error {
        Error::Harness(_) => error.context("the check could not run"),
        error => error,
    });
    Outcome {
        check,
        result,
        took: started.elapsed(),
    }
}
