//! Reading BuildKit's plain-progress log: the instructions in Dockerfile order and
//! whether each came from the cache, what to show a learner while a build moves,
//! and, when it failed, the failing instruction and the first error.
//!
//! Its unit tests are beside it, in buildkit_tests.rs (compiled once, into
//! tests/harness.rs: every test binary includes this module, the tests belong to one).

use std::collections::{HashMap, HashSet};

/// One instruction of a BuildKit build, as its plain-progress log shows it.
pub struct BuildStep {
    /// `build` in `[build 3/6]`.
    pub stage: String,
    /// 3 in `[build 3/6]`: the instruction's place in its stage.
    pub index: u32,
    pub instruction: String,
    pub cached: bool,
}

/// The instructions of a BuildKit plain-progress log, each with whether it was CACHED:
/// stages in the order the log first names them, each stage's instructions in their
/// Dockerfile order. BuildKit prints `#7 [build 3/6] RUN cargo build ...` and later
/// `#7 CACHED` in whatever order the steps ran or came from the cache.
pub fn build_steps(log: &str) -> Vec<BuildStep> {
    let mut found: Vec<(String, BuildStep)> = Vec::new();
    for (id, rest) in progress_lines(log) {
        if rest.trim() == "CACHED" {
            if let Some((_, step)) = found.iter_mut().find(|(known, _)| known == id) {
                step.cached = true;
            }
        } else if !found.iter().any(|(known, _)| known == id)
            && let Some(step) = instruction_line(rest)
        {
            found.push((id.to_string(), step));
        }
    }
    let mut steps: Vec<BuildStep> = found.into_iter().map(|(_, step)| step).collect();
    let mut stages: Vec<String> = Vec::new();
    for step in &steps {
        if !stages.contains(&step.stage) {
            stages.push(step.stage.clone());
        }
    }
    steps.sort_by_key(|step| {
        (
            stages.iter().position(|stage| *stage == step.stage),
            step.index,
        )
    });
    steps
}

/// The progress lines of a log, `#7 rest`, split into the vertex id (`#7`) and the rest.
fn progress_lines(log: &str) -> impl Iterator<Item = (&str, &str)> {
    log.lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(id, _)| id.starts_with('#'))
}

/// `[build 3/6] RUN cargo build ...`, the line BuildKit prints when it reaches an
/// instruction of the Dockerfile (not its `[internal]` work).
fn instruction_line(rest: &str) -> Option<BuildStep> {
    let (place, instruction) = rest.strip_prefix('[')?.split_once("] ")?;
    let (stage, index) = place.rsplit_once(' ')?;
    if stage == "internal" {
        return None;
    }
    Some(BuildStep {
        stage: stage.to_string(),
        index: index.split('/').next()?.parse().ok()?,
        instruction: instruction.to_string(),
        cached: false,
    })
}

/// Turns a BuildKit plain-progress log, line by line, into what a learner watching
/// the build wants to see: each instruction when it starts or comes from the cache,
/// and how long the slow ones took.
#[derive(Default)]
pub struct BuildEcho {
    /// `#7` → `[build 3/6] RUN cargo build …`
    names: HashMap<String, String>,
    started: HashSet<String>,
}

impl BuildEcho {
    /// What to show for this line of the log, if anything.
    pub fn line(&mut self, line: &str) -> Option<String> {
        let (id, rest) = line.split_once(' ')?;
        if !id.starts_with('#') {
            return None;
        }
        let rest = rest.trim();
        if !self.names.contains_key(id) {
            let place = rest.strip_prefix('[')?.split_once(']')?.0;
            let step = instruction_line(rest)?;
            let mut instruction: String = step.instruction.chars().take(72).collect();
            if instruction.len() < step.instruction.len() {
                instruction.push('…');
            }
            self.names
                .insert(id.to_string(), format!("[{place}] {instruction}"));
            return None;
        }
        let name = &self.names[id];
        if rest == "CACHED" {
            return Some(format!("{name}   (cached)"));
        }
        if let Some(took) = rest.strip_prefix("DONE ") {
            // A quick instruction says nothing between its name and DONE: show it once.
            if self.started.insert(id.to_string()) {
                return Some(name.clone());
            }
            let seconds: f64 = took.trim_end_matches('s').parse().unwrap_or(0.0);
            return (seconds >= 1.0).then(|| format!("{name}   done in {took}"));
        }
        // Digests and the resolving of a base image say nothing about progress.
        if rest.starts_with("sha256:") || rest.starts_with("resolve ") {
            return None;
        }
        self.started.insert(id.to_string()).then(|| name.clone())
    }
}

/// The instruction a failed build names: BuildKit prints it as ` > [stage 2/4] RUN ...:`,
/// the legacy builder as `Step 2/4 : RUN ...`.
pub fn failing_instruction(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    lines
        .iter()
        .rev()
        .find(|line| line.starts_with(" > [") && line.ends_with(':'))
        .map(|line| {
            line.trim_start_matches(" > ")
                .trim_end_matches(':')
                .to_string()
        })
        .or_else(|| {
            lines
                .iter()
                .rev()
                .find(|l| l.starts_with("Step "))
                .map(|l| l.to_string())
        })
}

