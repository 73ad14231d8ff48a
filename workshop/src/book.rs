//! What the book includes but nobody types: each step's diff from the step before,
//! its commands, and every measured number, rendered from `book/src/generated/results.json`.
//! `cargo workshop instructor generate` writes these files; `workshop/tests/book.rs`
//! fails when a committed one differs from what this module renders now.
//!
//! Its parts are in `book/`, one idea each: shell lines, commands, *Your turn*, diffs,
//! how figures are shown, and the tables and charts of the measurements.

mod commands;
mod diff;
mod figures;
mod limits;
mod numbers;
mod shell;
mod sizes;
mod yours;

use std::path::PathBuf;

use crate::comparison;
use crate::error::{Error, Result};
use crate::results::{DIR, Results};
use crate::step::Step;
use crate::tool::{COMPARE, GENERATE, MD_HEADER, MEASURE, TRADES};
use crate::trades;
use commands::{ci_cache_commands, commands, compare_commands, learner_commands};
use diff::diff;
use limits::limits;
use numbers::numbers;
use sizes::{ladder_svg, sizes_table};
use yours::yours;

pub use diff::changed_instructions;
pub use shell::{CODE_COLUMNS, shell_line};

/// One generated file: where it goes and what it holds.
pub struct Generated {
    pub path: PathBuf,
    pub content: String,
}

/// Everything the generator writes, rendered from the step folders and results.json.
pub fn render_all() -> Result<Vec<Generated>> {
    let steps = Step::all()?;
    let slugs: Vec<String> = steps.iter().map(|step| step.slug.clone()).collect();
    let results = Results::load()?;
    // One run behind every table, or no book: rows of two runs side by side compare two
    // machine states.
    if let Some(results) = &results {
        results.one_run()?;
    }
    let mut files = Vec::new();
    let mut add = |name: String, content: String| {
        files.push(Generated {
            path: PathBuf::from(DIR).join(name),
            content,
        })
    };
    for (index, step) in steps.iter().enumerate() {
        let slug = &step.slug;
        let previous = index.checked_sub(1).map(|before| &steps[before]);
        add(format!("{slug}.commands.md"), commands(step));
        if let Some(previous) = previous {
            add(format!("{slug}.diff.md"), diff(previous, step)?);
        }
        add(
            format!("{slug}.numbers.md"),
            numbers(step, previous, results.as_ref()),
        );
        add(
            format!("{slug}.yours.md"),
            yours(step, previous, results.as_ref())?,
        );
    }
    add("learner.commands.md".into(), learner_commands());
    add(
        "time.md".into(),
        yours::time_table(&steps, results.as_ref()),
    );
    if let Some(publishing) = steps.iter().find(|step| !step.facts.publish.is_empty()) {
        add(
            "sign-and-run.commands.md".into(),
            commands::trust_commands(publishing),
        );
    }
    add(
        "measure.commands.md".into(),
        format!(
            "{MD_HEADER}```sh\n# every step, every figure (many minutes)\n{MEASURE}\n# sizes and counts only\n{MEASURE} --quick\n\
         # some steps only\n{MEASURE} --steps 06,07\n# the final image beside the article's Go service (needs wrk)\n{COMPARE}\n\
         # the trade-offs: step 07 with panic = \"unwind\", step 05's CMD in each form,\n\
         # step 09 and cargo-chef on a fresh CI runner\n{TRADES}\n\
         # the book's tables and charts again, from results.json\n{GENERATE}\n```\n"
        ),
    );
    add("sizes.md".into(), sizes_table(&slugs, results.as_ref()));
    add("limits.md".into(), limits(&slugs, results.as_ref()));
    add("panic.md".into(), trades::panic_markdown(results.as_ref()));
    add("stops.md".into(), trades::stops_markdown(results.as_ref()));
    add("ci-cache.md".into(), trades::ci_markdown(results.as_ref()));
    add("ci-cache.commands.md".into(), ci_cache_commands()?);
    add("ladder.svg".into(), ladder_svg(&slugs, results.as_ref()));
    add("compare.commands.md".into(), compare_commands()?);
    add("compare.md".into(), comparison::markdown(results.as_ref()));
    add("compare.svg".into(), comparison::svg(results.as_ref()));
    Ok(files)
}

/// Builds the HTML of the book in `book` (normally the repository's `book/`) into `out`
/// with mdBook, the way a reader's `mdbook serve` does; returns mdBook's log, or what
/// went wrong and what to do.
pub fn build_html(book: &std::path::Path, out: &std::path::Path) -> Result<String> {
    let _ = std::fs::remove_dir_all(out);
    let output = std::process::Command::new("mdbook")
        .arg("build")
        .arg(book)
        .arg("--dest-dir")
        .arg(out)
        .output()
        .map_err(|error| {
            Error::Harness(format!(
                "mdbook cannot run ({error}), and the book's tests build the book. \
                 Install it: `cargo install mdbook --locked`"
            ))
        })?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        return Err(Error::Harness(format!("mdbook build failed:\n{log}")));
    }
    Ok(log)
}
