//! Checks that read the build log: how the image was built, what came from the cache.

use super::super::build::Change;
use super::super::buildkit::{BuildStep, build_steps, compiled_crates};
use super::super::error::{Result, found};
use super::super::image::Image;
use super::Passed;

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

/// Step 05: after a source-only change, the dependency build was CACHED and the
/// source build ran again. Reads this image's build log.
pub fn reused_the_dependency_layer(image: &Image) -> Result<()> {
    // The cargo builds in Dockerfile order: the dependencies' first, the source's last.
    let builds: Vec<BuildStep> = build_steps(&image.build_log)
        .into_iter()
        .filter(|step| step.instruction.contains("cargo build"))
        .collect();
    let Some((first, last)) = builds.first().zip(builds.last()) else {
        return found(
            "the build log shows no `cargo build` instruction",
            "where does the image compile the service?",
        );
    };
    let (first_cached, last_cached) = (first.cached, last.cached);
    let (first, last) = (&first.instruction, &last.instruction);
    if builds.len() < 2 {
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
            "does anything that changes with the source reach the image before that RUN?",
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
        .rebuild_after(Change::SourceOnly)
        .map_err(|error| error.context("the rebuild after a source-only change failed"))?;
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
pub async fn rebuilds_only_what_changed(image: &Image) -> Result<Passed> {
    let mut refilled = false;
    for change in [Change::SourceOnly, Change::PackageVersion] {
        let mut rebuilt = rebuild(image, change)?;
        let mut compiled = only_the_service_compiled(change, &rebuilt);
        if compiled.is_err() && change == Change::SourceOnly {
            rebuilt.remove();
            rebuilt = rebuild(image, change)?;
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

/// The rebuild after `change` compiled the service and no other crate.
fn only_the_service_compiled(change: Change, rebuilt: &Image) -> Result<()> {
    let compiled = compiled_crates(&rebuilt.build_log);
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
        return Ok(());
    }
    let shown: Vec<&str> = others.iter().take(4).map(|name| name.as_str()).collect();
    let more = if others.len() > shown.len() {
        ", …"
    } else {
        ""
    };
    found(
        format!(
            "after {}, cargo compiled {} crates besides the service: {}{more}",
            change.says(),
            others.len(),
            shown.join(", "),
        ),
        "a layer keyed on the manifests is rebuilt whole when they change: keep cargo's \
         target/ and registry in cache mounts (RUN --mount=type=cache) so the dependencies \
         stay compiled",
    )
}
