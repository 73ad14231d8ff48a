//! Learner mode: a step's checks on the learner's own Dockerfile (or, in step 03,
//! build script), and the report a learner reads. The step tests print the same
//! report for the reference, so both meet exactly the same checks.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::buildkit::{BuildCheckWarning, build_check_warnings};
use crate::checks::{self, Outcome, Shown};
use crate::error::{BuildFailure, Error, Result, found};
use crate::image::Image;
use crate::repo_root;
use crate::results::{Results, human_size};
use crate::step::{Step, shown};

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

    /// The files a learner starts this step from, as `start_commands` makes them: each
    /// of this step's files from the previous step's file of the same name, or from the
    /// files step.toml's `start` names for it (joined). Step 01 starts from nothing.
    pub fn starting_files(&self) -> Result<Vec<(String, String)>> {
        let Some(from) = self.previous()? else {
            return Ok(Vec::new());
        };
        let mut files = Vec::new();
        for name in self.learner_files() {
            let parts: Vec<String> = match self.facts.start.get(&name) {
                Some(parts) => parts.clone(),
                None if from.dir.join(&name).is_file() => vec![name.clone()],
                None => continue,
            };
            let mut text = String::new();
            for part in parts {
                let path = from.dir.join(&part);
                text.push_str(
                    &std::fs::read_to_string(&path)
                        .map_err(|error| crate::error::io("read", &path, error))?,
                );
            }
            files.push((name, text));
        }
        Ok(files)
    }

    /// `yours` as the learner tool builds it: with cache mounts of the learner's own
    /// (`CACHE_NAMESPACE`), so nothing a learner's file leaves in cargo's registry or
    /// target/ reaches a reference build, nor the other way round.
    ///
    /// A `# syntax=` line is refused: it runs a Dockerfile frontend of the file's
    /// choosing, which may ignore the namespace and read or write any cache mount (and
    /// fetches it from a registry). The steps need none.
    pub fn learners(&self, file: &Path, tag: &str) -> Result<Step> {
        let yours = Step {
            cache_namespace: Some(CACHE_NAMESPACE.to_string()),
            ..self.yours(file, tag)?
        };
        if !yours.is_script()
            && let Some(line) = syntax_line(&yours.dockerfile_text()?)
        {
            return found(
                format!(
                    "{} starts with `{line}`: a Dockerfile frontend of its own",
                    shown(yours.learner_file.as_deref().unwrap_or(file)).display()
                ),
                "remove the line: BuildKit's own frontend reads every step's Dockerfile, and \
                 another one, fetched from a registry, could reach the cache mounts of other \
                 builds on this machine. The workshop checks no file that names one",
            );
        }
        Ok(yours)
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
            facts: crate::step::Facts {
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
    report(step, build(yours).await).await
}

/// The learner's file built (`check`'s first half): what it is, and the image or why not.
pub struct Building {
    subject: String,
    image: Result<Image>,
}

/// Builds `yours`, the step made from the learner's file, off the async threads.
pub async fn build(yours: Step) -> Building {
    let subject = yours
        .learner_file
        .as_deref()
        .map(|file| shown(file).display().to_string())
        .unwrap_or_default();
    let image = tokio::task::spawn_blocking(move || yours.try_build())
        .await
        .unwrap_or_else(|error| Err(Error::Harness(format!("the build stopped: {error}"))));
    Building { subject, image }
}

/// `step`'s checks run on what `build` built (`check`'s second half).
pub async fn report(step: &Step, built: Building) -> Report {
    Report::of(step, built.subject, built.image.as_ref()).await
}

/// `report`, each part handed to `told` as it is known (`Report::of_telling`).
pub async fn report_telling(
    step: &Step,
    built: Building,
    told: &mut (dyn FnMut(&str) + Send),
) -> Report {
    Report::of_telling(step, built.subject, built.image.as_ref(), told).await
}

/// What a learner reads after a check: the build, each check, the size against the reference.
pub struct Report {
    pub step: Step,
    /// What was checked: the learner's file, or the reference.
    pub subject: String,
    pub build: Result<Built, BuildFailure>,
    pub outcomes: Vec<Outcome>,
    /// What the tools did for the image (`demos` in step.toml): shown, never counted.
    pub shown: Vec<Shown>,
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
        Report::of_telling(step, subject, built, &mut |_| {}).await
    }

    /// `of`, each part of the report handed to `told` as soon as it is known: the head
    /// once the build is done, then each check's line as it finishes (the ones that read
    /// first, the slow ones last), then the demonstrations. The footer is the caller's.
    pub async fn of_telling(
        step: &Step,
        subject: String,
        built: Result<&Image, &Error>,
        told: &mut (dyn FnMut(&str) + Send),
    ) -> Report {
        let report = Report::checked(step, subject, built, told).await;
        if report.build.is_err() {
            told(&report.head());
        }
        report
    }

    async fn checked(
        step: &Step,
        subject: String,
        built: Result<&Image, &Error>,
        told: &mut (dyn FnMut(&str) + Send),
    ) -> Report {
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
                shown: Vec::new(),
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
                let mut report = Report {
                    step: step.clone(),
                    subject,
                    build: Ok(built),
                    outcomes: Vec::new(),
                    shown: Vec::new(),
                };
                told(&report.head());
                report.outcomes =
                    checks::run_all_telling(step, image, &step.facts.checks, &mut |outcome| {
                        told(&line(
                            "  ",
                            outcome.check.says(),
                            &outcome.result,
                            outcome.took,
                        ));
                    })
                    .await;
                if !step.facts.demos.is_empty() {
                    told(Report::SHOWN);
                    report.shown = checks::show_all(step, image, &step.facts.demos).await;
                    for shown in &report.shown {
                        told(&line("    ", shown.demo.says(), &shown.result, shown.took));
                    }
                }
                report
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

impl Report {
    /// The report's head: which step and file, and how the build went (its warnings).
    pub fn head(&self) -> String {
        let step = &self.step;
        let mut out = format!(
            "step {} · {} — {}\n",
            step.number, step.facts.title, self.subject
        );
        let built = match &self.build {
            Err(failure) => {
                out.push_str("  ✗ the build failed\n");
                for line in failure.report.lines().skip(1) {
                    let _ = writeln!(out, "    {line}");
                }
                return out;
            }
            Ok(built) => built,
        };
        let reference = Results::load()
            .ok()
            .flatten()
            .and_then(|results| results.step(&step.slug).map(|r| r.size_bytes))
            .map(|bytes| format!("; the reference: {}", human_size(bytes)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  built {} in {:.1} s: {}{reference}",
            built.tag,
            built.took.as_secs_f64(),
            human_size(built.size_bytes)
        );
        if built.no_ignore_file {
            out.push_str(
                "  note: no Dockerfile.dockerignore next to your Dockerfile, so the build context \
                 is the whole repository, target/ included (step 02 shows why that hurts)\n",
            );
        }
        if !built.build_checks.is_empty() {
            out.push_str(
                "  BuildKit's build checks warn (`docker build --check` lists them alone):\n",
            );
            for warning in &built.build_checks {
                let line = warning
                    .line
                    .map(|n| format!(", line {n}"))
                    .unwrap_or_default();
                let _ = writeln!(out, "    ! {}{line}: {}", warning.rule, warning.message);
                if let Some(check) = warning.workshop_check() {
                    let here = self.step.facts.checks.iter().any(|c| c.name() == check);
                    if here {
                        let _ = writeln!(
                            out,
                            "      the workshop checks it too, and says why: {check}"
                        );
                    } else if let Some(from) = first_step_checking(check) {
                        // Passing this step's checks must not read as the warning being
                        // answered: the step that answers it comes later.
                        let _ = writeln!(
                            out,
                            "      the workshop checks it from step {from} on ({check}), not yet \
                             in this step"
                        );
                    }
                }
            }
        }
        out
    }

    /// The heading of the demonstrations, after the checks.
    pub const SHOWN: &str = "  What the tools do for your image, whatever your file says \
                              (shown, not counted as checks):\n";

    /// The report's last line: how many checks pass, and what to do.
    pub fn footer(&self) -> String {
        if self.build.is_err() {
            return format!(
                "  none of the {} checks ran: fix the build first.",
                self.step.facts.checks.len()
            );
        }
        let passing = self.outcomes.iter().filter(|o| o.result.is_ok()).count();
        format!(
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

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.head())?;
        for Outcome {
            check,
            result,
            took,
        } in &self.outcomes
        {
            f.write_str(&line("  ", check.says(), result, *took))?;
        }
        if !self.shown.is_empty() {
            f.write_str(Report::SHOWN)?;
            for Shown { demo, result, took } in &self.shown {
                f.write_str(&line("    ", demo.says(), result, *took))?;
            }
        }
        f.write_str(&self.footer())
    }
}

/// One line of a report: ✓ and what it proves (and what it measured), or ✗ with why
/// and a hint; how long it took when that was a second or more.
pub fn line(indent: &str, says: &str, result: &Result<checks::Passed>, took: Duration) -> String {
    let says = says.replace('`', "");
    let took = if took >= Duration::from_secs(1) {
        format!(" ({:.0} s)", took.as_secs_f64())
    } else {
        String::new()
    };
    match result {
        Ok(None) => format!("{indent}✓ {says}{took}\n"),
        Ok(Some(detail)) => format!("{indent}✓ {says} — {detail}{took}\n"),
        Err(error) => {
            let mut out = format!("{indent}✗ {says}{took}\n");
            let mut found = error.found().lines();
            let _ = writeln!(out, "{indent}    why:  {}", found.next().unwrap_or(""));
            for more in found {
                let _ = writeln!(out, "{indent}          {more}");
            }
            let _ = writeln!(out, "{indent}    hint: {}", error.hint());
            out
        }
    }
}

/// What `cargo workshop check` runs on this machine for `yours`, and within which limits:
/// said before it starts.
pub fn on_this_machine(yours: &Step) -> String {
    let build = if yours.is_script() {
        format!(
            "your script, on this machine as you (not in a container), with only {} and TAG \
             from your environment",
            crate::build::SCRIPT_ENVIRONMENT.join(", ")
        )
    } else {
        "`docker build` of your Dockerfile: its RUN lines run in BuildKit's containers, with \
         cache mounts of their own, apart from the reference builds'"
            .to_string()
    };
    format!(
        "On this machine the check runs {build}, stopped after {} min; then containers of your \
         image, each labelled with this run: open files {} soft (as real hosts give a \
         container), the engine's hard limit; where a check runs it locked down, `{}`; one \
         check holds it to one CPU, the others leave it the machine's {} CPUs. For step 13, a \
         registry on 127.0.0.1 and cosign with a key pair made for this run. Ctrl-C stops \
         the build and removes all of it.",
        crate::build::build_limit().as_secs() / 60,
        crate::running::OPEN_FILES_SOFT,
        crate::hardening::HARDENED_FLAGS.join(" "),
        std::thread::available_parallelism().map_or(1, |cpus| cpus.get()),
    )
}

/// A Dockerfile's `# syntax=…` parser directive, if it has one. BuildKit reads
/// directives at the top only: other directives may come before it, and the first
/// comment, empty line or instruction ends them.
pub fn syntax_line(dockerfile: &str) -> Option<String> {
    for line in dockerfile.lines() {
        let line = line.trim();
        let directive = line.strip_prefix('#')?.trim();
        match directive.split_once('=') {
            Some((key, _)) if key.trim().eq_ignore_ascii_case("syntax") => {
                return Some(line.to_string());
            }
            // Another directive (escape, check) or a comment: a comment ends the
            // directives, so one after it is a comment too.
            Some((key, _))
                if ["escape", "check"].contains(&key.trim().to_ascii_lowercase().as_str()) => {}
            _ => return None,
        }
    }
    None
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
