//! The next day's CI cache (book: next-day.md): a fresh runner gets what `--cache-to`
//! exported and nothing else. Step 09's cache mounts are not exported: every crate
//! compiles again. cargo-chef builds the dependencies in a layer, which is: the
//! service alone compiles. The alternative Dockerfile passes step 09's checks too.

use std::path::Path;

use workshop::buildkit::{build_steps, compiled_crates, imported_layers};
use workshop::ci_cache::{self, bytes_under};
use workshop::files::PrivateDir;
use workshop::learner;
use workshop::results::human_size;
use workshop::{Image, Must, Step, checks};

/// A runner's build of `step`, its cache exported to `cache`. What BuildKit kept of the
/// step's layers is forgotten first, so the build makes every layer it exports: a build
/// that finds its final stage cached uses only that record, and exports none of the
/// layers below it whose records another prune took (a CI run exported 0.95 MB for
/// cargo-chef's image that way, without its dependency layer). The cache mounts stay:
/// they are never exported, and cargo finds in them what the step's own test compiled
/// (the next run empties them).
fn first_run(step: &Step, cache: &Path) {
    let forgotten = ci_cache::forget_the_layers_of(&step.dockerfile_text().must()).must();
    step.ci_run_exporting(cache).must();
    println!(
        "{}: {forgotten} layer records forgotten, then exported {} of cache",
        step.image,
        human_size(bytes_under(cache))
    );
}

/// The next run, on a fresh runner given only that cache, after a source change.
fn next_run(step: &Step, cache: &Path) -> Image {
    let (rebuilt, forgotten) = step.next_ci_run(cache).must();
    println!("{}: {forgotten} cache records forgotten", step.image);
    rebuilt
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "it prunes BuildKit records other tests reuse: CI runs it after the suite, \
            `cargo test --test ci_cache -- --ignored`"]
async fn a_fresh_runner_compiles_every_crate_of_step_09_and_only_the_service_with_cargo_chef() {
    let folder = PrivateDir::new("ci-cache").must();
    let step = Step::get("09-cache-mounts");
    let chef = ci_cache::chef().must();

    // Built first: the checks' rebuilds then find every layer it made.
    let cache = folder.path().join("cargo-chef");
    first_run(&chef, &cache);
    // The same image, hardened the same way: every check of step 09 holds, the
    // manifest change of rebuilds_only_what_changed included.
    let report = learner::check(&step, chef.clone()).await;
    println!("{report}");
    assert!(report.passed(), "{report}");

    let rebuilt = next_run(&chef, &cache);
    let compiled = compiled_crates(&rebuilt.build_log);
    let imported = imported_layers(&rebuilt.build_log);
    let cook_cached = build_steps(&rebuilt.build_log)
        .iter()
        .any(|step| step.instruction.starts_with("RUN cargo chef cook") && step.cached);
    checks::answers_pong(&rebuilt).await.must();
    rebuilt.remove();
    assert_eq!(
        compiled,
        ["ping v0.1.0"],
        "cargo-chef on a fresh runner: the dependency layer should come from the exported cache"
    );
    // The builder forgot the cook layer (forget_the_runs_of fails if any record of
    // it stays): CACHED, it came from the exported cache, whose layers BuildKit
    // extracted under the first instruction that needed them.
    assert!(
        cook_cached && !imported.is_empty(),
        "the cook layer should come from the exported cache: cook CACHED: {cook_cached}, \
         layers extracted under {imported:?}"
    );

    let cache = folder.path().join("cache-mounts");
    first_run(&step, &cache);
    let rebuilt = next_run(&step, &cache);
    let compiled = compiled_crates(&rebuilt.build_log);
    checks::answers_pong(&rebuilt).await.must();
    rebuilt.remove();
    assert!(
        compiled.len() > 20 && compiled.iter().any(|name| name.starts_with("tokio v")),
        "step 09 on a fresh runner: the cache mounts should start empty and every crate \
         compile; cargo compiled {compiled:?}"
    );
}
