//! Learner mode: a step's checks on the learner's own Dockerfile (or, in step 03,
//! build script), and the report a learner reads. The step tests print the same
//! report for the reference, so both meet exactly the same checks.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::checks::{self, Check, Outcome};
use super::step::BuildFailure;
use super::{Image, Step, book, repo_root};

/// The learner's folder: one subfolder per step, `yours/NN-slug/`.
pub const YOURS: &str = "yours";
/// The commands a learner types (a cargo alias in .cargo/config.toml).
pub const CHECK: &str = "cargo workshop check";
pub const PROGRESS: &str = "cargo workshop progress";
pub const DOCTOR: &str = "cargo workshop doctor";

impl Step {
    /// The step before this one, if any.
    pub fn previous(&self) -> Option<Step> {
        let slugs = book::step_slugs();
        let index = slugs.iter().position(|slug| *slug == self.slug)?;
        index.checked_sub(1).map(|i| Step::get(&slugs[i]))
    }

    /// The file a learner writes in place of the reference: the Dockerfile the build
    /// command names with `-f`, or the script it runs (step 03).
    pub fn reference_file(&self) -> PathBuf {
        let words: Vec<&str> = self.facts.build.split_whitespace().collect();
        let file = match words.iter().position(|word| *word == "-f") {
            Some(at) => words[at + 1],
            None => words[0],
        };
        PathBuf::from(file)
    }

    /// `yours/NN-slug/`, relative to the repository.
    pub fn yours_dir(&self) -> PathBuf {
        Path::new(YOURS).join(&self.slug)
    }

    /// Where the learner's file is expected when they name none.
    pub fn yours_default_file(&self) -> PathBuf {
        self.yours_dir().join(
            self.reference_file()
                .file_name()
                .expect("the reference file has a name"),
        )
    }

    /// The commands that start a step from the previous step's reference files: each of
    /// this step's files that has a same-named file in the previous step is copied; one
    /// whose name differs is made from the files `start` in step.toml names for it.
    /// One command a line, unwrapped: the book wraps them to its width.
    pub fn start_commands(&self) -> Vec<String> {
        let dir = self.yours_dir().display().to_string();
        let mut commands = vec![format!("mkdir -p {dir}")];
        let Some(from) = self.previous() else {
            // The first step starts from nothing; it still needs somewhere to write.
            return commands;
        };
        let source = |name: &str| format!("steps/{}/{name}", from.slug);
        let mut same_name = Vec::new();
        for name in self.learner_files() {
            if let Some(parts) = self.facts.start.get(&name) {
                let parts: Vec<String> = parts.iter().map(|part| source(part)).collect();
                commands.push(match parts.as_slice() {
                    [one] => format!("cp {one} {dir}/{name}"),
                    many => format!("cat {} > {dir}/{name}", many.join(" ")),
                });
            } else if from.dir.join(&name).is_file() {
                same_name.push(source(&name));
            }
        }
        if !same_name.is_empty() {
            commands.insert(1, format!("cp {} {dir}/", same_name.join(" ")));
        }
        commands
    }

