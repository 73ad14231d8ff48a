//! A step: its number, its folder `steps/NN-slug/`, and its facts (`step.toml`),
//! typed. Everything else (building, checks, the book, learner mode) reads these.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::check::{Check, Demo};
use crate::error::Harness;
use crate::error::{Error, Must, Result, harness, io};
use crate::{MB, repo_root};

/// A step's number, 1 to 99; shown as two digits (`06`), the way its folder starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepNumber(u8);

impl StepNumber {
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for StepNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

/// The one parser: `6`, `06`, `step06`, `06-static-scratch` and `step06_static_scratch`
/// are all step 6.
impl FromStr for StepNumber {
    type Err = Error;

    fn from_str(text: &str) -> Result<StepNumber> {
        let text = text.trim();
        let rest = text.strip_prefix("step").unwrap_or(text);
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let after = &rest[digits.len()..];
        let well_formed = !digits.is_empty()
            && digits.len() <= 2
            && (after.is_empty() || after.starts_with(['-', '_']));
        match digits.parse::<u8>() {
            Ok(number) if well_formed && number > 0 => Ok(StepNumber(number)),
            _ => harness(format!(
                "{text:?} is not a step number: write it as 6, 06 or 06-static-scratch"
            )),
        }
    }
}

/// The build argument BuildKit's Dockerfile frontend reads as a prefix for every cache
/// mount id of the build.
pub const CACHE_NAMESPACE_ARG: &str = "BUILDKIT_CACHE_MOUNT_NS";

/// How the book builds the step's image: one Dockerfile, or a script (step 03).
#[derive(Debug, Clone, PartialEq)]
pub enum Build {
    /// `docker build -f steps/NN-slug/<dockerfile> -t ping:NN-slug <context>`
    Dockerfile { file: PathBuf, context: PathBuf },
    /// `steps/NN-slug/<script>`: it builds and tags the images itself (`$TAG` names the
    /// final one when set, as learner mode does).
    Script { file: PathBuf },
}

/// An image's size ceiling: absolute, or what a base image weighs plus some.
#[derive(Debug, Clone, PartialEq)]
pub enum Budget {
    Max {
        max_mb: f64,
        /// What to think about when an image is over the budget.
        hint: String,
    },
    OverBase {
        base: String,
        over_base_mb: f64,
        hint: String,
    },
}

impl Budget {
    pub fn hint(&self) -> &str {
        match self {
            Budget::Max { hint, .. } | Budget::OverBase { hint, .. } => hint,
        }
    }
}

/// `[budget]` as written: either `max_mb`, or `base` and `over_base_mb`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetToml {
    max_mb: Option<f64>,
    base: Option<String>,
    over_base_mb: Option<f64>,
    hint: String,
}

impl BudgetToml {
    fn typed(self, path: &Path) -> Result<Budget> {
        match (self.max_mb, self.base, self.over_base_mb) {
            (Some(max_mb), None, None) => Ok(Budget::Max {
                max_mb,
                hint: self.hint,
            }),
            (None, Some(base), Some(over_base_mb)) => Ok(Budget::OverBase {
                base,
                over_base_mb,
                hint: self.hint,
            }),
            _ => harness(format!(
                "{}: [budget] needs either max_mb, or base and over_base_mb",
                path.display()
            )),
        }
    }
}

/// What a step's image is compared with besides its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeCheck {
    /// The image is smaller than the previous step's.
    SmallerThanPrevious,
    /// The image's size is the one the book shows, within 5 %: only for steps whose
    /// size does not depend on how the base images were made.
    MatchesTheBook,
}

/// A hint for a step (`[[hints]]` in step.toml): the check it helps with, and what it says.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hint {
    pub check: Check,
    pub text: String,
}

/// `step.toml` as written: the typed facts are made from it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Toml {
    title: String,
    dockerfile: Option<PathBuf>,
    #[serde(default = "dot")]
    context: PathBuf,
    script: Option<PathBuf>,
    #[serde(default)]
    other_images: Vec<String>,
    #[serde(default)]
    platforms: Vec<String>,
    #[serde(default)]
    exports: Vec<String>,
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    hardened: bool,
    budget: Option<BudgetToml>,
    #[serde(default)]
    sizes: Vec<SizeCheck>,
    checks: Vec<Check>,
    #[serde(default)]
    new: Vec<Check>,
    #[serde(default)]
    demos: Vec<Demo>,
    #[serde(default)]
    hints: Vec<Hint>,
    #[serde(default)]
    start: BTreeMap<String, Vec<String>>,
}

fn dot() -> PathBuf {
    PathBuf::from(".")
}

