//! The runner every build goes through: a build command run by bash within a time
//! limit, its log written to a file of the user's own and held in memory, each up to a bound.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::buildkit::BuildEcho;
use crate::docker;
use crate::error::Harness;
use crate::error::{BuildFailure, Result};

/// How long one build may run before it is stopped: far above a cold build of any
/// step on a two-core laptop (a few minutes), and a stuck one (`RUN sleep infinity`, a
/// registry that never answers) ends. `PING_BUILD_TIMEOUT` (seconds) overrides it.
pub const BUILD_LIMIT: Duration = Duration::from_secs(15 * 60);
/// The most of a build log held in memory: the log goes to its file as it comes,
/// and a report needs its tail (and the instruction lines, which come early).
pub const LOG_LIMIT: usize = 8 << 20;
/// The most of a build log written to its file: a cold build of the final image logs
/// about 1 MB; a script that prints without end (`yes`) must not fill the disk in the
/// build's fifteen minutes.
pub const LOG_FILE_LIMIT: u64 = 64 << 20;

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
    let build = Build {
        what,
        command_line,
        dir,
        name,
        echo_build,
        dockerfile,
        least,
    };
    run_logged_until(&build, None).map(|(log, _)| log)
}

/// A build command and how to run it (`run_logged`'s arguments).
pub struct Build<'a> {
    pub what: &'a str,
    pub command_line: &'a str,
    pub dir: &'a Path,
    pub name: &'a str,
    pub echo_build: bool,
    pub dockerfile: Option<&'a Path>,
    pub least: bool,
}

/// `run_logged`, stopped (as at the time limit) at the first line `settled` says
/// answers what the build was run to find out: the log so far, and whether it was
/// stopped there. A rebuild that compiles a dependency has failed its check the moment
/// cargo says so; the minutes of compiling after it would prove nothing more.
pub fn run_logged_until(
    build: &Build,
    settled: Option<&dyn Fn(&str) -> bool>,
) -> Result<(String, bool)> {
    use std::os::unix::process::CommandExt;
    let Build {
        what,
        command_line,
        dir,
        name,
        echo_build,
        dockerfile,
        least,
    } = *build;
    // A build that ignores the whole cache runs alone (`locks::Builds::alone`). One that
    // ignores a stage's (`--no-cache-filter image`, each publish) runs beside others:
    // that stage's one step, its COPY, is shared only by a build of the same Dockerfile,
    // which then copies the same /ping again.
    let builds = crate::locks::Builds::of_this_machine();
    let _turn = if command_line
        .split_whitespace()
        .any(|word| word == "--no-cache")
    {
        builds.alone()?.into_iter().collect()
    } else {
        vec![builds.beside_others()?]
    };
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
    let mut child = command.spawn().harness("cannot run bash")?;
    // Its group is stopped with the run if the run is interrupted (`cleanup`).
    crate::cleanup::build_started(child.id());
    let (log_path, file) = open_log(name);
    let mut file = LogFile::new(file);
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let Some(stdout) = stdout else { return };
        let mut stdout = BufReader::new(stdout);
        while let Some(line) = bounded_line(&mut stdout) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = BoundedLog::default();
    let mut echo = BuildEcho::default();
    let started = Instant::now();
    let mut timed_out = false;
    let mut stopped = false;
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match received.recv_timeout(left.min(Duration::from_secs(1))) {
            Ok(line) => {
                if echo_build && let Some(shown) = echo.line(&line) {
                    println!("    {shown}");
                }
                file.write(&line);
                log.push(&line);
                if settled.is_some_and(|settled| settled(&line)) {
                    stopped = true;
                    stop_group(&mut child);
                    break;
                }
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
    let status = child.wait().harness("cannot wait for the build");
    crate::cleanup::build_ended(child.id());
    let status = status?;
    // The reader ends once every process holding the pipe has exited.
    let _ = reader.join();
    while let Ok(line) = received.try_recv() {
        file.write(&line);
        log.push(&line);
    }
    file.end();
    let log = log.text();
    if stopped {
        return Ok((log, true));
    }
    if timed_out {
        return Err(BuildFailure::timed_out(what, command_line, &log, &log_path, limit).into());
    }
    if !status.success() {
        return Err(BuildFailure::from_log(what, command_line, &log, &log_path, dockerfile).into());
    }
    Ok((log, false))
}

/// The longest line of a build's output kept: a script that prints megabytes without
/// a line break (`cat /dev/zero`) is cut, not held.
const LINE_LIMIT: usize = 64 << 10;

/// The next line of `output` without its line break, at most LINE_LIMIT bytes of it (the
/// rest of a longer line is read and dropped); None at its end.
pub fn bounded_line(output: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    let mut any = false;
    loop {
        let available = match output.fill_buf() {
            Ok(available) => available,
            Err(_) => return None,
        };
        if available.is_empty() {
            return any.then(|| String::from_utf8_lossy(&line).into_owned());
        }
        any = true;
        let (taken, ended) = match available.iter().position(|byte| *byte == b'\n') {
            Some(at) => (at, true),
            None => (available.len(), false),
        };
        let room = LINE_LIMIT.saturating_sub(line.len());
        line.extend_from_slice(&available[..taken.min(room)]);
        output.consume(if ended { taken + 1 } else { taken });
        if ended {
            return Some(String::from_utf8_lossy(&line).into_owned());
        }
    }
}

/// SIGINT to the build's process group (the docker client cancels the build, as on
/// Ctrl-C), then SIGKILL if it is still there after ten seconds.
fn stop_group(child: &mut std::process::Child) {
    use rustix::process::{Pid, Signal, kill_process_group};
    let Some(group) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) else {
        return;
    };
    let _ = kill_process_group(group, Signal::INT);
    let asked = Instant::now();
    while asked.elapsed() < Duration::from_secs(10) {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = kill_process_group(group, Signal::KILL);
}

/// A build log's file, written up to LOG_FILE_LIMIT: past it, the lines are counted, and
/// the file ends saying how many were left out.
struct LogFile {
    file: Option<std::fs::File>,
    written: u64,
    left_out: u64,
}

impl LogFile {
    fn new(file: Option<std::fs::File>) -> LogFile {
        LogFile {
            file,
            written: 0,
            left_out: 0,
        }
    }

    fn write(&mut self, line: &str) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let bytes = line.len() as u64 + 1;
        if self.left_out > 0 || self.written + bytes > LOG_FILE_LIMIT {
            self.left_out += 1;
            return;
        }
        self.written += bytes;
        let _ = writeln!(file, "{line}");
    }

    fn end(&mut self) {
        if let Some(file) = self.file.as_mut()
            && self.left_out > 0
        {
            let _ = writeln!(
                file,
                "… {} more lines left out: the log passed this file's {} MiB (the report kept \
                 its end)",
                self.left_out,
                LOG_FILE_LIMIT >> 20
            );
        }
    }
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
    let uid = rustix::process::getuid().as_raw();
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
