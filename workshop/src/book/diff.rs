//! What a step changes in its Dockerfiles: the diff a chapter shows (instructions only),
//! and the instructions it adds, changes or removes.

use crate::error::{Result, io};
use crate::step::Step;
use crate::tool::MD_HEADER;

/// The step's Dockerfiles as one text, comment lines left out; step 03's two files are
/// shown one after the other. The name is short: `03-builder-pattern/Dockerfile.build +
/// Dockerfile.run`.
fn instructions_text(step: &Step) -> Result<(String, String)> {
    let files = step.dockerfiles();
    let mut texts = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).map_err(|error| io("read", path, error))?;
        texts.push(
            text.lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .map(|line| format!("{line}\n"))
                .collect::<String>(),
        );
    }
    let text = texts.join("\n");
    let names = files
        .iter()
        .map(|path| path.file_name().unwrap_or_default().to_string_lossy())
        .collect::<Vec<_>>()
        .join(" + ");
    Ok((format!("{}/{names}", step.slug), text))
}

/// What a step changes in the Dockerfile, instructions only: the whole file, comments
/// included, is shown above the diff in every chapter, and comment churn would bury
/// the two lines that matter.
pub(super) fn diff(previous: &Step, step: &Step) -> Result<String> {
    let (old_name, old) = instructions_text(previous)?;
    let (new_name, new) = instructions_text(step)?;
    let diff = similar::TextDiff::from_lines(&old, &new);
    let unified = diff
        .unified_diff()
        .context_radius(2)
        .header(&old_name, &new_name)
        .to_string();
    let touched = changed_instructions(previous, step)?
        .iter()
        .map(|instruction| format!("`{instruction}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!(
        "{MD_HEADER}Instructions only: comment lines are left out here, the whole file is above.\n\n\
         ```diff\n{unified}```\n\nThe instructions this step adds, changes or removes: {touched}.\n"
    ))
}

/// The Dockerfile instructions (`RUN`, `USER`, …) on the lines a step adds or removes,
/// read from the same diff the book shows.
pub fn changed_instructions(previous: &Step, step: &Step) -> Result<Vec<String>> {
    let (_, old) = instructions_text(previous)?;
    let (_, new) = instructions_text(step)?;
    let diff = similar::TextDiff::from_lines(&old, &new);
    // An instruction is the first word of a line that does not continue the one before.
    let starts = |text: &str| -> Vec<Option<String>> {
        let mut continued = false;
        text.lines()
            .map(|line| {
                let instruction = (!continued)
                    .then(|| line.split_whitespace().next().map(str::to_uppercase))
                    .flatten();
                continued = line.trim_end().ends_with('\\');
                instruction
            })
            .collect()
    };
    let (old_starts, new_starts) = (starts(&old), starts(&new));
    // The instruction a line belongs to: its own, or the nearest one above it.
    let owner = |starts: &[Option<String>], index: usize| {
        starts[..=index]
            .iter()
            .rev()
            .find_map(|start| start.clone())
    };
    let mut changed: Vec<String> = Vec::new();
    for change in diff.iter_all_changes() {
        let instruction = match change.tag() {
            similar::ChangeTag::Delete => change.old_index().and_then(|i| owner(&old_starts, i)),
            similar::ChangeTag::Insert => change.new_index().and_then(|i| owner(&new_starts, i)),
            similar::ChangeTag::Equal => None,
        };
        if let Some(instruction) = instruction.filter(|i| !changed.contains(i)) {
            changed.push(instruction);
        }
    }
    Ok(changed)
}