/// The facts of one step, from `steps/NN-slug/step.toml`: the same file the book reads.
#[derive(Debug, Clone)]
pub struct Facts {
    pub title: String,
    pub build: Build,
    /// Other tags the build creates (the builder pattern's build image).
    pub other_images: Vec<String>,
    /// Platforms the same Dockerfile is also built for (`linux/arm64`), besides the
    /// machine's own: `docker build --platform …`, tagged `<image>-arm64`.
    pub platforms: Vec<String>,
    /// Stages whose files the book exports with `docker build --target <stage>
    /// --output type=local,dest=<stage>` (step 11's SBOM).
    pub exports: Vec<String>,
    /// Platforms the image is published for, as one index pushed to a registry
    /// (`docker build --push --platform linux/amd64,linux/arm64 …`, step 13).
    pub publish: Vec<String>,
    /// The image is meant for production: the book also shows the hardened `docker run`.
    pub hardened: bool,
    /// None for step 01, whose size is the problem and grows with your target/ folder.
    pub budget: Option<Budget>,
    pub sizes: Vec<SizeCheck>,
    /// What the step's image must pass: its test, `cargo workshop check` and the book use this list.
    pub checks: Vec<Check>,
    /// The checks that are new in this step: the previous step's image must fail each.
    pub new: Vec<Check>,
    /// What the tools do for the image whatever the learner's file says (cosign's
    /// verification, the kernel applying `docker run`'s flags): shown after the checks,
    /// never counted as a check passed.
    pub demos: Vec<Demo>,
    /// Hints in the order `cargo workshop hint` gives them: the first at the idea, the
    /// last at the instruction, each tied to the check it helps with.
    pub hints: Vec<Hint>,
    /// Where a learner's file starts from when the previous step has no file of that
    /// name: this step's file name -> the previous step's files, joined in this order.
    pub start: BTreeMap<String, Vec<String>>,
}

impl Facts {
    fn read(dir: &Path) -> Result<Facts> {
        let path = dir.join("step.toml");
        let text = std::fs::read_to_string(&path).map_err(|error| io("read", &path, error))?;
        let toml: Toml =
            toml::from_str(&text).harness_with(|| format!("{} is not valid", path.display()))?;
        let build = match (toml.dockerfile, toml.script) {
            (Some(file), None) => Build::Dockerfile {
                file,
                context: toml.context,
            },
            (None, Some(file)) => Build::Script { file },
            _ => {
                return harness(format!(
                    "{}: name either the `dockerfile` or the `script` that builds the image",
                    path.display()
                ));
            }
        };
        Ok(Facts {
            title: toml.title,
            build,
            other_images: toml.other_images,
            platforms: toml.platforms,
            exports: toml.exports,
            publish: toml.publish,
            hardened: toml.hardened,
            budget: toml.budget.map(|budget| budget.typed(&path)).transpose()?,
            sizes: toml.sizes,
            checks: toml.checks,
            new: toml.new,
            demos: toml.demos,
            hints: toml.hints,
            start: toml.start,
        })
    }
}

/// How to get the base images when no registry can be reached.
pub const PREPARE: &str = "steps/00-base-images/prepare.sh --offline";

#[derive(Debug, Clone)]
pub struct Step {
    pub number: StepNumber,
    /// The folder's name: `06-static-scratch`.
    pub slug: String,
    pub dir: PathBuf,
    pub facts: Facts,
    /// The image the build tags: `ping:NN-slug`, or the learner's own tag.
    pub image: String,
    /// In learner mode: the learner's Dockerfile (or script) the build uses instead.
    pub learner_file: Option<PathBuf>,
    /// Print each instruction as the build reaches it, so a long build is seen to move.
    pub echo_build: bool,
    /// Cache mounts of the build's own: BuildKit puts this before every cache mount id
    /// (`--build-arg BUILDKIT_CACHE_MOUNT_NS=…`), so a learner's file, whatever ids it
    /// writes, never reads or writes the reference builds' cargo registry and target/.
    pub cache_namespace: Option<String>,
    /// Run a slow check even when a faster one shows it cannot pass (an arm64 build
    /// that would compile under emulation): `cargo workshop check --slow`.
    pub try_slow: bool,
}