    /// The files a learner writes for this step, as the reference has them: Dockerfiles,
    /// their `.dockerignore` files and scripts, sorted by name.
    pub fn learner_files(&self) -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(&self.dir)
            .expect("read a step folder")
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().to_string())
            .filter(|name| name.starts_with("Dockerfile") || name.ends_with(".sh"))
            .collect();
        files.sort();
        files
    }

    /// The same step, built from the learner's `file` instead of the reference and
    /// tagged `tag`: the build command is the book's, with the file swapped.
    pub fn yours(&self, file: &Path, tag: &str) -> Result<Step, String> {
        let mut absolute = if file.is_absolute() {
            file.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|dir| dir.join(file))
                .unwrap_or_else(|_| file.to_path_buf())
        };
        // A folder stands for the file of the step's name inside it.
        let file_name = self.reference_file();
        let file_name = file_name
            .file_name()
            .expect("the reference file has a name");
        if absolute.is_dir() || absolute.ends_with(self.yours_dir()) {
            absolute = absolute.join(file_name);
        }
        if !absolute.is_file() {
            let shown = absolute
                .strip_prefix(repo_root())
                .unwrap_or(&absolute)
                .display()
                .to_string();
            let hint = if absolute.starts_with(repo_root().join(self.yours_dir()))
                && !repo_root().join(self.yours_dir()).is_dir()
            {
                format!(
                    "start from the previous step's files:\n    {}",
                    self.start_commands().join("\n    ")
                )
            } else {
                format!(
                    "name your {} (default: {})",
                    file_name.display(),
                    self.yours_default_file().display()
                )
            };
            return Err(format!("{shown} does not exist yet. To write it, {hint}"));
        }
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        let shown = absolute
            .strip_prefix(repo_root())
            .map(Path::to_path_buf)
            .unwrap_or(absolute.clone());
        let reference = self.reference_file().display().to_string();
        let shown_text = shell_word(&shown.display().to_string());
        let build = if self.facts.build.contains(&format!("-f {reference}")) {
            self.facts
                .build
                .replace(&format!("-f {reference}"), &format!("-f {shown_text}"))
                .replace(&format!("-t {}", self.facts.image), &format!("-t {tag}"))
        } else {
            // A script (step 03): run by sh, so it need not be executable; it names
            // its image after TAG.
            format!(
                "TAG={tag} sh {}",
                self.facts.build.replacen(&reference, &shown_text, 1)
            )
        };
        let mut facts = self.facts.clone();
        facts.image = tag.to_string();
        facts.other_images.clear();
        facts.build = build;
        Ok(Step {
            slug: self.slug.clone(),
            dir: absolute.parent().expect("a file's folder").to_path_buf(),
            facts,
            learner_file: Some(absolute),
            echo_build: false,
        })
    }

    /// The step test's core: runs every check of the step on the reference image,
    /// prints the same report a learner gets, and fails on any failed check.
    pub async fn assert_checks_pass(&self, image: Image) -> Arc<Image> {
        let subject = format!("the reference, {}", self.reference_file().display());
        let image = Arc::new(image);
        let report = Report::of(self, subject, Ok(image.clone())).await;
        println!("{report}");
        assert!(
            report.passed(),
            "step {}: the reference fails its own checks:\n{report}",
            self.slug
        );
        image
    }

    /// Every check new in this step must fail on `other` (the previous step's image):
    /// proof that the checks can fail. Prints what each found and the hint a learner gets.
    pub async fn assert_new_checks_catch(&self, other: Image) {
        assert!(
            !self.facts.new.is_empty(),
            "step {}: step.toml lists no `new` checks",
            self.slug
        );
        let tag = other.tag.clone();
        let outcomes = checks::run_all(self, Arc::new(other), &self.facts.new).await;
        for Outcome { check, result, .. } in outcomes {
            match result {
                Err(problem) => println!(
                    "as expected, `{}` catches {tag}: {}\n  hint: {}",
                    check.name(),
                    problem.found,
                    problem.hint
                ),
                Ok(_) => panic!(
                    "the check `{}` of step {} passed on {tag}, an image it must catch: the check cannot fail",
                    check.name(),
                    self.slug
                ),
            }
        }
    }
}

/// A path as one word of a shell command: as it is when that is safe, else quoted
/// (a WSL path under /mnt/c/Users/Jane Doe/ has a space).
fn shell_word(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:@".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Builds the learner's file as `step`'s image and runs the step's checks on it.
/// `yours` is `step` made from the learner's file (`Step::yours`).
pub async fn check(step: &Step, yours: Step) -> Result<Report, String> {
    let subject = yours
        .learner_file
        .as_ref()
        .map(|file| {
            file.strip_prefix(repo_root())
                .unwrap_or(file)
                .display()
                .to_string()
        })
        .unwrap_or_default();
    let built = tokio::task::spawn_blocking(move || yours.try_build())
        .await
        .map_err(|error| match error.try_into_panic() {
            Ok(payload) => checks::panic_message(payload.as_ref()),
            Err(error) => error.to_string(),
        })?;
    Ok(Report::of(step, subject, built.map(Arc::new)).await)
}

/// What a learner reads after a check: the build, each check, the size against the reference.
pub struct Report {
    pub step: Step,
    /// What was checked: the learner's file, or the reference.
    pub subject: String,
    pub build: Result<Built, BuildFailure>,
    pub outcomes: Vec<Outcome>,
}

pub struct Built {
    pub tag: String,
    pub took: Duration,
    pub size_bytes: u64,
    /// The learner's Dockerfile has no Dockerfile.dockerignore next to it.
    pub no_ignore_file: bool,
}

impl Report {
    pub async fn of(
        step: &Step,
        subject: String,
        built: Result<Arc<Image>, BuildFailure>,
    ) -> Report {
        match built {
            Err(failure) => Report {
                step: step.clone(),
                subject,
                build: Err(failure),
                outcomes: Vec::new(),
            },
            Ok(image) => {
                let no_ignore_file = image.step.learner_file.as_ref().is_some_and(|file| {
                    !super::step::is_script(file)
                        && !PathBuf::from(format!("{}.dockerignore", file.display())).is_file()
                });
                let built = Built {
                    tag: image.tag.clone(),
                    took: image.build_time,
                    size_bytes: image.size_bytes(),
                    no_ignore_file,
                };
                let outcomes = checks::run_all(step, image, &step.facts.checks).await;
                Report {
                    step: step.clone(),
                    subject,
                    build: Ok(built),
                    outcomes,
                }
            }
        }
    }

    pub fn passed(&self) -> bool {
        self.build.is_ok() && self.outcomes.iter().all(|o| o.result.is_ok())
    }

    pub fn failed(&self) -> Vec<&'static str> {
        if self.build.is_err() {
            return vec!["build"];
        }
        self.outcomes
            .iter()
            .filter(|o| o.result.is_err())
            .map(|o| o.check.name())
            .collect()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let step = &self.step;
        writeln!(
            f,
            "step {} · {} — {}",
            &step.slug[..2],
            step.facts.title,
            self.subject
        )?;
        let built = match &self.build {
            Err(failure) => {
                writeln!(f, "  ✗ the build failed")?;
                for line in failure.report.lines().skip(1) {
                    writeln!(f, "    {line}")?;
                }
                return write!(
                    f,
                    "  none of the {} checks ran: fix the build first.",
                    step.facts.checks.len()
                );
            }
            Ok(built) => built,
        };
        let reference = book::Results::load()
            .and_then(|results| results.step(&step.slug).map(|r| r.size_bytes))
            .map(|bytes| format!("; the reference: {}", book::human_size(bytes)))
            .unwrap_or_default();
        writeln!(
            f,
            "  built {} in {:.1} s: {}{reference}",
            built.tag,
            built.took.as_secs_f64(),
            book::human_size(built.size_bytes)
        )?;
        if built.no_ignore_file {
            writeln!(
                f,
                "  note: no Dockerfile.dockerignore next to your Dockerfile, so the build context \
                 is the whole repository, target/ included (step 02 shows why that hurts)"
            )?;
        }
        for Outcome { check, result, .. } in &self.outcomes {
            let says = check.says().replace('`', "");
            match result {
                Ok(None) => writeln!(f, "  ✓ {says}")?,
                Ok(Some(detail)) => writeln!(f, "  ✓ {says} — {detail}")?,
                Err(problem) => {
                    writeln!(f, "  ✗ {says}")?;
                    let mut found = problem.found.lines();
                    writeln!(f, "      why:  {}", found.next().unwrap_or(""))?;
                    for line in found {
                        writeln!(f, "            {line}")?;
                    }
                    writeln!(f, "      hint: {}", problem.hint)?;
                }
            }
        }
        let passing = self.outcomes.iter().filter(|o| o.result.is_ok()).count();
        write!(
            f,
            "  {passing} of {} checks pass{}",
            self.outcomes.len(),
            if self.passed() {
                "."
            } else {
                ": work on the first ✗, then check again."
            }
        )
    }
}

