//! Checks that read the build log: how the image was built, what came from the cache.

use super::Passed;
use crate::build::{Change, Settled};
use crate::buildkit::{BuildStep, build_steps, compiled_crates};
use crate::error::{Error, Result, found};
use crate::image::Image;

/// Step 04: one Dockerfile builds and packages: its final stage copies `--from` a stage.
pub fn copies_from_a_build_stage(image: &Image) -> Result<()> {
    let instructions = build_steps(&image.build_log);
    let copies_from = |instruction: &str| {
        instruction
            .split_whitespace()
            .take_while(|word| word.starts_with("--") || word.eq_ignore_ascii_case("COPY"))
            .any(|word| word.starts_with("--from="))
    };
    if instructions
        .iter()
        .any(|step| copies_from(&step.instruction))
    {
        return Ok(());
    }
    let builds = image
        .build_log
        .lines()
        .filter(|line| line.contains("load build definition from"))
        .count();
    found(
        format!(
            "no instruction copies --from a build stage{}",
            if builds > 1 {
                format!(" ({builds} separate builds made this image)")
            } else {
                String::new()
            }
        ),
        "one Dockerfile can hold both images: name the build stage (FROM … AS build) and \
         copy the binary out of it in the final stage",
    )
}

/// A line of a build log that shows cargo compiling a crate other than the service
/// (`#12 3.4    Compiling tokio v1.47.1`): a rebuild that should have compiled the
/// service alone has, by then, failed its check.
fn compiles_a_dependency(line: &str) -> bool {
    compiled_crates(line)
        .iter()
        .any(|name| !name.starts_with("ping v"))
}

/// Step 05: after a source-only change, the dependency build was CACHED and the
/// source build ran again. Reads this image's build log.
pub fn reused_the_dependency_layer(image: &Image) -> Result<()> {
    dependency_layer_in(&image.build_log, None)
}

/// `reused_the_dependency_layer` in a build `log`; `stopped`, the Dockerfile of a build
/// stopped as soon as it compiled a dependency, whose later instructions never started
/// (its `cargo build` instructions are counted there).
fn dependency_layer_in(log: &str, stopped: Option<&str>) -> Result<()> {
    // The cargo builds in Dockerfile order: the dependencies' first, the source's last.
    let builds: Vec<BuildStep> = build_steps(log)
        .into_iter()
        .filter(|step| step.instruction.contains("cargo build"))
        .collect();
    let in_the_dockerfile = stopped.map_or(builds.len(), |dockerfile| {
        crate::ci_cache::run_commands(dockerfile)
            .iter()
            .filter(|command| command.contains("cargo build"))
            .count()
    });
    let Some((first, last)) = builds.first().zip(builds.last()) else {
        return found(
            "the build log shows no `cargo build` instruction",
            "where does the image compile the service?",
        );
    };
    let (first_cached, last_cached) = (first.cached, last.cached);
    let (first, last) = (&first.instruction, &last.instruction);
    if builds.len().max(in_the_dockerfile) < 2 {
        return found(
            format!(
                "one `cargo build` compiles dependencies and source together ({first}), so a source change recompiles everything"
            ),
            "copy the manifests first and compile the dependencies in their own RUN, before the source is copied",
        );
    }
    if !first_cached {
        return found(
            format!("after a source-only change, the dependency build ran again: {first}"),
            "does anything that changes with the source reach the image before that RUN? \
             (If nothing does, BuildKit pruned the layer between the two builds: its garbage \
             collector prunes once the disk is short of free space. Run the check again.)",
        );
    }
    if last_cached {
        return found(
            format!("after a source-only change, the source build was CACHED: {last}"),
            "the new source must be copied in before the last `cargo build`",
        );
    }
    Ok(())
}

/// Step 05: rebuilds after a source-only change (in a copy of the context) and reads
/// that build's log; the rebuilt image must still answer.
pub async fn reuses_the_dependency_layer(image: &Image) -> Result<Passed> {
    let rebuilt = image
        .step
        .rebuild_after_until(Change::SourceOnly, &compiles_a_dependency)
        .map_err(|error| error.context("the rebuild after a source-only change failed"))?;
    let rebuilt = match rebuilt {
        Ok(rebuilt) => rebuilt,
        Err(Settled(log)) => {
            let dockerfile = image.step.dockerfile_text()?;
            dependency_layer_in(&log, Some(&dockerfile))?;
            return Err(Error::Harness(
                "the rebuild compiled a dependency, yet its log shows the dependency build \
                 cached"
                    .into(),
            ));
        }
    };
    let reused = reused_the_dependency_layer(&rebuilt);
    // The classic mistake ships the placeholder main, which exits at once: PONG catches it.
    let answers = match &reused {
        Ok(()) => super::answers_pong(&rebuilt)
            .await
            .map(drop)
            .map_err(|error| error.context("after the source-only rebuild")),
        Err(_) => Ok(()),
    };
    rebuilt.remove();
    reused.and(answers)?;
    Ok(Some("dependency build CACHED, source rebuilt".into()))
}

