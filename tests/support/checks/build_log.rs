//! Checks that read the build log: how the image was built, what came from the cache.

use super::super::buildkit::{BuildStep, build_steps};
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
        .rebuild_after_source_change()
        .map_err(|error| error.context("the rebuild after a source-only change failed"))?;
    reused_the_dependency_layer(&rebuilt)?;
    // The classic mistake ships the placeholder main, which exits at once: PONG catches it.
    super::answers_pong(&rebuilt)
        .await
        .map_err(|error| error.context("after the source-only rebuild"))?;
    Ok(Some("dependency build CACHED, source rebuilt".into()))
}
