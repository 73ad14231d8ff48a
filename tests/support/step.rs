//! A step (`steps/NN-slug/`), its facts (`step.toml`), and the image it builds.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde::Deserialize;

use super::checks::{Check, Problem, problem};
use super::{Files, MB, docker, repo_root};

/// The facts of one step, from `steps/NN-slug/step.toml`: the same file the book reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    pub title: String,
    /// The tag the build command gives the step's image.
    pub image: String,
    /// Other tags the build command creates (e.g. the builder pattern's build image).
    #[serde(default)]
    pub other_images: Vec<String>,
    /// The exact command the book shows, run from the repository root.
    pub build: String,
    /// The image is meant for production: the book also shows the hardened `docker run`.
    #[serde(default)]
    pub hardened: bool,
    /// None for step 01, whose size is the problem and grows with your target/ folder.
    pub budget: Option<Budget>,
    /// What the step's image must pass: its test, `cargo workshop check` and the book use this list.
    pub checks: Vec<Check>,
    /// The checks that are new in this step: the previous step's image must fail each.
    #[serde(default)]
    pub new: Vec<Check>,
    /// Where a learner's file starts from when the previous step has no file of that
    /// name: this step's file name -> the previous step's files, joined in this order.
    /// A file of the same name is copied without being listed here.
    #[serde(default)]
    pub start: std::collections::BTreeMap<String, Vec<String>>,
}

/// An image's size ceiling: absolute, or relative to a base image.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub max_mb: Option<f64>,
    pub base: Option<String>,
    pub over_base_mb: Option<f64>,
    /// What to think about when an image is over the budget.
    pub hint: Option<String>,
}

/// How to get the base images when no registry can be reached.
pub const PREPARE: &str = "steps/00-base-images/prepare.sh --offline";

#[derive(Debug, Clone)]
pub struct Step {
    pub slug: String,
    pub dir: PathBuf,
    pub facts: Facts,
    /// In learner mode: the learner's Dockerfile (or script) the build uses instead.
    pub learner_file: Option<PathBuf>,
    /// Print each instruction as the build reaches it, so a long build is seen to move.
    pub echo_build: bool,
}

impl Step {
    pub fn get(slug: &str) -> Step {
        let dir = repo_root().join("steps").join(slug);
        let path = dir.join("step.toml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        let facts: Facts = toml::from_str(&text)
            .unwrap_or_else(|error| panic!("{} is not valid: {error}", path.display()));
        Step {
            slug: slug.to_string(),
            dir,
            facts,
            learner_file: None,
            echo_build: false,
        }
    }

    /// Builds the step's image with the build command from `step.toml`, from the
    /// repository root, exactly as a learner types it. Panics with the failing
    /// instruction and the end of the build log when the build fails.
    pub fn build(&self) -> Image {
        self.try_build()
            .unwrap_or_else(|failed| panic!("{}", failed.report))
    }

    pub fn try_build(&self) -> Result<Image, BuildFailure> {
        self.try_build_in(repo_root())
    }

    /// The same build command, run in another directory (a modified copy of the context).
    pub fn try_build_in(&self, dir: &std::path::Path) -> Result<Image, BuildFailure> {
        docker::ensure_ready();
        self.ensure_base_images()?;
        let tags: Vec<&String> = std::iter::once(&self.facts.image)
            .chain(&self.facts.other_images)
            .collect();
        let previous: Vec<Option<String>> = tags.iter().map(|tag| docker::image_id(tag)).collect();

        let started = std::time::Instant::now();
        let mut command = Command::new("bash");
        command
            .args(["-c", &format!("exec 2>&1; {}", self.facts.build)])
            .current_dir(dir)
            .stdin(Stdio::null());
        docker::with_buildkit(&mut command);
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run bash: {error}"));
        let mut log = String::new();
        let mut echo = BuildEcho::default();
        let stdout = BufReader::new(child.stdout.take().expect("the build's output"));
        for line in stdout.split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line);
            if self.echo_build
                && let Some(shown) = echo.line(&line)
            {
                println!("    {shown}");
            }
            log.push_str(&line);
            log.push('\n');
        }
        let status = child
            .wait()
            .unwrap_or_else(|error| panic!("cannot wait for the build: {error}"));
        let log_path = self.save_log("build", &log);
        if !status.success() {
            let dockerfiles = self.dockerfiles();
            let dockerfile = (dockerfiles.len() == 1).then(|| dockerfiles[0].as_path());
            return Err(BuildFailure::from_log(
                &self.slug,
                &self.facts.build,
                &log,
                &log_path,
                dockerfile,
            ));
        }