/// Step 09: after a source-only change, and after a change to the manifests, cargo
/// compiles the service alone: every dependency comes from the cache. Rebuilds in a
/// copy of the context; the rebuilt image must still answer.
///
/// The cache mounts can be emptier than the image's cached layers (`docker builder
/// prune --filter type=exec.cachemount`, or another build's prune): the reference then
/// comes from the layer cache without running cargo, and the first rebuild compiles what
/// the mounts lost. So a first source-only rebuild that compiles more is made once
/// again, and the second one is judged: with cache mounts it compiles the service
/// alone, without them everything again.
///
/// A rebuild that compiles a dependency is stopped there: it has failed (but for the
/// first source-only one, which may be refilling the cache mounts). The rebuild after the
/// manifest change is stopped at the first crate cargo compiles, whichever it is: cargo
/// starts the service only once every crate it needs is compiled, so the service first
/// means the service alone. The source-only rebuild runs to the end and answers PONG.
pub async fn rebuilds_only_what_changed(image: &Image) -> Result<Passed> {
    let mut refilled = false;
    for change in [Change::SourceOnly, Change::PackageVersion] {
        let first = if change == Change::SourceOnly {
            Ok(rebuild(image, change)?)
        } else {
            rebuild_until(image, change, &compiles_a_crate)?
        };
        let mut rebuilt = match first {
            Ok(rebuilt) => rebuilt,
            Err(Settled(log)) => {
                let stopped_at_a_dependency = compiled_crates(&log)
                    .iter()
                    .any(|name| !name.starts_with("ping v"));
                only_the_service_in(change, &log, stopped_at_a_dependency)?;
                continue;
            }
        };
        let mut compiled = only_the_service_compiled(change, &rebuilt);
        if compiled.is_err() && change == Change::SourceOnly {
            rebuilt.remove();
            rebuilt = match rebuild_until_a_dependency_compiles(image, change)? {
                Ok(rebuilt) => rebuilt,
                Err(Settled(log)) => return only_the_service_in(change, &log, true),
            };
            compiled = only_the_service_compiled(change, &rebuilt);
            refilled = compiled.is_ok();
        }
        let verdict = match compiled {
            Ok(()) => super::answers_pong(&rebuilt)
                .await
                .map(drop)
                .map_err(|error| error.context(&format!("after {}", change.says()))),
            Err(error) => Err(error),
        };
        rebuilt.remove();
        verdict?;
    }
    let refilled = if refilled {
        " (the first rebuild refilled the emptied cache mounts)"
    } else {
        ""
    };
    Ok(Some(format!(
        "the service alone recompiled, after a source and a manifest change{refilled}"
    )))
}

fn rebuild(image: &Image, change: Change) -> Result<Image> {
    image
        .step
        .rebuild_after(change)
        .map_err(|error| error.context(&format!("the rebuild after {} failed", change.says())))
}

/// `rebuild`, stopped as soon as cargo compiles a crate other than the service.
fn rebuild_until_a_dependency_compiles(
    image: &Image,
    change: Change,
) -> Result<Result<Image, Settled>> {
    rebuild_until(image, change, &compiles_a_dependency)
}

/// `rebuild`, stopped at the first line of its log `settled` says answers the check.
fn rebuild_until(
    image: &Image,
    change: Change,
    settled: &dyn Fn(&str) -> bool,
) -> Result<Result<Image, Settled>> {
    image
        .step
        .rebuild_after_until(change, settled)
        .map_err(|error| error.context(&format!("the rebuild after {} failed", change.says())))
}

/// A line of a build log that shows cargo compiling any crate, the service included.
fn compiles_a_crate(line: &str) -> bool {
    !compiled_crates(line).is_empty()
}

/// The rebuild after `change` compiled the service and no other crate.
fn only_the_service_compiled(change: Change, rebuilt: &Image) -> Result<()> {
    only_the_service_in(change, &rebuilt.build_log, false).map(drop)
}

/// `only_the_service_compiled` in a build `log`; `stopped`: the build was stopped at the
/// first other crate cargo compiled.
fn only_the_service_in(change: Change, log: &str, stopped: bool) -> Result<Passed> {
    let compiled = compiled_crates(log);
    if compiled.is_empty() {
        return found(
            format!(
                "after {}, cargo compiled nothing: the image was not rebuilt",
                change.says()
            ),
            "does the build compile the source it was given, in a RUN that the change reaches?",
        );
    }
    let others: Vec<&String> = compiled
        .iter()
        .filter(|name| !name.starts_with("ping v"))
        .collect();
    if others.is_empty() {
        return Ok(None);
    }
    let shown: Vec<&str> = others.iter().take(4).map(|name| name.as_str()).collect();
    let more = if others.len() > shown.len() {
        ", …"
    } else {
        ""
    };
    let compiled = if stopped {
        // Stopped there: the rest it would have compiled is not in the log.
        format!(
            "cargo compiled other crates besides the service: {}, … (the rebuild was stopped there)",
            shown.join(", ")
        )
    } else {
        format!(
            "cargo compiled {} crates besides the service: {}{more}",
            others.len(),
            shown.join(", "),
        )
    };
    found(
        format!("after {}, {compiled}", change.says()),
        "a layer keyed on the manifests is rebuilt whole when they change: keep cargo's \
         target/ and registry in cache mounts (RUN --mount=type=cache) so the dependencies \
         stay compiled",
    )
}
