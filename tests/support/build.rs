//! Building a step's image with the command the book shows, and saying clearly why
//! a build failed: the failing instruction, the first error, a hint, the log's end.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::buildkit::{self, BuildEcho};
use super::error::{BuildFailure, Error, Must, Result, io};
use super::files::PrivateDir;
use super::image::Image;
use super::step::{PREPARE, Step, workshop_base_images};
use super::{ci_cache, docker, repo_root};

impl Step {
    /// Builds the step's image from the repository root, exactly as a learner types
    /// the command; fails the test with the failing instruction and the log's end.
    #[track_caller]
    pub fn build(&self) -> Image {
        self.try_build().must()
    }

    pub fn try_build(&self) -> Result<Image> {
        self.try_build_in(repo_root())
    }

    /// The same Dockerfile built for another platform (`linux/arm64`), as the book shows.
    pub fn try_build_for(&self, platform: &str) -> Result<Image> {
        self.run_build(repo_root(), Some(platform))
    }

    /// The same build command, run in another directory (a modified copy of the context).
    pub fn try_build_in(&self, dir: &Path) -> Result<Image> {
        self.run_build(dir, None)
    }

    /// The book's build command with `flags` after `docker build` (`--cache-to …`).
    pub fn try_build_with(&self, flags: &str) -> Result<Image> {
        self.run_build_as(repo_root(), None, |command| with_flags(&command, flags))
    }

    /// A fresh CI runner's build: empty cache mounts, nothing taken from the builder
    /// (`--no-cache`: forgetting its records is not enough, BuildKit can make a layer
    /// again from a blob it still holds, such as the last image's), its cache exported
    /// to `cache` (`--cache-to`).
    pub fn first_ci_run(&self, cache: &Path) -> Result<Image> {
        ci_cache::forget_the_cache_mounts_of(&self.dockerfile_text()?)?;
        self.try_build_with(&format!("--no-cache {}", ci_cache::export_to(cache)))
    }

    /// The next CI run, on a fresh runner: what BuildKit kept of the build forgotten,
    /// a source-only change, the cache `first_ci_run` exported given back
    /// (`--cache-from`). Also says how many of BuildKit's records were forgotten.
    pub fn next_ci_run(&self, cache: &Path) -> Result<(Image, usize)> {
        let forgotten = ci_cache::forget_the_runs_of(&self.dockerfile_text()?)?;
        let rebuilt = self.rebuild_after_with(Change::SourceOnly, &ci_cache::import_from(cache))?;
        Ok((rebuilt, forgotten))
    }

    fn run_build(&self, dir: &Path, platform: Option<&str>) -> Result<Image> {
        self.run_build_as(dir, platform, |command| command)
    }

    /// `run_build` with the book's build command passed through `adjust` first.
    fn run_build_as(
        &self,
        dir: &Path,
        platform: Option<&str>,
        adjust: impl FnOnce(String) -> String,
    ) -> Result<Image> {
        docker::ready()?;
        self.ensure_base_images()?;
        let command_line = adjust(self.build_command_for(platform));
        let tag = self.image_for(platform);
        let others = if platform.is_none() {
            self.facts.other_images.as_slice()
        } else {
            &[]
        };
        let tags: Vec<&String> = std::iter::once(&tag).chain(others).collect();
        let previous: Vec<Option<String>> = tags.iter().map(|tag| docker::image_id(tag)).collect();

        let started = Instant::now();
        let log = self.run_logged(&command_line, dir, &tag)?;

        // A rebuild moves the tag to a new image; drop the old one instead of piling it up.
        for (tag, old) in tags.iter().zip(previous) {
            let Some(new) = docker::image_id(tag) else {
                let hint = if self.learner_file.is_some() && self.is_script() {
                    "your script gets the image's name in $TAG: tag the run image \"$TAG\", as the reference build.sh does".to_string()
                } else {
                    format!("the build must tag its image {tag}")
                };
                return Err(BuildFailure::without_log(
                    format!("`{command_line}` succeeded but did not create the image {tag}"),
                    hint,
                )
                .into());
            };
            if let Some(old) = old.filter(|old| *old != new) {
                docker::remove_if_dangling(&old);
            }
        }
        Image::of(self.clone(), tag, log, started.elapsed())
    }