        // A rebuild moves the tag to a new image; drop the old one instead of piling it up.
        for (tag, old) in tags.iter().zip(previous) {
            let Some(new) = docker::image_id(tag) else {
                return Err(BuildFailure::without_log(
                    format!(
                        "`{}` succeeded but did not create the image {tag}",
                        self.facts.build
                    ),
                    if self.learner_file.as_deref().is_some_and(is_script) {
                        "your script gets the image's name in $TAG: tag the run image \"$TAG\", as the reference build.sh does".to_string()
                    } else {
                        format!("the build must tag its image {tag}")
                    },
                ));
            };
            if let Some(old) = old.filter(|old| *old != new) {
                docker::remove_if_dangling(&old);
            }
        }
        Ok(Image::of(self.clone(), log, started.elapsed()))
    }

    /// Step 05's experiment: copy the build context to a temporary folder, change
    /// only the source there (never the repository's files), and run the same build
    /// command in it. The returned image's `build_log` says what was CACHED.
    pub fn rebuild_after_source_change(&self) -> Image {
        self.try_rebuild_after_source_change()
            .unwrap_or_else(|failed| panic!("{}", failed.report))
    }

    pub fn try_rebuild_after_source_change(&self) -> Result<Image, BuildFailure> {
        let copy = std::env::temp_dir().join(format!(
            "ping-workshop-{}-{}-{}",
            self.slug,
            std::process::id(),
            self.facts.image.replace([':', '/'], "-")
        ));
        let _ = std::fs::remove_dir_all(&copy);
        copy_tree(repo_root(), &copy);
        let main = copy.join("src/main.rs");
        let mut source = std::fs::read_to_string(&main).expect("read the copied src/main.rs");
        // Unique every time: a change made before would come from the build cache.
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        source.push_str(&format!(
            "\n// A source-only change ({nonce}), made by the step {} check.\n",
            self.slug
        ));
        std::fs::write(&main, source).expect("change the copied src/main.rs");
        if self.echo_build {
            println!("Rebuilding after a source-only change to src/main.rs, in a copy…");
        }
        let image = self.try_build_in(&copy);
        let _ = std::fs::remove_dir_all(&copy);
        image
    }

    /// Writes a log where a learner can read all of it and returns its path. Not inside
    /// the repository: step 01 sends the whole repository to Docker, and a file changed
    /// there would defeat its build cache.
    fn save_log(&self, what: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join("ping-workshop-logs");
        // Named after the image: a learner's build never overwrites the reference's log.
        let name = self.facts.image.replace([':', '/'], "-");
        let path = dir.join(format!("{name}.{what}.log"));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(&path, text);
        path.display().to_string()
    }

    /// Every `FROM` image of the step's Dockerfiles must be present or pullable;
    /// otherwise say how to prepare it rather than let the build hang on a registry.
    fn ensure_base_images(&self) -> Result<(), BuildFailure> {
        for image in self.base_images() {
            if docker::image_id(&image).is_some() {
                continue;
            }
            let pulled = docker::run(&["pull", "--quiet", &image]).status.success();
            if !pulled {
                return Err(missing_base_image(&image));
            }
        }
        Ok(())
    }

    /// The images the step's Dockerfiles start `FROM` (not stages, not scratch).
    pub fn base_images(&self) -> Vec<String> {
        let mut images = Vec::new();
        let mut stages = Vec::new();
        for dockerfile in self.dockerfiles() {
            let text = std::fs::read_to_string(&dockerfile).expect("read a Dockerfile");
            for line in text.lines() {
                let words: Vec<&str> = line
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                if words
                    .first()
                    .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
                    && words.len() >= 2
                {
                    let image = words[1].to_string();
                    if words.len() >= 4 && words[2].eq_ignore_ascii_case("AS") {
                        stages.push(words[3].to_string());
                    }
                    if image != "scratch"
                        && !image.contains('$')
                        && !stages.contains(&image)
                        && !images.contains(&image)
                    {
                        images.push(image);
                    }
                }
            }
        }
        images
    }

    /// The step's Dockerfiles: `Dockerfile` and `Dockerfile.*`, without the ignore files.
    pub fn dockerfiles(&self) -> Vec<PathBuf> {
        if let Some(file) = self.learner_file.as_ref().filter(|f| !is_script(f)) {
            return vec![file.clone()];
        }
        self.learner_files()
            .into_iter()
            .filter(|name| name.starts_with("Dockerfile") && !name.ends_with(".dockerignore"))
            .map(|name| self.dir.join(name))
            .collect()
    }

    /// The budget in bytes and how it was set, for messages; None if the step has none.
    pub fn budget(&self) -> Option<(u64, String)> {
        let budget = self.facts.budget.as_ref()?;
        let source = format!("steps/{}/step.toml", self.slug);
        match (&budget.base, budget.over_base_mb, budget.max_mb) {
            (Some(base), Some(over), None) => {
                let base_size = docker::ok(&["image", "inspect", "--format", "{{.Size}}", base]);
                let base_size: u64 = base_size.parse().expect("image size");
                let bytes = base_size + (over * MB) as u64;
                Some((
                    bytes,
                    format!(
                        "{base} ({:.1} MB) + {over} MB, set in {source}",
                        base_size as f64 / MB
                    ),
                ))
            }
            (None, None, Some(max)) => {
                Some(((max * MB) as u64, format!("{max} MB, set in {source}")))
            }
            _ => panic!("{source}: [budget] needs either max_mb, or base and over_base_mb"),
        }
    }
}

