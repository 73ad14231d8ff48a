//! One step's measured figures beside the previous step's, and what publishing it
//! measured: `<step>.numbers.md`.

use std::fmt::Write as _;

use super::figures::{number_of, or_dash, provenance, seconds};
use crate::published::short_digest;
use crate::results::{PublishResult, Results, StepResult, human_size};
use crate::step::{Budget, Step};
use crate::tool::{MD_HEADER, MEASURE};

/// How one figure of a step's measurements is shown.
type Figure = fn(&StepResult) -> String;

/// One step's measured figures, one row per figure, next to the previous step's.
pub(super) fn numbers(step: &Step, previous: Option<&Step>, results: Option<&Results>) -> String {
    let mut out = String::from(MD_HEADER);
    let Some((results, measured)) = results.and_then(|r| r.step(&step.slug).map(|s| (r, s))) else {
        let _ = writeln!(out, "*Not measured yet: run `{MEASURE}`.*");
        return out;
    };
    let previous = previous.and_then(|previous| results.step(&previous.slug).cloned());
    // What a step changes: the image and its builds. How each image runs and serves is
    // in Results, side by side, where a reader can compare steps that change nothing there.
    let rows: [(&str, Figure); 6] = [
        ("image size", |s| human_size(s.size_bytes)),
        (
            "compressed (its layers gzipped, as a push sends them)",
            |s| human_size(s.compressed_bytes),
        ),
        ("layers, files", |s| format!("{}, {}", s.layers, s.files)),
        ("cold build", |s| seconds(s.cold_build_s)),
        ("rebuild after a source-only change", |s| {
            seconds(s.rebuild_s)
        }),
        ("rebuild after a change to the manifests", |s| {
            seconds(s.rebuild_manifest_s)
        }),
    ];
    let budget = budget_label(step).unwrap_or_else(|| "none: the size is the lesson".into());
    match &previous {
        Some(previous) => {
            let _ = writeln!(
                out,
                "| | this step | step {} |\n|---|---:|---:|\n| size budget | {budget} | |",
                number_of(&previous.slug)
            );
            for (what, show) in rows {
                let _ = writeln!(out, "| {what} | {} | {} |", show(measured), show(previous));
            }
        }
        None => {
            let _ = writeln!(
                out,
                "| | this step |\n|---|---:|\n| size budget | {budget} |"
            );
            for (what, show) in rows {
                let _ = writeln!(out, "| {what} | {} |", show(measured));
            }
        }
    }
    if let (Some(noise), Some(previous)) = (&results.build_noise, &previous)
        && let (Some(this), Some(before)) = (measured.cold_build_s, previous.cold_build_s)
        && (this - before).abs() <= noise.spread_s()
    {
        let _ = writeln!(
            out,
            "\nThe two cold builds differ by less than cold builds of one step differ by \
             themselves (see below): the same, as far as this machine can tell."
        );
    }
    if let (Some(whole), Some(first)) = (measured.check_warm_s, measured.first_verdict_s) {
        let budget = crate::results::check_budget_s(step);
        let _ = writeln!(
            out,
            "\n`cargo workshop check {}` of the reference files, as a learner's, warm: the first \
             verdict {first:.1} s after the build, every check in {} ({} its budget of {}).",
            step.number,
            seconds(Some(whole)),
            if whole <= budget { "within" } else { "over" },
            seconds(Some(budget)),
        );
    }
    if let Some(bytes) = measured.dependency_list_bytes {
        let _ = writeln!(
            out,
            "\nThe dependency list embedded in the binary (`cargo auditable`): {bytes} bytes, \
             compressed."
        );
    }
    for other in &measured.platforms {
        let _ = writeln!(
            out,
            "\nFor {}: the image is {}, built in {} right after the cold build above (every crate \
             compiled again for the other target), and it answered its first PONG {} after \
             `docker run`, under emulation.",
            other.platform,
            human_size(other.size_bytes),
            seconds(other.build_s),
            or_dash(other.run_to_pong_ms, |ms| format!("{ms:.0} ms")),
        );
    }
    if let Some(publish) = &measured.publish {
        let _ = writeln!(out, "\n{}", published(publish));
    }
    let mut shown = vec![step.slug.as_str()];
    shown.extend(previous.as_ref().map(|previous| previous.slug.as_str()));
    let _ = writeln!(out, "\n{}", provenance(results, &shown));
    out
}

/// What publishing measured: the index, each platform's image, the rebuild from nothing.
fn published(publish: &PublishResult) -> String {
    let mut out = format!(
        "Published from commit `{}`: the publish command (`--no-cache-filter image`: the final \
         stage made again, the build stage this commit's from the cache) built and pushed both \
         platforms in {}, and the tag named the index `{}`:\n\n| platform | image digest | \
         as pushed (BuildKit's gzip) |\n|---|---|---:|\n",
        &publish.commit[..12.min(publish.commit.len())],
        seconds(Some(publish.push_s)),
        short_digest(&publish.index_digest),
    );
    for platform in &publish.platforms {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} |",
            platform.platform,
            short_digest(&platform.digest),
            human_size(platform.compressed_bytes)
        );
    }
    let same = if publish.same_platform_digests {
        "every platform's image digest was the same as the push's"
    } else {
        "the platforms' image digests differed from the push's"
    };
    let index = if publish.rebuilt_index_digest == publish.index_digest {
        "and so was the index's".to_string()
    } else {
        format!(
            "the index's was `{}`: the provenance attestations in it record when each build ran",
            short_digest(&publish.rebuilt_index_digest)
        )
    };
    let _ = write!(
        out,
        "\nBuilt again from nothing (no build cache, empty cache mounts) in {}, {same}; {index}.",
        seconds(Some(publish.rebuild_from_nothing_s)),
    );
    out
}

fn budget_label(step: &Step) -> Option<String> {
    Some(match step.facts.budget.as_ref()? {
        Budget::OverBase {
            base, over_base_mb, ..
        } => format!("{base} + {over_base_mb} MB"),
        Budget::Max { max_mb, .. } => format!("{max_mb} MB"),
    })
}
