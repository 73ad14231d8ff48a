//! The learner's loop besides the check: the next hint for a step, a step's starting
//! files put back (the old ones kept beside), and the reference solution once the
//! learner's own files pass. `cargo workshop hint | reset | solution` print what these
//! return; what a learner has seen is remembered in `yours/progress.json`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, found, io};
use crate::progress::Progress;
use crate::step::{Hint, Step};
use crate::tool::{CHECK, HINT, SOLUTION};

/// A hint as the learner reads it: which of how many, and for which check.
pub struct HintShown {
    pub number: usize,
    pub of: usize,
    pub hint: Hint,
    /// The earlier hints skipped because their check passes now.
    pub skipped: usize,
}

impl std::fmt::Display for HintShown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Hint {} of {} (for {}: {}):",
            self.number,
            self.of,
            self.hint.check.name(),
            self.hint.check.says().replace('`', "")
        )?;
        write!(f, "  {}", self.hint.text)
    }
}

/// The next hint for `step` in the learner's folder `yours` (the one after those shown
/// before), passing over hints whose check the learner's last check of the step passed;
/// remembered as shown. None when every hint was shown.
pub fn next_hint(step: &Step, yours: &Path) -> Result<Option<HintShown>> {
    let hints = &step.facts.hints;
    if hints.is_empty() {
        return found(
            format!("step {} has no hints", step.number),
            format!(
                "the chapter's *Your turn* says what to do; `{SOLUTION} {}` shows the reference",
                step.number
            ),
        );
    }
    let mut progress = Progress::load(yours);
    let shown = progress.hints.get(&step.slug).copied().unwrap_or(0);
    // A check the learner's files passed needs no hint: skip to one that fails.
    let passing = |hint: &Hint| {
        progress.steps.get(&step.slug).is_some_and(|checked| {
            checked
                .failed
                .iter()
                .all(|failed| failed != hint.check.name())
                && checked.failed.iter().all(|failed| failed != "build")
        })
    };
    let mut at = shown;
    while at < hints.len() && at + 1 < hints.len() && passing(&hints[at]) {
        at += 1;
    }
    let Some(hint) = hints.get(at) else {
        return Ok(None);
    };
    progress.hints.insert(step.slug.clone(), at + 1);
    progress.save(yours)?;
    Ok(Some(HintShown {
        number: at + 1,
        of: hints.len(),
        hint: hint.clone(),
        skipped: at - shown,
    }))
}

/// What `reset` did: the folder it kept the learner's files in, and the files it wrote.
pub struct Reset {
    pub kept: Option<PathBuf>,
    pub written: Vec<String>,
}

/// Puts `step`'s starting files back in `yours/NN-slug/` (the previous step's reference
/// files, as *Your turn* starts from): the folder there now is kept beside it, as
/// `NN-slug.before-reset-<seconds since 1970>`, never deleted.
pub fn reset(step: &Step, yours: &Path) -> Result<Reset> {
    let folder = yours.join(&step.slug);
    let kept = if folder.exists() {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
        let mut beside = yours.join(format!("{}.before-reset-{stamp}", step.slug));
        let mut again = 1;
        while beside.exists() {
            beside = yours.join(format!("{}.before-reset-{stamp}-{again}", step.slug));
            again += 1;
        }
        std::fs::rename(&folder, &beside).map_err(|error| io("move", &folder, error))?;
        Some(beside)
    } else {
        None
    };
    std::fs::create_dir_all(&folder).map_err(|error| io("create", &folder, error))?;
    let mut written = Vec::new();
    for (name, text) in step.starting_files()? {
        let path = folder.join(&name);
        std::fs::write(&path, text).map_err(|error| io("write", &path, error))?;
        written.push(name);
    }
    Ok(Reset { kept, written })
}

/// The reference files of `step` and a diff of the learner's against them, once the
/// learner's files in `yours/NN-slug/` pass the step's checks (as the last check
/// recorded, and unchanged since), or at once with `give_up`.
pub fn solution(step: &Step, yours: &Path, give_up: bool) -> Result<String> {
    let folder = yours.join(&step.slug);
    let progress = Progress::load(yours);
    if !give_up {
        match progress.steps.get(&step.slug) {
            Some(checked) if checked.failed.is_empty() && progress.unchanged(yours, step) => {}
            Some(checked) if !checked.failed.is_empty() => {
                return Err(Error::Found {
                    found: format!(
                        "your step {} does not pass yet: it fails {}",
                        step.number,
                        checked.failed.join(", ")
                    ),
                    hint: format!(
                        "the solution comes once it passes: `{HINT} {n}` gives the next hint; \
                         `{SOLUTION} {n} --give-up` shows it now",
                        n = step.number
                    ),
                });
            }
            Some(_) => {
                return found(
                    format!("your step {} changed since it last passed", step.number),
                    format!("check it again: `{CHECK} {}`", step.number),
                );
            }
            None => {
                return found(
                    format!("your step {} has not been checked yet", step.number),
                    format!(
                        "check it first: `{CHECK} {n}`; `{SOLUTION} {n} --give-up` shows the \
                         solution now",
                        n = step.number
                    ),
                );
            }
        }
    }
    let mut out = String::new();
    for name in step.learner_files() {
        let reference = step.dir.join(&name);
        let theirs = folder.join(&name);
        let reference_text =
            std::fs::read_to_string(&reference).map_err(|error| io("read", &reference, error))?;
        let _ = writeln!(out, "── steps/{}/{name} (the reference)", step.slug);
        out.push_str(&reference_text);
        if !reference_text.ends_with('\n') {
            out.push('\n');
        }
        match std::fs::read_to_string(&theirs) {
            Ok(text) if text == reference_text => {
                let _ = writeln!(
                    out,
                    "── yours/{}/{name}: the same, line for line\n",
                    step.slug
                );
            }
            Ok(text) => {
                let _ = writeln!(
                    out,
                    "── how yours/{slug}/{name} differs (- yours, + the reference):",
                    slug = step.slug
                );
                let diff = similar::TextDiff::from_lines(&text, &reference_text);
                out.push_str(
                    &diff
                        .unified_diff()
                        .context_radius(2)
                        .header(
                            &format!("yours/{}/{name}", step.slug),
                            &format!("steps/{}/{name}", step.slug),
                        )
                        .to_string(),
                );
                out.push('\n');
            }
            Err(_) => {
                let _ = writeln!(
                    out,
                    "── yours/{}/{name}: you have no such file\n",
                    step.slug
                );
            }
        }
    }
    Ok(out.trim_end().to_string())
}
