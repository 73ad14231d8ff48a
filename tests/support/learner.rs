//! Learner mode: a step's checks on the learner's own Dockerfile (or, in step 03,
//! build script), and the report a learner reads. The step tests print the same
//! report for the reference, so both meet exactly the same checks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::buildkit::{BuildCheckWarning, build_check_warnings};
use super::checks::{self, Outcome};
use super::error::{BuildFailure, Error, Result, found};
use super::image::Image;
use super::repo_root;
use super::results::{Results, human_size};
use super::step::{Step, shown};

/// The learner's folder: one subfolder per step, `yours/NN-slug/`.
pub const YOURS: &str = "yours";
/// The cache mounts of a learner's builds: theirs, apart from the reference builds'.
pub const CACHE_NAMESPACE: &str = "ping-yours";

impl Step {
    /// `yours/NN-slug/`, relative to the repository.
    pub fn yours_dir(&self) -> PathBuf {
        Path::new(YOURS).join(&self.slug)
    }

    /// Where the learner's file is expected when they name none.
    pub fn yours_default_file(&self) -> PathBuf {
        self.yours_dir()
            .join(self.reference_file().file_name().unwrap_or_default())
    }

    /// The commands that start a step from the previous step's reference files: each of
    /// this step's files that has a same-named file in the previous step is copied; one
    /// whose name differs is made from the files `start` in step.toml names for it.
    /// One command a line, unwrapped: the book wraps them to its width.
    pub fn start_commands(&self) -> Result<Vec<String>> {
        let dir = self.yours_dir().display().to_string();
        let mut commands = vec![format!("mkdir -p {dir}")];
        let Some(from) = self.previous()? else {
            // The first step starts from nothing; it still needs somewhere to write.
            return Ok(commands);
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
        Ok(commands)
    }

    /// `yours` as the learner tool builds it: with cache mounts of the learner's own
    /// (`CACHE_NAMESPACE`), so nothing a learner's file leaves in cargo's registry or
    /// target/ reaches a reference build, nor the other way round.
    pub fn learners(&self, file: &Path, tag: &str) -> Result<Step> {
        Ok(Step {
            cache_namespace: Some(CACHE_NAMESPACE.to_string()),
            ..self.yours(file, tag)?
        })
    }

    /// The same step, built from the learner's `file` (a folder stands for the step's
    /// file in it) and tagged `tag`: the build command is the book's, with the file swapped.
    pub fn yours(&self, file: &Path, tag: &str) -> Result<Step> {
        let mut absolute = std::env::current_dir()
            .map(|dir| dir.join(file))
            .unwrap_or_else(|_| file.to_path_buf());
        let reference = self.reference_file();
        let file_name = reference.file_name().unwrap_or_default();
        if absolute.is_dir() || absolute.ends_with(self.yours_dir()) {
            absolute = absolute.join(file_name);
        }
        if !absolute.is_file() {
            let hint = if absolute.starts_with(repo_root().join(self.yours_dir()))
                && !repo_root().join(self.yours_dir()).is_dir()
            {
                format!(
                    "start from the previous step's files:\n    {}",
                    self.start_commands()?.join("\n    ")
                )
            } else {
                format!(
                    "name your {} (default: {})",
                    file_name.display(),
                    self.yours_default_file().display()
                )
            };
            return found(
                format!("{} does not exist yet", shown(&absolute).display()),
                hint,
            );
        }
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        Ok(Step {
            dir: absolute.parent().unwrap_or(Path::new("/")).to_path_buf(),
            image: tag.to_string(),
            facts: super::step::Facts {
                other_images: Vec::new(),
                ..self.facts.clone()
            },
            learner_file: Some(absolute),
            ..self.clone()
        })
    }
}

/// Builds the learner's file as `step`'s image and runs the step's checks on it.
/// `yours` is `step` made from the learner's file (`Step::yours`).
pub async fn check(step: &Step, yours: Step) -> Report {
    let subject = yours
        .learner_file
        .as_deref()
        .map(|file| shown(file).display().to_string())
        .unwrap_or_default();
    let built = tokio::task::spawn_blocking(move || yours.try_build())
        .await
        .unwrap_or_else(|error| Err(Error::Harness(format!("the build stopped: {error}"))));
    Report::of(step, subject, built.as_ref()).await
}

/// What a learner reads after a check: the build, each check, the size against the reference.
pub struct Report {
    pub step: Step,
    /// What was checked: the learner's file, or the reference.
    pub subject: String,
    pub build: Result<Built, BuildFailure>,
    pub outcomes: Vec<Outcome>,
}

#[derive(Debug)]
pub struct Built {
    pub tag: String,
    pub took: Duration,
    pub size_bytes: u64,
    /// The learner's Dockerfile has no Dockerfile.dockerignore next to it.
    pub no_ignore_file: bool,
    /// What BuildKit's own build checks said of the Dockerfile.
    pub build_checks: Vec<BuildCheckWarning>,
}

impl Report {
    pub async fn of(step: &Step, subject: String, built: Result<&Image, &Error>) -> Report {
        match built {
            Err(error) => Report {
                step: step.clone(),
                subject,
                build: Err(match error {
                    Error::Build(failure) => (**failure).clone(),
                    error => BuildFailure::without_log(
                        error.found().to_string(),
                        error.hint().to_string(),
                    ),
                }),
                outcomes: Vec::new(),
            },
            Ok(image) => {
                let no_ignore_file = image.step.learner_file.as_ref().is_some_and(|file| {
                    !image.step.is_script()
                        && !PathBuf::from(format!("{}.dockerignore", file.display())).is_file()
                });
                let built = Built {
                    tag: image.tag.clone(),
                    took: image.build_time,
                    size_bytes: image.size_bytes(),
                    no_ignore_file,
                    build_checks: build_check_warnings(&image.build_log),
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
            step.number, step.facts.title, self.subject
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
        let reference = Results::load()
            .ok()
            .flatten()
            .and_then(|results| results.step(&step.slug).map(|r| r.size_bytes))
            .map(|bytes| format!("; the reference: {}", human_size(bytes)))
            .unwrap_or_default();
        writeln!(
            f,
            "  built {} in {:.1} s: {}{reference}",
            built.tag,
            built.took.as_secs_f64(),
            human_size(built.size_bytes)
        )?;
        if built.no_ignore_file {
            writeln!(
                f,
                "  note: no Dockerfile.dockerignore next to your Dockerfile, so the build context \
                 is the whole repository, target/ included (step 02 shows why that hurts)"
            )?;
        }
        if !built.build_checks.is_empty() {
            writeln!(
                f,
                "  BuildKit's build checks warn (`docker build --check` lists them alone):"
            )?;
            for warning in &built.build_checks {
                let line = warning
                    .line
                    .map(|n| format!(", line {n}"))
                    .unwrap_or_default();
                writeln!(f, "    ! {}{line}: {}", warning.rule, warning.message)?;
                if let Some(check) = warning.workshop_check() {
                    let here = self.step.facts.checks.iter().any(|c| c.name() == check);
                    if here {
                        writeln!(f, "      the workshop checks it too, and says why: {check}")?;
                    } else if let Some(from) = first_step_checking(check) {
                        // Passing this step's checks must not read as the warning being
                        // answered: the step that answers it comes later.
                        writeln!(
                            f,
                            "      the workshop checks it from step {from} on ({check}), not yet \
                             in this step"
                        )?;
                    }
                }
            }
        }
        for Outcome { check, result, .. } in &self.outcomes {
            let says = check.says().replace('`', "");
            match result {
                Ok(None) => writeln!(f, "  ✓ {says}")?,
                Ok(Some(detail)) => writeln!(f, "  ✓ {says} — {detail}")?,
                Err(error) => {
                    writeln!(f, "  ✗ {says}")?;
                    let mut found = error.found().lines();
                    writeln!(f, "      why:  {}", found.next().unwrap_or(""))?;
                    for line in found {
                        writeln!(f, "            {line}")?;
                    }
                    writeln!(f, "      hint: {}", error.hint())?;
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

/// The number of the first step whose checks include `check`.
fn first_step_checking(check: &str) -> Option<String> {
    Step::all().ok()?.into_iter().find_map(|step| {
        step.facts
            .checks
            .iter()
            .any(|c| c.name() == check)
            .then(|| step.number.to_string())
    })
}