impl Step {
    /// Every numbered step, in order (not 00, which prepares the base images).
    pub fn all() -> Result<Vec<Step>> {
        let steps = repo_root().join("steps");
        let entries = std::fs::read_dir(&steps).map_err(|error| io("read", &steps, error))?;
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let slug = entry.file_name().to_string_lossy().to_string();
            if let Ok(number) = slug.parse::<StepNumber>()
                && slug.contains('-')
            {
                found.push((number, slug));
            }
        }
        found.sort();
        found
            .into_iter()
            .map(|(number, slug)| Step::load(number, slug))
            .collect()
    }

    /// The step of this number (`"06"`, `"6"`, `"06-static-scratch"`), or what the steps are.
    pub fn find(wanted: &str) -> Result<Step> {
        let all = Step::all()?;
        let listed = || {
            all.iter()
                .map(|step| step.slug.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let number: StepNumber = wanted.parse().map_err(|error: Error| {
            Error::Harness(format!("{}; the steps are {}", error.found(), listed()))
        })?;
        let listed = listed();
        all.into_iter()
            .find(|step| step.number == number)
            .ok_or_else(|| {
                Error::Harness(format!(
                    "there is no step {wanted:?}; the steps are {listed}"
                ))
            })
    }

    /// The step in `steps/<slug>/`; the step tests' way in, failing the test when it is not there.
    #[track_caller]
    pub fn get(slug: &str) -> Step {
        Step::find(slug).must()
    }

    fn load(number: StepNumber, slug: String) -> Result<Step> {
        let dir = repo_root().join("steps").join(&slug);
        Ok(Step {
            number,
            image: format!("ping:{slug}"),
            facts: Facts::read(&dir)?,
            slug,
            dir,
            learner_file: None,
            echo_build: false,
            cache_namespace: None,
            try_slow: false,
        })
    }

    /// The step before this one, if any.
    pub fn previous(&self) -> Result<Option<Step>> {
        let all = Step::all()?;
        Ok(all
            .into_iter()
            .take_while(|step| step.number < self.number)
            .last())
    }

    /// The file the build reads and a learner writes in its place: the Dockerfile, or
    /// step 03's script, relative to the repository.
    pub fn reference_file(&self) -> PathBuf {
        let file = match &self.facts.build {
            Build::Dockerfile { file, .. } | Build::Script { file } => file,
        };
        Path::new("steps").join(&self.slug).join(file)
    }

    /// The command the book shows, run from the repository root. In learner mode the
    /// same command with the learner's file and tag; a learner's script is run by `sh`
    /// (it need not be executable) and names its image after `$TAG`.
    pub fn build_command(&self) -> String {
        self.build_command_for(None)
    }

    /// The command that exports the files of the stage `target` (None: the final one,
    /// the image's files) into the folder `dest`.
    pub fn export_command(&self, target: Option<&str>, dest: &str) -> String {
        let build = self.build_command();
        let rest = build
            .strip_prefix("docker build ")
            .unwrap_or(&build)
            .replacen(&format!("-t {} ", self.image), "", 1);
        let target = target.map_or(String::new(), |target| format!("--target {target} "));
        format!(
            "docker build {target}--output type=local,dest={} {rest}",
            shell_word(dest)
        )
    }

    /// The tag of the image built for `platform` (`linux/arm64` -> `<image>-arm64`;
    /// several, `linux/amd64,linux/arm64` -> `<image>-multi`), or the image's own tag
    /// for the machine's platform.
    pub fn image_for(&self, platform: Option<&str>) -> String {
        match platform {
            Some(platforms) if platforms.contains(',') => format!("{}-multi", self.image),
            Some(platform) => {
                let arch = platform.rsplit('/').next().unwrap_or(platform);
                format!("{}-{arch}", self.image)
            }
            None => self.image.clone(),
        }
    }

    /// The build command for `platform` (None: the machine's own).
    pub fn build_command_for(&self, platform: Option<&str>) -> String {
        let file = match &self.learner_file {
            Some(file) => shell_word(&shown(file).display().to_string()),
            None => self.reference_file().display().to_string(),
        };
        match (&self.facts.build, &self.learner_file) {
            (Build::Dockerfile { context, .. }, _) => format!(
                "docker build {}{}-f {file} -t {} {}",
                platform.map_or(String::new(), |platform| format!("--platform {platform} ")),
                self.cache_namespace
                    .as_ref()
                    .map_or(String::new(), |namespace| {
                        format!("--build-arg {CACHE_NAMESPACE_ARG}={namespace} ")
                    }),
                self.image_for(platform),
                context.display()
            ),
            // The reference script names its images after TAG too: given only when the
            // image is not the step's own (a rebuild tagged apart).
            (Build::Script { .. }, None) if self.image == format!("ping:{}", self.slug) => file,
            (Build::Script { .. }, None) => format!("TAG={} {file}", self.image),
            (Build::Script { .. }, Some(_)) => format!("TAG={} sh {file}", self.image),
        }
    }

    /// The step's image is built by a script, not by one `docker build`.
    pub fn is_script(&self) -> bool {
        matches!(self.facts.build, Build::Script { .. })
    }

    /// The files a learner writes for this step, as the reference has them: Dockerfiles,
    /// their `.dockerignore` files and scripts, sorted by name.
    pub fn learner_files(&self) -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.file_name().to_string_lossy().to_string())
                    .filter(|name| name.starts_with("Dockerfile") || name.ends_with(".sh"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The step's Dockerfiles: `Dockerfile` and `Dockerfile.*`, without the ignore files;
    /// in learner mode, the learner's Dockerfile.
    pub fn dockerfiles(&self) -> Vec<PathBuf> {
        if let Some(file) = self.learner_file.as_ref().filter(|_| !self.is_script()) {
            return vec![file.clone()];
        }
        self.learner_files()
            .into_iter()
            .filter(|name| name.starts_with("Dockerfile") && !name.ends_with(".dockerignore"))
            .map(|name| self.dir.join(name))
            .collect()
    }

    /// The text of the one Dockerfile the build reads (the learner's in learner mode).
    pub fn dockerfile_text(&self) -> Result<String> {
        match self.dockerfiles().as_slice() {
            [one] => std::fs::read_to_string(one).map_err(|error| io("read", one, error)),
            many => Err(Error::Harness(format!(
                "step {} builds from {} Dockerfiles, not one",
                self.slug,
                many.len()
            ))),
        }
    }

    /// The images the step's Dockerfiles start `FROM` (not stages, not scratch).
    pub fn base_images(&self) -> Vec<String> {
        base_images(&self.dockerfiles())
    }

    /// The chapter's exercise files, `exercises/*.Dockerfile` beside the step (their
    /// ignore files left out): Dockerfiles the book shows and the learner tests run.
    pub fn exercise_files(&self) -> Vec<PathBuf> {
        self.dockerfiles_in("exercises")
    }

    /// Other ways to build the step's image, `alternatives/*.Dockerfile` beside the step:
    /// Dockerfiles a later chapter shows and a test builds (step 09's with cargo-chef).
    pub fn alternative_files(&self) -> Vec<PathBuf> {
        self.dockerfiles_in("alternatives")
    }

    /// The Dockerfiles (`*.Dockerfile`) in the step's `folder`, sorted.
    fn dockerfiles_in(&self, folder: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join(folder))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "Dockerfile"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The budget in bytes and how it was set, for messages; None if the step has none.
    pub fn budget(&self) -> Result<Option<(u64, String)>> {
        let Some(budget) = &self.facts.budget else {
            return Ok(None);
        };
        let source = format!("steps/{}/step.toml", self.slug);
        Ok(Some(match budget {
            Budget::Max { max_mb, .. } => (
                (max_mb * MB) as u64,
                format!("{max_mb} MB, set in {source}"),
            ),
            Budget::OverBase {
                base, over_base_mb, ..
            } => {
                let base_size = crate::layers::sizes(base, false)?.unpacked;
                (
                    base_size + (over_base_mb * MB) as u64,
                    format!(
                        "{base} ({:.1} MB) + {over_base_mb} MB, set in {source}",
                        base_size as f64 / MB
                    ),
                )
            }
        }))
    }

    /// `01-naive` -> `step01_naive`, the name of the step's test.
    pub fn test_name(&self) -> String {
        format!("step{}", self.slug.replace('-', "_"))
    }
}

/// The images the workshop's own steps and the chapters' exercises start from, in step
/// order, once each: the ones `prepare.sh` makes.
pub fn workshop_base_images() -> Vec<String> {
    let mut images: Vec<String> = Vec::new();
    for step in Step::all().unwrap_or_default() {
        let exercises = base_images(&step.exercise_files());
        for image in step.base_images().into_iter().chain(exercises) {
            if !images.contains(&image) {
                images.push(image);
            }
        }
    }
    images
}

/// A path as a learner reads it: relative to the repository when it is inside.
pub fn shown(path: &Path) -> PathBuf {
    path.strip_prefix(repo_root())
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// A path as one word of a shell command: as it is when that is safe, else quoted
/// (a WSL path under /mnt/c/Users/Jane Doe/ has a space).
pub fn shell_word(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:@".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The images `dockerfiles` start `FROM` (not their own stages, not scratch).
pub fn base_images(dockerfiles: &[PathBuf]) -> Vec<String> {
    let mut images = Vec::new();
    let mut stages = Vec::new();
    for dockerfile in dockerfiles {
        let text = std::fs::read_to_string(dockerfile).unwrap_or_default();

        for line in text.lines() {
            let words: Vec<&str> = line
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let [from, image, rest @ ..] = words.as_slice() else {
                continue;
            };
            if !from.eq_ignore_ascii_case("FROM") {
                continue;
            }
            if let [r#as, stage, ..] = rest
                && r#as.eq_ignore_ascii_case("AS")
            {
                stages.push(stage.to_string());
            }
            let image = image.to_string();
            if image != "scratch"
                && !image.contains('$')
                && !stages.contains(&image)
                && !images.contains(&image)
            {
                images.push(image);
            }
        }
    }
    images
}