// ---- Progress: what the learner's own files passed, remembered between checks. ----

/// The last check of each step on the learner's own files.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    pub steps: std::collections::BTreeMap<String, Checked>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Checked {
    pub file: String,
    /// A fingerprint of the learner's step folder when it was checked.
    pub fingerprint: String,
    pub failed: Vec<String>,
}

impl Progress {
    /// The learner's folder in this repository: `yours/`.
    pub fn folder() -> PathBuf {
        repo_root().join(YOURS)
    }

    /// The progress recorded in `yours` (a `yours/` folder), or none yet.
    pub fn load(yours: &Path) -> Progress {
        std::fs::read_to_string(yours.join("progress.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Remembers a check of the learner's files in `yours/NN-slug/`.
    pub fn record(yours: &Path, report: &Report) -> std::io::Result<()> {
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
        std::fs::create_dir_all(yours)?;
        std::fs::write(
            yours.join("progress.json"),
            serde_json::to_string_pretty(&progress).expect("progress as JSON") + "\n",
        )
    }

    /// One line per step: passes, fails which checks, changed since, not checked, not
    /// started; then what to do next.
    pub fn render(&self, yours: &Path) -> String {
        let mut out =
            format!("Your steps (files in {YOURS}/NN-slug/, checked with `{CHECK} NN`):\n");
        let mut next = None;
        for slug in book::step_slugs() {
            let folder = yours.join(&slug);
            let status = match self.steps.get(&slug) {
                _ if !folder.is_dir() => "· not started".to_string(),
                None => "· written, not checked yet".to_string(),
                Some(checked) if checked.fingerprint != fingerprint(&folder) => {
                    "~ changed since the last check: check again".to_string()
                }
                Some(checked) if checked.failed.is_empty() => "✓ passes".to_string(),
                Some(checked) => format!("✗ fails {}", checked.failed.join(", ")),
            };
            if next.is_none() && !status.starts_with('✓') {
                next = Some(slug.clone());
            }
            let _ = writeln!(out, "  {:<22} {status}", slug.replacen('-', " ", 1));
        }
        match next {
            Some(slug) => {
                let step = Step::get(&slug);
                let _ = write!(
                    out,
                    "next: step {} ({}): `{CHECK} {}`",
                    &slug[..2],
                    step.facts.title,
                    &slug[..2]
                );
                if !yours.join(&slug).is_dir() {
                    let _ = write!(
                        out,
                        ", after writing {}; to start:\n    {}",
                        step.yours_default_file().display(),
                        step.start_commands().join("\n    ")
                    );
                }
            }
            None => out.push_str("every step passes: well done."),
        }
        out
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