    /// Runs a build command of this step, echoing its instructions when asked. A
    /// learner's script (step 03) runs on this machine, not in a container: it is told
    /// so, and it gets only what a build needs from the environment.
    fn run_logged(&self, command_line: &str, dir: &Path, name: &str) -> Result<String> {
        let dockerfiles = self.dockerfiles();
        let dockerfile = (dockerfiles.len() == 1).then(|| dockerfiles[0].as_path());
        let what = format!("step {}", self.slug);
        let yours = self.is_script() && self.learner_file.is_some();
        if yours && self.echo_build {
            println!(
                "Your script runs on this machine as you, not in a container: it can do what \
                 you can. It gets only {} from your environment, and TAG.",
                SCRIPT_ENVIRONMENT.join(", ")
            );
        }
        run_logged(
            &what,
            command_line,
            dir,
            name,
            self.echo_build,
            dockerfile,
            yours,
        )
    }

    /// Runs another build command of this step's (a push), from the repository root, as
    /// its builds run: logged to a file, stopped at the build limit, a failure explained.
    pub fn run_build_command(&self, command_line: &str, name: &str) -> Result<String> {
        docker::ready()?;
        self.ensure_base_images()?;
        self.run_logged(command_line, repo_root(), name)
    }

    /// Builds the stage `target` and exports its files into `dest` (`docker build
    /// --target … --output type=local,dest=…`), as the book shows for the SBOM.
    pub fn export_stage(&self, target: Option<&str>, dest: &Path) -> Result<String> {
        docker::ready()?;
        self.ensure_base_images()?;
        let command_line = self.export_command(target, &dest.display().to_string());
        self.run_logged(
            &command_line,
            repo_root(),
            &format!("{}-{}", self.image, target.unwrap_or("files")),
        )
    }

    /// The experiments of steps 05 and 09: copy the build context to a temporary
    /// folder, make `change` there (never to the repository's files), and run the same
    /// build command in it, tagged `<image>-rebuild`. The returned image's `build_log`
    /// says what was CACHED and what cargo compiled; `Image::remove` drops it.
    pub fn rebuild_after(&self, change: Change) -> Result<Image> {
        self.rebuild_after_with(change, "")
    }

    /// `rebuild_after`, its build command given `flags` (`--cache-from …`).
    pub fn rebuild_after_with(&self, change: Change, flags: &str) -> Result<Image> {
        let folder = PrivateDir::new(&format!("{}-rebuild", self.slug))?;
        let copy = folder.path().join("context");
        copy_tree(repo_root(), &copy)?;
        // Unique every time: a change made before would come from a cache.
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        change.make(&copy, nonce, &self.slug)?;
        if self.echo_build {
            println!("Rebuilding after {}, in a copy…", change.says());
        }
        // Tagged apart: the step's own image stays what its checks inspect. A script's
        // other images are named after the tag too (step 03's `<tag>-build`): the ones
        // of the step's own tag are not what this build makes.
        let image = format!("{}-rebuild", self.image);
        let apart = Step {
            facts: super::step::Facts {
                other_images: self
                    .facts
                    .other_images
                    .iter()
                    .map(|other| other.replacen(&self.image, &image, 1))
                    .collect(),
                ..self.facts.clone()
            },
            image,
            ..self.clone()
        };
        apart.run_build_as(&copy, None, |command| with_flags(&command, flags))
    }

    /// Every `FROM` image of the step's Dockerfiles must be present or pullable.
    fn ensure_base_images(&self) -> Result<()> {
        ensure_base_images(&self.base_images())
    }
}

/// `command` (a `docker build …`) with `flags` right after `docker build`.
pub fn with_flags(command: &str, flags: &str) -> String {
    if flags.is_empty() {
        return command.to_string();
    }
    command.replacen("docker build ", &format!("docker build {flags} "), 1)
}

/// How long one build may run before it is stopped: far above a cold build of any
/// step on a two-core laptop (a few minutes), and a stuck one (`RUN sleep infinity`, a
/// registry that never answers) ends. `PING_BUILD_TIMEOUT` (seconds) overrides it.
pub const BUILD_LIMIT: Duration = Duration::from_secs(15 * 60);
/// The most of a build log held in memory: the whole log goes to its file as it comes,
/// and a report needs its tail (and the instruction lines, which come early).
pub const LOG_LIMIT: usize = 8 << 20;