/// A built image of a step.
pub struct Image {
    pub step: Step,
    pub tag: String,
    pub id: String,
    /// The build output (BuildKit's plain progress), e.g. to see which steps were CACHED.
    pub build_log: String,
    /// How long the build command took.
    pub build_time: std::time::Duration,
    inspect: serde_json::Value,
    files: OnceLock<Files>,
}

impl Image {
    fn of(step: Step, build_log: String, build_time: std::time::Duration) -> Image {
        let tag = step.facts.image.clone();
        let json = docker::ok(&["image", "inspect", &tag]);
        let mut inspect: serde_json::Value =
            serde_json::from_str(&json).expect("docker image inspect JSON");
        let inspect = inspect[0].take();
        let id = inspect["Id"].as_str().unwrap_or_default().to_string();
        Image {
            step,
            tag,
            id,
            build_log,
            build_time,
            inspect,
            files: OnceLock::new(),
        }
    }

    pub fn size_bytes(&self) -> u64 {
        self.inspect["Size"].as_u64().expect("image Size")
    }

    pub fn size_mb(&self) -> f64 {
        self.size_bytes() as f64 / MB
    }

    /// The image's config (`.Config`): User, Entrypoint, Cmd, ExposedPorts, Healthcheck, Labels.
    pub fn config(&self) -> &serde_json::Value {
        &self.inspect["Config"]
    }

    pub fn files(&self) -> &Files {
        self.files.get_or_init(|| Files::of_image(&self.tag))
    }

    pub fn assert_smaller_than(&self, other: &Image) {
        assert!(
            self.size_bytes() < other.size_bytes(),
            "{} ({:.1} MB) should be smaller than {} ({:.1} MB)",
            self.tag,
            self.size_mb(),
            other.tag,
            other.size_mb()
        );
        println!(
            "{} is {:.1} MB, {:.1}x smaller than {} ({:.1} MB)",
            self.tag,
            self.size_mb(),
            other.size_bytes() as f64 / self.size_bytes() as f64,
            other.tag,
            other.size_mb()
        );
    }

    /// The size the book shows (book/src/generated/results.json) must still be true.
    /// Only for steps whose size does not depend on which base image was used.
    pub fn assert_size_matches_the_book(&self) {
        const TOLERANCE: f64 = 0.05;
        let results = super::book::Results::load().unwrap_or_else(|| {
            panic!(
                "book/src/generated/results.json is missing: run `{}`",
                super::book::MEASURE
            )
        });
        let Some(shown) = results.step(&self.step.slug) else {
            panic!(
                "results.json has no size for step {}: run `{} --steps {}`",
                self.step.slug,
                super::book::MEASURE,
                &self.step.slug[..2]
            );
        };
        let ratio = self.size_bytes() as f64 / shown.size_bytes as f64;
        assert!(
            (ratio - 1.0).abs() <= TOLERANCE,
            "the book shows {} for {}, but it is {:.2} MB now ({:+.1}%, tolerance {:.0}%). Measure again: `{} --steps {}`",
            super::book::human_size(shown.size_bytes),
            self.tag,
            self.size_mb(),
            (ratio - 1.0) * 100.0,
            TOLERANCE * 100.0,
            super::book::MEASURE,
            &self.step.slug[..2]
        );
    }

    // ---- The properties the steps teach. Each returns what it found and a hint. ----

