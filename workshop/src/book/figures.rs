//! How the book shows a measured figure (a step's number, seconds, megabytes, a rate
//! with its spread, a dash for none), and where a table's figures come from.

use crate::results::{Results, StepResult, rate_range};
use crate::step::StepNumber;

/// The step number of a measured step's slug: `06`.
pub(super) fn number_of(slug: &str) -> String {
    slug.parse::<StepNumber>()
        .map(|number| number.to_string())
        .unwrap_or_else(|_| slug.to_string())
}

pub(super) fn or_dash<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map(show).unwrap_or_else(|| "–".into())
}

/// Where the figures of a table of `shown` steps come from: the run, and which of them
/// an earlier run measured (nothing to say when the last run measured them all).
pub(super) fn provenance(results: &Results, shown: &[&str]) -> String {
    let all_from_the_last_run = shown.iter().all(|slug| {
        results
            .last_run_steps
            .iter()
            .any(|measured| measured == slug)
    });
    let some = match results.last_run_steps.as_slice() {
        [] => String::new(),
        _ if all_from_the_last_run => String::new(),
        steps => format!(
            " That run measured {} {}; the others come from an earlier run: compare their \
             speeds with these only loosely.",
            if steps.len() == 1 { "step" } else { "steps" },
            steps
                .iter()
                .map(|slug| number_of(slug))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let load = match &results.load_generator {
        Some(generator) => format!(" Load: {generator}."),
        None => " Load: the workshop's own generator (32 keep-alive connections through the \
                 published port), before wrk replaced it."
            .into(),
    };
    let builds = if results.mode == "runtime" {
        " Its build times come from the full run before it."
    } else {
        ""
    };
    let noise = results.build_noise.as_ref().map_or(String::new(), |noise| {
        let shown: Vec<String> = noise.builds_s.iter().map(|s| format!("{s:.0}")).collect();
        format!(
            " Cold builds vary by themselves: step {} built cold {} times took {} s; build \
             times closer than {:.0} s say nothing about the steps.",
            number_of(&noise.slug),
            noise.builds_s.len(),
            shown.join(", "),
            noise.spread_s()
        )
    });
    let base = if results.base_images.is_empty() {
        String::new()
    } else {
        format!(" Base images {}.", results.base_images)
    };
    format!(
        "Measured in one run, {}: {}, {}, {}, with `{}` ({} mode).{builds}{some}{base}{noise}{load}",
        results.run,
        results.machine,
        results.toolchain,
        results.docker,
        results.command,
        results.mode
    )
}

/// Requests per second as the median round and the range of all rounds, in thousands:
/// `35.1k (33.0–36.2)`, never broken across lines.
pub(super) fn rate_with_spread(s: &StepResult) -> String {
    match (s.requests_per_s, s.requests_per_s_min, s.requests_per_s_max) {
        (Some(median), Some(min), Some(max)) => rate_range(median, min, max),
        (Some(median), _, _) => format!("{:.1}k", median / 1000.0),
        _ => "–".into(),
    }
}

pub(super) fn seconds(value: Option<f64>) -> String {
    or_dash(value, |s| format!("{s:.0} s"))
}

pub(super) fn megabytes_kb(value: Option<u64>) -> String {
    or_dash(value, |kb| format!("{:.1} MB", kb as f64 / 1000.0))
}
