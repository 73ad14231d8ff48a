//! A chapter's *Your turn*: where the learner writes their files, starting from which,
//! the checks `cargo workshop check` runs on them, and how long the step takes.

use std::fmt::Write as _;

use super::shell::shell_line;
use crate::error::Result;
use crate::results::{Results, time_for};
use crate::step::Step;
use crate::tool::{CHECK, MD_HEADER, MEASURE, PROGRESS, RESET, SOLUTION, WATCH};

/// "Your turn": start from the previous step's files, check with the step's checks.
pub(super) fn yours(
    step: &Step,
    previous: Option<&Step>,
    results: Option<&Results>,
) -> Result<String> {
    let number = step.number;
    let time = time_line(step, results);
    let files: Vec<String> = step
        .learner_files()
        .into_iter()
        .filter(|name| !name.ends_with(".dockerignore"))
        .map(|name| format!("`{name}`"))
        .collect();
    let files = match files.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    let folder = step.yours_dir().display().to_string();
    let start = match previous {
        Some(previous) => format!(
            "Write your own {files} in `{folder}/`, starting from a copy of step {}'s files:",
            previous.number
        ),
        None => format!("Write your own {files} in `{folder}/`:"),
    };
    let checks: String = step
        .facts
        .checks
        .iter()
        .map(|check| {
            if step.facts.new.contains(check) {
                format!("- **{}** (new in this step)\n", check.says())
            } else {
                format!("- {}\n", check.says())
            }
        })
        .collect();
    // Checked before any edit, the previous step's files fail what this step adds: the
    // learner's task is read from the report, not from the chapter.
    let first_run = match previous {
        // Step 03's script has no twin in step 02: the check has nothing to run without it.
        Some(previous) if step.is_script() => format!(
            "Step {}'s files hold no build script: write yours, and the files it builds \
             from, then run the check. The ✗ lines, each with what was found and a hint, are \
             what is left to do; edit until every line is ✓.",
            previous.number
        ),
        Some(previous) => format!(
            "Run the check before you change anything. Step {}'s files fail what this step \
             adds: the ✗ lines, each with what was found and a hint, are your task. Then edit \
             your files until every line is ✓.",
            previous.number
        ),
        None => "Each ✗ would come with what was found and a hint.".to_string(),
    };
    // The loop the learner lives in, named where the work starts.
    let reset = match previous {
        Some(previous) => format!("step {}'s files", previous.number),
        None => "an empty folder".to_string(),
    };
    let start_over = format!("`{RESET} {number}` starts you again from {reset}");
    Ok(format!(
        "{MD_HEADER}{time}{start}\n\n```sh\n{}\n{CHECK} {number}\n```\n\n\
         `{CHECK} {number}` builds your file as `{}-yours` with this step's build command, then \
         runs the checks the step's own test runs on the reference:\n\n{checks}\n\
         {first_run} `{PROGRESS}` lists every step you have checked.\n\n\
         Keep `{WATCH} {number}` open in a second terminal: it checks again each time you \
         save, and stops a check that a newer save made stale. {start_over} (yours move to `{folder}.before-reset-…`), and `{SOLUTION} {number}` shows the \
         reference and how your files differ from it once every line is ✓ (`--give-up` \
         before that).\n",
        step.start_commands()?
            .iter()
            .map(|command| shell_line(command))
            .collect::<Vec<_>>()
            .join("\n"),
        step.image,
    ))
}

/// "About 35 minutes …": the step's time and what it is made of, when measured.
fn time_line(step: &Step, results: Option<&Results>) -> String {
    let Some(result) = results.and_then(|results| results.step(&step.slug)) else {
        return String::new();
    };
    let time = time_for(step, Some(result));
    let new = step.facts.new.len();
    format!(
        "*About {} minutes on a two-core laptop: {:.0} of reading, {:.0} for the first, cold \
         build, {:.0} for {} checks of your files, and {:.0} to write and think ({} new \
         check{}).*\n\n",
        time.total(),
        time.reading_min.max(1.0),
        time.build_min.max(1.0),
        time.checks_min.max(1.0),
        1 + new,
        time.writing_min,
        new,
        if new == 1 { "" } else { "s" }
    )
}

/// The introduction's table: each step's time, the whole, and the one-day split (steps
/// 01 to 08 by hand, the rest shown).
pub(super) fn time_table(steps: &[Step], results: Option<&Results>) -> String {
    let Some(results) = results else {
        return format!("{MD_HEADER}*Not measured yet: `{MEASURE}` measures it.*\n");
    };
    let mut out = format!("{MD_HEADER}| Step | Chapter | Minutes |\n|---|---|---:|\n");
    let (mut core, mut rest) = (0, 0);
    for step in steps {
        let minutes = time_for(step, results.step(&step.slug)).total();
        if step.number.get() <= ONE_DAY_BY_HAND {
            core += minutes;
        } else {
            rest += minutes;
        }
        let _ = writeln!(
            out,
            "| {} | [{}]({}.md) | {minutes} |",
            step.number, step.facts.title, step.slug
        );
    }
    let hours = |minutes: u32| format!("{} h {:02} min", minutes / 60, minutes % 60);
    let _ = write!(
        out,
        "| | **All of them** | **{}** |\n\n*Estimates from the measurement run of {}: reading \
         at 200 words a minute, the measured cold build and warm checks, ten minutes of \
         writing for each new check. Steps 01 to {ONE_DAY_BY_HAND:02} take {}, steps {:02} to {:02} \
         {}.*\n",
        hours(core + rest),
        results.run,
        hours(core),
        ONE_DAY_BY_HAND + 1,
        steps.last().map_or(0, |step| step.number.get()),
        hours(rest)
    );
    out
}

/// The last step a one-day room does by hand; the later ones are shown.
pub const ONE_DAY_BY_HAND: u8 = 8;