/// The first error line the failing step printed (cargo's, say), which explains more
/// than BuildKit's closing "executor failed" line; else the last error line of all.
pub fn first_error(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    let failed_step = lines.iter().find_map(|line| {
        line.split_once(" ERROR")
            .map(|(id, _)| id)
            .filter(|id| id.starts_with('#'))
    });
    let first_error_of_step = failed_step.and_then(|id| {
        lines
            .iter()
            .filter(|line| line.starts_with(&format!("{id} ")) && !line.contains(" ERROR"))
            .find(|line| is_error(line))
    });
    first_error_of_step
        .or_else(|| lines.iter().rev().find(|line| is_error(line)))
        .map(|line| line.to_string())
}

/// An error line, not a line that merely contains the letters (`thiserror`).
fn is_error(line: &str) -> bool {
    let lower = line.to_lowercase();
    ["error:", "error[", " error ", "error -", "cannot stat"]
        .iter()
        .any(|marker| lower.contains(marker))
        || lower.ends_with(" error")
        || lower.starts_with("failed to")
}

/// The instructions under which BuildKit extracted layers from an imported cache
/// (`--cache-from`): it prints `extracting sha256:…` under the first CACHED
/// instruction whose result a later one needs, for that layer and the ones below it.
/// A layer the builder kept itself is CACHED without being extracted.
pub fn imported_layers(log: &str) -> Vec<String> {
    let mut instructions: HashMap<&str, String> = HashMap::new();
    let mut imported: Vec<String> = Vec::new();
    for (id, rest) in progress_lines(log) {
        if let Some(step) = instruction_line(rest) {
            instructions.entry(id).or_insert(step.instruction);
        } else if rest.starts_with("extracting sha256:")
            && let Some(instruction) = instructions.get(id)
            && !imported.contains(instruction)
            && !instruction.starts_with("FROM ")
        {
            imported.push(instruction.clone());
        }
    }
    imported
}

/// The crates cargo compiled in a build, as its `Compiling name vX.Y.Z` lines name
/// them (`name vX.Y.Z`), in the order it compiled them; each once.
pub fn compiled_crates(log: &str) -> Vec<String> {
    let mut crates: Vec<String> = Vec::new();
    for line in log.lines() {
        let Some((_, rest)) = line.split_once("Compiling ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        let compiled = format!("{name} {version}");
        if version.starts_with('v') && !crates.contains(&compiled) {
            crates.push(compiled);
        }
    }
    crates
}

/// A finding of BuildKit's build checks (Dockerfile frontend 1.8 and later), as every
/// build prints it under "N warnings found": ` - JSONArgsRecommended: JSON arguments
/// recommended for ENTRYPOINT … (line 12)`. `docker build --check` runs them alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildCheckWarning {
    pub rule: String,
    pub message: String,
    pub line: Option<u32>,
}

impl BuildCheckWarning {
    /// The workshop check that goes over the same ground, where there is one.
    pub fn workshop_check(&self) -> Option<&'static str> {
        match self.rule.as_str() {
            "JSONArgsRecommended" => Some("exec_form_entrypoint_and_healthcheck"),
            _ => None,
        }
    }
}

/// The build-check warnings a build log lists (its colours removed), each once.
pub fn build_check_warnings(log: &str) -> Vec<BuildCheckWarning> {
    let mut warnings = Vec::new();
    let mut listing = false;
    for line in log.lines().map(without_colours) {
        let line = line.trim_end();
        if line.trim_start().starts_with(|c: char| c.is_ascii_digit())
            && (line.contains(" warning found") || line.contains(" warnings found"))
        {
            listing = true;
            continue;
        }
        if !listing {
            continue;
        }
        let Some(item) = line.strip_prefix(" - ") else {
            listing = false;
            continue;
        };
        let Some((rule, rest)) = item.split_once(": ") else {
            continue;
        };
        let (message, number) = match rest.rsplit_once(" (line ") {
            Some((message, tail)) => (message, tail.trim_end_matches(')').parse().ok()),
            None => (rest, None),
        };
        let warning = BuildCheckWarning {
            rule: rule.to_string(),
            message: message.to_string(),
            line: number,
        };
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }
    warnings
}

/// A line without its terminal colour codes (`ESC [ … m`).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The instructions that had started and not finished (no DONE, CACHED or ERROR line;
/// CANCELED is how BuildKit ends the ones still running when the build is stopped), in
/// the order they started: what a stopped build was doing.
pub fn running_instructions(log: &str) -> Vec<String> {
    let mut started: Vec<(String, String)> = Vec::new();
    for (id, rest) in progress_lines(log) {
        let rest = rest.trim();
        let finished = rest == "CACHED" || rest.starts_with("DONE") || rest.starts_with("ERROR");
        if finished {
            started.retain(|(known, _)| known != id);
        } else if !started.iter().any(|(known, _)| known == id) && instruction_line(rest).is_some()
        {
            started.push((id.to_string(), rest.to_string()));
        }
    }
    started
        .into_iter()
        .map(|(_, instruction)| instruction)
        .collect()
}