    /// Step 01's point: the toolchain, the source and the build tree all ship.
    pub fn ships_toolchain_source_and_build_tree(&self) -> Result<(), Problem> {
        let files = self.files();
        let wanted = [
            "/usr/local/cargo/bin/cargo",
            "/app/src/main.rs",
            "/app/target/release/ping",
        ];
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|path| !files.exists(path))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        problem(
            format!("the naive image was expected to hold {missing:?}"),
            "the naive step copies the whole context into a rust image and builds there",
        )
    }

    /// Step 02's point: the build context carried only what the build needs.
    pub fn no_build_context_junk(&self) -> Result<(), Problem> {
        let junk: Vec<String> = [".git", "target", "tests", "book", "steps", ".ci"]
            .iter()
            .map(|name| format!("/app/{name}"))
            .filter(|path| self.files().contains(path))
            .collect();
        if junk.is_empty() {
            return Ok(());
        }
        problem(
            format!("the image holds {}", junk.join(", ")),
            "what does `COPY . .` copy? A Dockerfile.dockerignore next to the Dockerfile decides what \
             the build context sends, and a build tree deleted in a later RUN still weighs in its layer",
        )
    }

    /// Steps 03 and 04: no Rust source or manifest in the runtime image.
    pub fn no_source(&self) -> Result<(), Problem> {
        let mut source = self.files().ending_with(".rs");
        source.extend(self.files().named("Cargo.toml"));
        if source.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = source.iter().take(3).copied().collect();
        problem(
            format!(
                "the image holds source: {} ({} files)",
                shown.join(", "),
                source.len()
            ),
            "which stage does your final FROM start from, and what does it COPY?",
        )
    }

    /// Steps 03 and 04: no cargo, rustc or rustup in the runtime image.
    pub fn no_toolchain(&self) -> Result<(), Problem> {
        let mut tools = Vec::new();
        for name in ["cargo", "rustc", "rustup"] {
            tools.extend(self.files().named(name));
        }
        if tools.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = tools.iter().take(3).copied().collect();
        problem(
            format!(
                "the image holds the Rust toolchain: {} ({} paths)",
                shown.join(", "),
                tools.len()
            ),
            "the runtime image needs the binary, not what built it: start the last stage from a \
             runtime base and copy only the binary into it",
        )
    }

    /// Step 04: one Dockerfile builds and packages: its final stage copies `--from` a stage.
    pub fn copies_from_a_build_stage(&self) -> Result<(), Problem> {
        let instructions = build_steps(&self.build_log);
        let copies_from = |instruction: &str| {
            instruction
                .split_whitespace()
                .take_while(|word| word.starts_with("--") || word.eq_ignore_ascii_case("COPY"))
                .any(|word| word.starts_with("--from="))
        };
        if instructions
            .iter()
            .any(|step| copies_from(&step.instruction))
        {
            return Ok(());
        }
        let builds = self
            .build_log
            .lines()
            .filter(|line| line.contains("load build definition from"))
            .count();
        problem(
            format!(
                "no instruction copies --from a build stage{}",
                if builds > 1 {
                    format!(" ({builds} separate builds made this image)")
                } else {
                    String::new()
                }
            ),
            "one Dockerfile can hold both images: name the build stage (FROM … AS build) and \
             copy the binary out of it in the final stage",
        )
    }

    /// Step 05: after a source-only change, the dependency build was CACHED and the
    /// source build ran again. Reads this image's build log.
    pub fn reused_the_dependency_layer(&self) -> Result<(), Problem> {
        // The cargo builds in Dockerfile order: the dependencies' first, the source's last.
        let builds: Vec<BuildStep> = build_steps(&self.build_log)
            .into_iter()
            .filter(|step| step.instruction.contains("cargo build"))
            .collect();
        let Some((first, last)) = builds.first().zip(builds.last()) else {
            return problem(
                "the build log shows no `cargo build` instruction",
                "where does the image compile the service?",
            );
        };
        let (first_cached, last_cached) = (first.cached, last.cached);
        let (first, last) = (&first.instruction, &last.instruction);
        if builds.len() < 2 {
            return problem(
                format!(
                    "one `cargo build` compiles dependencies and source together ({first}), so a source change recompiles everything"
                ),
                "copy the manifests first and compile the dependencies in their own RUN, before the source is copied",
            );
        }
        if !first_cached {
            return problem(
                format!("after a source-only change, the dependency build ran again: {first}"),
                "does anything that changes with the source reach the image before that RUN?",
            );
        }
        if last_cached {
            return problem(
                format!("after a source-only change, the source build was CACHED: {last}"),
                "the new source must be copied in before the last `cargo build`",
            );
        }
        Ok(())
    }

    /// Where the service binary is: the first word of ENTRYPOINT (or CMD), resolved
    /// against the working directory or the usual PATH directories.
    pub fn service_binary(&self) -> Option<String> {
        let config = self.config();
        let command = [&config["Entrypoint"], &config["Cmd"]]
            .into_iter()
            .map(words)
            .find(|words| !words.is_empty())?;
        // Through a shell, `sh -c "exec /ping serve"`: the binary is the script's first
        // word that is neither `exec` nor a `NAME=value` assignment.
        let first = match shell_form(&command) {
            Some((_, script)) => script
                .split_whitespace()
                .find(|word| *word != "exec" && !word.contains('='))?,
            None => command[0],
        };
        if first.starts_with('/') {
            return Some(first.to_string());
        }
        if first.contains('/') {
            let workdir = config["WorkingDir"]
                .as_str()
                .filter(|w| !w.is_empty())
                .unwrap_or("/");
            return Some(format!(
                "{}/{}",
                workdir.trim_end_matches('/'),
                first.trim_start_matches("./")
            ));
        }
        [
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ]
        .iter()
        .map(|dir| format!("{dir}/{first}"))
        .find(|path| self.files().exists(path))
    }

    /// The bytes of a file in the image, copied out through a created container.
    pub fn copy_out(&self, path: &str) -> Vec<u8> {
        let container = docker::CreatedContainer::create(&self.tag);
        let output = docker::run(&["cp", &format!("{}:{path}", container.0), "-"]);
        assert!(
            output.status.success(),
            "cannot copy {path} out of {}: {}",
            self.tag,
            String::from_utf8_lossy(&output.stderr)
        );
        let mut archive = tar::Archive::new(output.stdout.as_slice());
        let mut entry = archive
            .entries()
            .expect("tar from docker cp")
            .next()
            .expect("one entry")
            .expect("tar entry");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).expect("read the copied file");
        bytes
    }

    /// The bytes of the service binary at `path`, if the image has it (through any
    /// symbolic links, as the kernel would execute it).
    fn service_binary_bytes(&self, path: &str) -> Option<Vec<u8>> {
        let real = self.files().resolve(path)?;
        Some(self.copy_out(&real))
    }

    /// Step 06: the service binary has no ELF interpreter and needs no shared library.
    pub fn binary_is_static(&self) -> Result<(), Problem> {
        let Some(path) = self.service_binary() else {
            return problem(
                "cannot find the service binary from ENTRYPOINT/CMD",
                "use the exec form, with the binary's absolute path",
            );
        };
        let Some(bytes) = self.service_binary_bytes(&path) else {
            return problem(
                format!("ENTRYPOINT/CMD runs {path}, which is not in the image"),
                "COPY the binary to the path your ENTRYPOINT names",
            );
        };
        let elf = match goblin::elf::Elf::parse(&bytes) {
            Ok(elf) => elf,
            Err(error) => {
                return problem(
                    format!("{path} is not an ELF binary: {error}"),
                    "ENTRYPOINT should name the compiled service",
                );
            }
        };
        let mut needs = Vec::new();
        if let Some(interpreter) = elf.interpreter {
            needs.push(format!("the interpreter {interpreter}"));
        }
        needs.extend(
            elf.libraries
                .iter()
                .map(|library| format!("the shared library {library}")),
        );
        if needs.is_empty() {
            return Ok(());
        }
        problem(
            format!(
                "{path} is dynamically linked: it needs {}",
                needs.join(", ")
            ),
            "scratch has no libc: build for the musl target, whose C library is linked into the binary",
        )
    }

    /// The service binary and the ELF loader it asks for, when the image lacks that loader.
    pub fn missing_loader(&self) -> Option<(String, String)> {
        let path = self.service_binary()?;
        let bytes = self.service_binary_bytes(&path)?;
        let interpreter = goblin::elf::Elf::parse(&bytes)
            .ok()?
            .interpreter?
            .to_string();
        (!self.files().exists(&interpreter)).then_some((path, interpreter))
    }

    /// Steps 06–08: the image's files are the service binary and nothing else.
    pub fn holds_only_the_binary(&self) -> Result<(), Problem> {
        let own = self.files().own();
        let paths = |paths: &[&str]| {
            let shown: Vec<&str> = paths.iter().take(5).copied().collect();
            let more = paths.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            let noun = if paths.len() == 1 { "path" } else { "paths" };
            format!("{} {noun}: {}{more}", paths.len(), shown.join(", "))
        };
        let Some(binary) = self.service_binary() else {
            return problem(
                format!(
                    "cannot tell which file is the service from ENTRYPOINT/CMD {:?}; the image holds {}",
                    words(&self.config()["Entrypoint"])
                        .into_iter()
                        .chain(words(&self.config()["Cmd"]))
                        .collect::<Vec<_>>(),
                    paths(&own)
                ),
                "name the binary itself, in exec form: ENTRYPOINT [\"/ping\"]",
            );
        };
        let others: Vec<&str> = own.into_iter().filter(|path| *path != binary).collect();
        if others.is_empty() && self.files().contains(&binary) {
            return Ok(());
        }
        problem(
            format!("besides {binary} the image holds {}", paths(&others)),
            "start the final stage FROM scratch and COPY only the binary into it",
        )
    }

    /// Steps 06–08: no shell to exec into, or for an attacker to use.
    pub fn no_shell(&self) -> Result<(), Problem> {
        let shells: Vec<&str> = [
            "/bin/sh",
            "/bin/bash",
            "/usr/bin/sh",
            "/usr/bin/bash",
            "/bin/busybox",
        ]
        .into_iter()
        .filter(|path| self.files().exists(path))
        .collect();
        if shells.is_empty() {
            return Ok(());
        }
        problem(
            format!("the image holds a shell: {}", shells.join(", ")),
            "an image FROM scratch has no shell unless you copy one in",
        )
    }

    /// A shell-form CMD or ENTRYPOINT runs `/bin/sh -c`: in an image without a shell the
    /// container cannot start, with an error about /bin/sh that puzzles everyone once.
    pub fn runs_without_a_missing_shell(&self) -> Result<(), Problem> {
        let config = self.config();
        for (name, value) in [
            ("ENTRYPOINT", &config["Entrypoint"]),
            ("CMD", &config["Cmd"]),
        ] {
            let command = words(value);
            if let Some((shell, _)) = shell_form(&command)
                && !self.files().exists(shell)
            {
                // Docker turns a shell-form line into the same `/bin/sh -c` array as a
                // wrapper written by hand: the Dockerfile says which one the learner wrote.
                let found = match self.wrote_as_json(name) {
                    Some(true) => format!(
                        "{name} {command:?} runs the service through {shell}, but the image has no {shell}"
                    ),
                    Some(false) => format!(
                        "{name} is in shell form: Docker runs it as {command:?}, but the image has no {shell}"
                    ),
                    None => format!("{name} is {command:?}, but the image has no {shell}"),
                };
                return problem(
                    found,
                    format!(
                        "run the binary itself, without a shell: {name} [\"/ping\"] (exec form, a JSON array)"
                    ),
                );
            }
        }
        Ok(())
    }

    /// Whether the last `name` instruction of the final Dockerfile is written as a JSON
    /// array (exec form), read from the Dockerfile itself; None if it has none.
    fn wrote_as_json(&self, name: &str) -> Option<bool> {
        let dockerfile = self.step.dockerfiles().pop()?;
        let text = std::fs::read_to_string(dockerfile).ok()?;
        text.lines().rev().find_map(|line| {
            let (first, rest) = line.trim_start().split_once(char::is_whitespace)?;
            first
                .eq_ignore_ascii_case(name)
                .then(|| rest.trim_start().starts_with('['))
        })
    }

    /// Step 08: nothing setuid or setgid.
    pub fn no_setuid_files(&self) -> Result<(), Problem> {
        let flagged: Vec<&str> = self
            .files()
            .0
            .iter()
            .filter(|(_, entry)| !entry.is_dir && entry.mode & 0o6000 != 0)
            .map(|(path, _)| path.as_str())
            .collect();
        if flagged.is_empty() {
            return Ok(());
        }
        problem(
            format!("setuid/setgid files: {}", flagged.join(", ")),
            "a runtime image needs no privilege-raising programs",
        )
    }

    /// Step 08: `USER` is numeric and not root (uid and, if given, gid).
    pub fn runs_as_numeric_non_root_user(&self) -> Result<(), Problem> {
        let user = self.config()["User"].as_str().unwrap_or("");
        let parts: Vec<&str> = user.split(':').collect();
        let numeric: Option<Vec<u32>> = parts.iter().map(|part| part.parse::<u32>().ok()).collect();
        match numeric {
            _ if user.is_empty() => problem(
                "the image sets no USER, so the service runs as root (uid 0)",
                "which user should the process run as, and how does Docker know without /etc/passwd?",
            ),
            None => problem(
                format!(
                    "USER {user:?} is not numeric: scratch has no /etc/passwd to resolve it, and a runtime cannot prove a name is not root"
                ),
                "give the user as uid:gid numbers",
            ),
            Some(ids) if ids.contains(&0) => problem(
                format!("USER {user:?} is root"),
                "pick an unprivileged uid and gid",
            ),
            Some(_) => Ok(()),
        }
    }

    /// Step 08: ENTRYPOINT and HEALTHCHECK in exec form, the health check run by the binary.
    pub fn exec_form_entrypoint_and_healthcheck(&self) -> Result<(), Problem> {
        let config = self.config();
        let entrypoint: Vec<&str> = words(&config["Entrypoint"]);
        if entrypoint.is_empty() || entrypoint.first().is_some_and(|w| *w == "/bin/sh") {
            return problem(
                format!("ENTRYPOINT {entrypoint:?} is not in exec form"),
                "write ENTRYPOINT [\"/binary\"]: no shell is needed, and the binary gets the signals",
            );
        }
        let test: Vec<&str> = words(&config["Healthcheck"]["Test"]);
        match test.first() {
            Some(&"CMD") if test.get(1) == entrypoint.first() => Ok(()),
            Some(&"CMD-SHELL") => problem(
                format!("HEALTHCHECK {test:?} needs a shell"),
                "use the exec form: HEALTHCHECK CMD [\"/binary\", \"healthcheck\"]",
            ),
            None => problem(
                "the image has no HEALTHCHECK",
                "scratch has no curl: let the binary check itself, in exec form",
            ),
            _ => problem(
                format!("HEALTHCHECK is {test:?}"),
                "let the binary check itself: HEALTHCHECK CMD [\"/binary\", \"healthcheck\"]",
            ),
        }
    }

    /// Step 08: the OCI labels a registry shows.
    pub fn has_oci_labels(&self) -> Result<(), Problem> {
        let missing: Vec<&str> = ["title", "description", "source", "licenses"]
            .into_iter()
            .filter(|key| {
                self.config()["Labels"][format!("org.opencontainers.image.{key}")]
                    .as_str()
                    .is_none_or(str::is_empty)
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        problem(
            format!(
                "missing labels org.opencontainers.image.{{{}}}",
                missing.join(",")
            ),
            "add them with LABEL in the final stage",
        )
    }
}

/// The images the workshop's own steps start from: the ones `prepare.sh` makes.
pub fn workshop_base_images() -> Vec<String> {
    let mut images: Vec<String> = super::book::step_slugs()
        .iter()
        .flat_map(|slug| Step::get(slug).base_images())
        .collect();
    images.sort();
    images.dedup();
    images
}

/// A FROM image that is neither local nor pullable: named, and said whether it is one
/// of the workshop's base images (then preparing makes it) or close to one (a typo).
fn missing_base_image(image: &str) -> BuildFailure {
    let ours = workshop_base_images();
    let error = format!(
        "FROM {image}: the image is not in your local Docker, and Docker could not pull it"
    );
    if ours.iter().any(|known| known == image) {
        return BuildFailure::without_log(
            error,
            format!(
                "{image} is one of the workshop's base images: prepare it (pulls it, or builds it \
                 locally without a registry): `{PREPARE}`, then rerun"
            ),
        );
    }
    let closest = ours
        .iter()
        .map(|known| (edit_distance(known, image), known))
        .min()
        .filter(|(distance, _)| *distance <= 3);
    let hint = match closest {
        Some((_, known)) => format!(
            "{image} is not one of the workshop's base images; did you mean {known}? \
             (the workshop's: {})",
            ours.join(", ")
        ),
        None => format!(
            "{image} is not one of the workshop's base images ({}): check the name and tag, \
             or pull it by hand (`docker pull {image}`) where a registry is reachable",
            ours.join(", ")
        ),
    };
    BuildFailure::without_log(error, hint)
}

/// Levenshtein distance: how many single-character edits turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A build script (step 03's `build.sh`), not a Dockerfile.
pub fn is_script(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|extension| extension == "sh")
}

