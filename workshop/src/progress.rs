//! Progress: what the learner's own files passed, remembered between checks in
//! `yours/progress.json`, and what to do next.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Harness;
use crate::error::{Result, io};
use crate::learner::{Report, YOURS};
use crate::repo_root;
use crate::step::Step;
use crate::tool::CHECK;

/// The last check of each step on the learner's own files.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    pub steps: std::collections::BTreeMap<String, Checked>,
    /// How many of each step's hints the learner has seen (`cargo workshop hint`).
    #[serde(default)]
    pub hints: std::collections::BTreeMap<String, usize>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Checked {
    pub file: String,
    /// A fingerprint of the learner's step folder when it was checked.
    pub fingerprint: String,
    pub failed: Vec<String>,
}

impl Progress {
    /// The learner's folder: `yours/` in this repository, or the folder
    /// `PING_WORKSHOP_YOURS` names (the tool's own tests, which must not touch a
    /// learner's files).
    pub fn folder() -> PathBuf {
        std::env::var_os("PING_WORKSHOP_YOURS")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(YOURS))
    }

    /// The progress recorded in `yours` (a `yours/` folder), or none yet.
    pub fn load(yours: &Path) -> Progress {
        std::fs::read_to_string(yours.join("progress.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Remembers a check of the learner's files in `yours/NN-slug/`.
    pub fn record(yours: &Path, report: &Report) -> Result<()> {
        let mut progress = Progress::load(yours);
        let folder = yours.join(&report.step.slug);
        progress.steps.insert(
            report.step.slug.clone(),
            Checked {
                file: report.subject.clone(),
                fingerprint: fingerprint(&folder),
                failed: report.failed().iter().map(|s| s.to_string()).collect(),
            },
        );
        progress.save(yours)
    }

    /// Writes the progress to `yours/progress.json`.
    pub fn save(&self, yours: &Path) -> Result<()> {
        let path = yours.join("progress.json");
        let json = serde_json::to_string_pretty(self).harness("progress as JSON")?;
        std::fs::create_dir_all(yours)
            .and_then(|()| std::fs::write(&path, json + "\n"))
            .map_err(|error| io("write", &path, error))
    }

    /// Whether the learner's folder for `step` is as it was at its last recorded check.
    pub fn unchanged(&self, yours: &Path, step: &Step) -> bool {
        self.steps
            .get(&step.slug)
            .is_some_and(|checked| checked.fingerprint == fingerprint(&yours.join(&step.slug)))
    }

    /// The learner's folder's fingerprint now (its files' names and bytes).
    pub fn fingerprint_of(folder: &Path) -> String {
        fingerprint(folder)
    }

    /// The first step the learner's files do not pass (as last checked, unchanged since).
    pub fn next_step(&self, yours: &Path) -> Result<Option<Step>> {
        Ok(Step::all()?.into_iter().find(|step| {
            !matches!(self.steps.get(&step.slug), Some(checked)
                if checked.failed.is_empty() && self.unchanged(yours, step))
        }))
    }

    /// One line per step: passes, fails which checks, changed since, not checked, not
    /// started; then what to do next.
    pub fn render(&self, yours: &Path) -> Result<String> {
        let mut out =
            format!("Your steps (files in {YOURS}/NN-slug/, checked with `{CHECK} NN`):\n");
        let mut next = None;
        for step in Step::all()? {
            let slug = &step.slug;
            let folder = yours.join(slug);
            let status = match self.steps.get(slug) {
                _ if !folder.is_dir() => "· not started".to_string(),
                None => "· written, not checked yet".to_string(),
                Some(checked) if checked.fingerprint != fingerprint(&folder) => {
                    "~ changed since the last check: check again".to_string()
                }
                Some(checked) if checked.failed.is_empty() => "✓ passes".to_string(),
                Some(checked) => format!("✗ fails {}", checked.failed.join(", ")),
            };
            let _ = writeln!(out, "  {:<22} {status}", slug.replacen('-', " ", 1));
            if next.is_none() && !status.starts_with('✓') {
                next = Some(step);
            }
        }
        match next {
            Some(step) => {
                let _ = write!(
                    out,
                    "next: step {} ({}): `{CHECK} {}`",
                    step.number, step.facts.title, step.number
                );
                if !yours.join(&step.slug).is_dir() {
                    let _ = write!(
                        out,
                        ", after writing {}; to start:\n    {}",
                        step.yours_default_file().display(),
                        step.start_commands()?.join("\n    ")
                    );
                }
            }
            None => out.push_str("every step passes: well done."),
        }
        Ok(out)
    }
}

/// FNV-1a over the names and bytes of a folder's files: stable across Rust versions.
fn fingerprint(folder: &Path) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .as_encoded_bytes()
            .to_vec();
        let bytes = std::fs::read(&path).unwrap_or_default();
        for byte in name.into_iter().chain([0]).chain(bytes) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}