/// How long a pull of a base image may take: the largest, rust:1.95-trixie, is about
/// 0.6 GB to download; a registry that does not answer is given up on.
pub const PULL_LIMIT: Duration = Duration::from_secs(10 * 60);

/// BUILD_LIMIT, or PING_BUILD_TIMEOUT's seconds.
pub fn build_limit() -> Duration {
    std::env::var("PING_BUILD_TIMEOUT")
        .ok()
        .and_then(|seconds| seconds.trim().parse().ok())
        .map_or(BUILD_LIMIT, Duration::from_secs)
}

/// What a learner's script gets from the environment it is run from (besides TAG and
/// Docker's own settings): enough for `docker` to find itself, its plugins and its config.
pub const SCRIPT_ENVIRONMENT: &[&str] = &["PATH", "HOME", "TMPDIR", "DOCKER_CONFIG"];

/// Runs a build command (bash, from `dir`, BuildKit's plain log), echoing its
/// instructions when asked; the log, or why the build of `what` ("step 05") failed.
/// Stopped at `build_limit()`: the build is cancelled (SIGINT to the docker client, as
/// Ctrl-C does, then SIGKILL), and the report names the instruction still running.
/// `least` runs it with SCRIPT_ENVIRONMENT alone: no token or key of the caller's
/// environment reaches a script nobody reviewed.
pub fn run_logged(
    what: &str,
    command_line: &str,
    dir: &Path,
    name: &str,
    echo_build: bool,
    dockerfile: Option<&Path>,
    least: bool,
) -> Result<String> {
    use std::os::unix::process::CommandExt;
    let limit = build_limit();
    let mut command = Command::new("bash");
    command
        .args(["-c", &format!("exec 2>&1; {command_line}")])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Its own process group: at the limit every process of the build gets the signal.
        .process_group(0);
    if least {
        command.env_clear();
        for name in SCRIPT_ENVIRONMENT {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
    }
    docker::with_buildkit(&mut command);
    let mut child = command
        .spawn()
        .map_err(|error| Error::Harness(format!("cannot run bash: {error}")))?;
    let (log_path, mut file) = open_log(name);
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let Some(stdout) = stdout else { return };
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            if lines
                .send(String::from_utf8_lossy(&line).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    let mut log = BoundedLog::default();
    let mut echo = BuildEcho::default();
    let started = Instant::now();
    let mut timed_out = false;
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match received.recv_timeout(left.min(Duration::from_secs(1))) {
            Ok(line) => {
                if echo_build && let Some(shown) = echo.line(&line) {
                    println!("    {shown}");
                }
                if let Some(file) = file.as_mut() {
                    let _ = writeln!(file, "{line}");
                }
                log.push(&line);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if left.is_zero() => {
                timed_out = true;
                stop_group(&mut child);
                break;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    let status = child
        .wait()
        .map_err(|error| Error::Harness(format!("cannot wait for the build: {error}")))?;
    // The reader ends once every process holding the pipe has exited.
    let _ = reader.join();
    while let Ok(line) = received.try_recv() {
        if let Some(file) = file.as_mut() {
            let _ = writeln!(file, "{line}");
        }
        log.push(&line);
    }
    let log = log.text();
    if timed_out {
        return Err(BuildFailure::timed_out(what, command_line, &log, &log_path, limit).into());
    }
    if !status.success() {
        return Err(BuildFailure::from_log(what, command_line, &log, &log_path, dockerfile).into());
    }
    Ok(log)
}

/// SIGINT to the build's process group (the docker client cancels the build, as on
/// Ctrl-C), then SIGKILL if it is still there after ten seconds.
fn stop_group(child: &mut std::process::Child) {
    let group = child.id() as libc::pid_t;
    // SAFETY: kill(2) with a process group id has no memory-safety preconditions.
    unsafe { libc::kill(-group, libc::SIGINT) };
    let asked = Instant::now();
    while asked.elapsed() < Duration::from_secs(10) {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: as above.
    unsafe { libc::kill(-group, libc::SIGKILL) };
}

/// A build log held in memory up to LOG_LIMIT: past it, the oldest lines after the
/// first ones (where BuildKit names the instructions) are dropped.
#[derive(Default)]
struct BoundedLog {
    head: String,
    tail: std::collections::VecDeque<String>,
    tail_bytes: usize,
    dropped: usize,
}

impl BoundedLog {
    fn push(&mut self, line: &str) {
        if self.head.len() + line.len() < LOG_LIMIT / 4 && self.tail.is_empty() {
            self.head.push_str(line);
            self.head.push('\n');
            return;
        }
        self.tail_bytes += line.len() + 1;
        self.tail.push_back(line.to_string());
        while self.tail_bytes > LOG_LIMIT - LOG_LIMIT / 4 {
            let Some(old) = self.tail.pop_front() else {
                break;
            };
            self.tail_bytes -= old.len() + 1;
            self.dropped += 1;
        }
    }

    fn text(&self) -> String {
        let mut text = self.head.clone();
        if self.dropped > 0 {
            text.push_str(&format!(
                "… ({} lines left out here; the file has them)\n",
                self.dropped
            ));
        }
        for line in &self.tail {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// The file a build's whole log goes to, and its path for messages. In a folder of
/// this user's own (mode 0700), not a shared name in /tmp that anyone could link
/// elsewhere; not inside the repository: step 01 sends the whole repository to Docker,
/// and a file changed there would defeat its build cache.
fn open_log(tag: &str) -> (String, Option<std::fs::File>) {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("ping-workshop-logs-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    // Ours, and no one else's to write in: else no file at all.
    let private = std::fs::symlink_metadata(&dir)
        .is_ok_and(|meta| meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0);
    // Named after the image: a learner's build never overwrites the reference's log.
    let name = tag.replace([':', '/'], "-");
    let path = dir.join(format!("{name}.build.log"));
    let file = private
        .then(|| {
            let _ = std::fs::remove_file(&path);
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .ok()
        })
        .flatten();
    (path.display().to_string(), file)
}

/// Every image in `images` must be present or pullable; otherwise say how to prepare
/// it rather than let the build hang on a registry.
pub fn ensure_base_images(images: &[String]) -> Result<()> {
    for image in images {
        if docker::image_id(image).is_some() {
            continue;
        }
        let pull = docker::command(&["pull", "--quiet", image]);
        let pulled = docker::run_within(pull, PULL_LIMIT).is_ok();
        if !pulled {
            return Err(missing_base_image(image).into());
        }
    }
    Ok(())
}

/// A change the rebuild experiments make to a copy of the build context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A comment appended to src/main.rs: the source changes, the dependencies do not.
    SourceOnly,
    /// The service's own package version, in Cargo.toml and Cargo.lock: the manifests
    /// change (as when a dependency is added), and only the service needs compiling.
    PackageVersion,
}

impl Change {
    pub fn says(self) -> &'static str {
        match self {
            Change::SourceOnly => "a source-only change to src/main.rs",
            Change::PackageVersion => {
                "a change to the manifests (the package version in Cargo.toml and Cargo.lock)"
            }
        }
    }

    fn make(self, copy: &Path, nonce: u128, slug: &str) -> Result<()> {
        let edit = |name: &str, edit: &dyn Fn(String) -> String| -> Result<()> {
            let path = copy.join(name);
            let text = std::fs::read_to_string(&path).map_err(|error| io("read", &path, error))?;
            let edited = edit(text.clone());
            if edited == text {
                return Err(Error::Harness(format!(
                    "{}: cannot make {}",
                    name,
                    self.says()
                )));
            }
            std::fs::write(&path, edited).map_err(|error| io("change", &path, error))
        };
        match self {
            Change::SourceOnly => edit("src/main.rs", &|mut source| {
                source.push_str(&format!(
                    "\n// A source-only change ({nonce}), made by the step {slug} check.\n"
                ));
                source
            }),
            Change::PackageVersion => {
                let version = format!("0.1.{}", nonce % 1_000_000_000);
                let bump = |text: String, after: &str| {
                    text.replacen(
                        &format!("{after}\nversion = \"0.1.0\""),
                        &format!("{after}\nversion = \"{version}\""),
                        1,
                    )
                };
                edit("Cargo.toml", &|text| bump(text, "name = \"ping\""))?;
                edit("Cargo.lock", &|text| bump(text, "name = \"ping\""))
            }
        }
    }
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

/// Copies the repository's files, without .git and target/, to `to`.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|error| io("create", to, error))?;
    let entries = std::fs::read_dir(from).map_err(|error| io("read", from, error))?;
    for entry in entries {
        let entry = entry.map_err(|error| io("read", from, error))?;
        let name = entry.file_name();
        if from == repo_root() && (name == ".git" || name == "target") {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        let kind = entry
            .file_type()
            .map_err(|error| io("read", &source, error))?;
        if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).map_err(|error| io("copy", &source, error))?;
        }
    }
    Ok(())
}

impl BuildFailure {
    pub fn without_log(error: String, hint: String) -> BuildFailure {
        BuildFailure {
            // The first line is the heading a learner's report replaces with its own.
            report: format!("the build failed.\n  error:       {error}\n  hint:        {hint}"),
            instruction: None,
            error,
            hint,
        }
    }

    /// A build stopped at its time limit: the instruction that was still running.
    fn timed_out(
        what: &str,
        command: &str,
        log: &str,
        log_path: &str,
        limit: Duration,
    ) -> BuildFailure {
        let running = buildkit::running_instructions(log);
        let instruction = running.last().cloned();
        let error = format!(
            "the build was still running after {} s, and was stopped{}",
            limit.as_secs(),
            instruction
                .as_deref()
                .map(|running| format!(" during {running}"))
                .unwrap_or_default()
        );
        let hint = "does that instruction wait for something that never comes (a `sleep`, \
                    a prompt, a network the build cannot reach)? A slow machine can allow \
                    more: PING_BUILD_TIMEOUT=SECONDS"
            .to_string();
        let report = format!(
            "{what}: the build was stopped.\n  command:     {command}\n  instruction: {}\n  \
             error:       {error}\n  hint:        {hint}\n{}",
            instruction.as_deref().unwrap_or("(none had started)"),
            log_tail(log, log_path)
        );
        BuildFailure {
            instruction,
            error,
            hint,
            report,
        }
    }

    fn from_log(
        what: &str,
        command: &str,
        log: &str,
        log_path: &str,
        dockerfile: Option<&Path>,
    ) -> BuildFailure {
        let error =
            buildkit::first_error(log).unwrap_or_else(|| "(no error line; see the log)".into());
        // A parse error names a line, not an instruction: show that line.
        let instruction = buildkit::failing_instruction(log).or_else(|| {
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
        let report = format!(
            "{what}: the build failed.\n  command:     {}\n  instruction: {}\n  error:       {error}\n  \
             hint:        {hint}\n{}",
            command,
            instruction
                .as_deref()
                .unwrap_or("(none: the Dockerfile could not be read or parsed; see the error)"),
            log_tail(log, log_path)
        );
        BuildFailure {
            instruction,
            error,
            hint,
            report,
        }
    }
}

/// The last lines of a build log, under a heading that says where all of it is.
fn log_tail(log: &str, log_path: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let tail_start = lines.len().saturating_sub(25);
    format!(
        "--- last lines of the build log (all of it: {log_path}) ---\n{}",
        lines[tail_start..].join("\n")
    )
}

/// A hint for the usual ways a build fails, read from the failing instruction and error.
fn build_hint(instruction: &str, error: &str) -> &'static str {
    let error = error.to_lowercase();
    let instruction = instruction.to_lowercase();
    if error.contains("parse error") || error.contains("unknown instruction") {
        "Docker could not read the Dockerfile: look at the line the error names (a misspelt \
         instruction, or a line continued without a trailing backslash)"
    } else if instruction.contains("copy --from")
        && (error.contains("not found") || error.contains("no such file or directory"))
    {
        "the path does not exist in the stage you copy from: where did that stage's build put \
         the binary? (`cargo build --release` writes target/release/ping; with a --target, \
         target/<triple>/release/ping; and what is in a cache mount is gone when its RUN ends: \
         copy the binary out in the same RUN)"
    } else if error.contains("cannot stat") && error.contains("target/") {
        "cargo's target/ is not there: a cache mount exists only during the RUN that mounts it, \
         so copy the binary out of it in that same RUN"
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