/// Copies the repository's files, without .git and target/, to `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read a folder to copy") {
        let entry = entry.expect("a folder entry");
        let name = entry.file_name();
        if from == repo_root() && (name == ".git" || name == "target") {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&source, &target);
        } else {
            std::fs::copy(&source, &target).expect("copy a file");
        }
    }
}

/// A command Docker runs through a shell (`["/bin/sh", "-c", script]`): the shell and the script.
fn shell_form<'a>(command: &[&'a str]) -> Option<(&'a str, &'a str)> {
    match command {
        [shell, "-c", script, ..] if shell.ends_with("/sh") => Some((shell, script)),
        _ => None,
    }
}

fn words(value: &serde_json::Value) -> Vec<&str> {
    value
        .as_array()
        .map(|words| words.iter().filter_map(|w| w.as_str()).collect())
        .unwrap_or_default()
}

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
    for line in log.lines() {
        let Some((id, rest)) = line.split_once(' ') else {
            continue;
        };
        if !id.starts_with('#') {
            continue;
        }
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

/// Why a build failed: the failing instruction, the first error, a hint, and the
/// end of the log, already put together for a person in `report`.
#[derive(Debug, Clone)]
pub struct BuildFailure {
    pub instruction: Option<String>,
    pub error: String,
    pub hint: String,
    pub report: String,
}

impl BuildFailure {
    fn without_log(error: String, hint: String) -> BuildFailure {
        BuildFailure {
            // The first line is the heading a learner's report replaces with its own.
            report: format!("the build failed.\n  error:       {error}\n  hint:        {hint}"),
            instruction: None,
            error,
            hint,
        }
    }

    fn from_log(
        slug: &str,
        command: &str,
        log: &str,
        log_path: &str,
        dockerfile: Option<&std::path::Path>,
    ) -> BuildFailure {
        let lines: Vec<&str> = log.lines().collect();
        // BuildKit prints the failing instruction as ` > [stage 2/4] RUN ...:`;
        // the legacy builder as `Step 2/4 : RUN ...`.
        let instruction = lines
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
            });
        // The first error the failing step printed (cargo's, say) explains more than
        // BuildKit's closing "executor failed" line.
        let failed_step = lines.iter().find_map(|line| {
            line.split_once(" ERROR")
                .map(|(id, _)| id)
                .filter(|id| id.starts_with('#'))
        });
        // An error line, not a line that merely contains the letters (`thiserror`).
        let is_error = |line: &&&str| {
            let lower = line.to_lowercase();
            ["error:", "error[", " error ", "error -"]
                .iter()
                .any(|marker| lower.contains(marker))
                || lower.ends_with(" error")
                || lower.starts_with("failed to")
        };
        let first_error_of_step = failed_step.and_then(|id| {
            lines
                .iter()
                .filter(|line| line.starts_with(&format!("{id} ")) && !line.contains(" ERROR"))
                .find(is_error)
        });
        let error = first_error_of_step
            .or_else(|| lines.iter().rev().find(is_error))
            .map(|line| line.to_string())
            .unwrap_or_else(|| "(no error line; see the log)".into());
        // A parse error names a line, not an instruction: show that line.
        let instruction = instruction.or_else(|| {
            let number: usize = error
                .split_once("line ")?
                .1
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()?;
            let path = dockerfile?;
            let text = std::fs::read_to_string(path).ok()?;
            let line = text.lines().nth(number.checked_sub(1)?)?;
            Some(format!("line {number} of {}: {line}", path.display()))
        });
        let hint = build_hint(instruction.as_deref().unwrap_or(""), &error).to_string();
        let tail_start = lines.len().saturating_sub(25);
        let report = format!(
            "step {slug}: the build failed.\n  command:     {command}\n  instruction: {}\n  error:       {error}\n  \
             hint:        {hint}\n--- last lines of the build log (all of it: {log_path}) ---\n{}",
            instruction
                .as_deref()
                .unwrap_or("(none: the Dockerfile could not be read or parsed; see the error)"),
            lines[tail_start..].join("\n")
        );
        BuildFailure {
            instruction,
            error,
            hint,
            report,
        }
    }
}

/// A hint for the usual ways a build fails, read from the failing instruction and error.
fn build_hint(instruction: &str, error: &str) -> &'static str {
    let error = error.to_lowercase();
    let instruction = instruction.to_lowercase();
    if error.contains("parse error") || error.contains("unknown instruction") {
        "Docker could not read the Dockerfile: look at the line the error names (a misspelt \
         instruction, or a line continued without a trailing backslash)"
    } else if instruction.contains("copy --from") && error.contains("not found") {
        "the path does not exist in the stage you copy from: where did that stage's build put \
         the binary? (`cargo build --release` writes target/release/ping; with a --target, \
         target/<triple>/release/ping)"
    } else if instruction.contains("copy") && error.contains("not found") {
        "the build context has no such file: is it spelt right, and does the \
         Dockerfile.dockerignore next to your Dockerfile let it through?"
    } else if error.contains("pull access denied")
        || error.contains("failed to resolve source metadata")
        || error.contains("not found: manifest unknown")
    {
        "a FROM image is neither local nor pullable: check its name, or prepare the base images \
         with steps/00-base-images/prepare.sh --offline"
    } else if error.contains("certificate") {
        "HTTPS inside the build is not trusted: see the book's *Before you start*, TLS-inspecting \
         proxies"
    } else if error.contains("target may not be installed")
        || error.contains("can't find crate for `core`")
    {
        "the Rust target is not installed in the build stage: add it with `rustup target add` \
         before the first `cargo build` (step 06 derives it from `uname -m`)"
    } else if instruction.contains("cargo") {
        "cargo failed: the error line above is cargo's own; the build log has the rest"
    } else {
        "read the error next to the failing instruction; the whole log is in the file named below"
    }
}
