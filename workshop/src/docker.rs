//! Docker, as the harness uses it: the `docker` command line (what a learner types,
//! checked once per test binary: daemon reachable, BuildKit available), and Docker's
//! typed API (the client testcontainers brings) for what the harness reads back.

use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use testcontainers::bollard;

use crate::error::Harness;
use crate::error::{Error, Result, harness};

/// The image the harness runs its helpers in (reading a container's /proc, the Docker
/// VM's free space): a workshop base image, so no registry is needed.
pub const HELPER_IMAGE: &str = "debian:trixie-slim";

/// The label on every container a run creates (`docker create`, the checks' containers):
/// its value is the run's process id, so that what a run that died left behind can be
/// found (`cleanup::leftovers`).
pub const RUN_LABEL: &str = "org.ping-workshop.run";

/// This run's value of RUN_LABEL.
pub fn run_id() -> String {
    std::process::id().to_string()
}

/// The open-files limit this engine gives a container that asks for none, soft and
/// hard (`ulimit -Sn`, `ulimit -Hn` in a container of HELPER_IMAGE): the engine's own
/// (Docker Engine 25+ and containerd 2 under systemd: 1,024 and 524,288). Asked once.
pub fn container_open_files() -> Result<(u64, u64)> {
    static ASKED: std::sync::OnceLock<Result<(u64, u64)>> = std::sync::OnceLock::new();
    ASKED
        .get_or_init(|| {
            let said = ok(&[
                "run",
                "--rm",
                "--network",
                "none",
                HELPER_IMAGE,
                "sh",
                "-c",
                "ulimit -Sn; ulimit -Hn",
            ])?;
            let number = |word: &str| match word {
                "unlimited" => Some(u64::MAX),
                word => word.parse().ok(),
            };
            let mut words = said.split_whitespace().map(number);
            match (words.next().flatten(), words.next().flatten()) {
                (Some(soft), Some(hard)) => Ok((soft, hard)),
                _ => Err(Error::Harness(format!(
                    "a container of {HELPER_IMAGE} said its open-files limit is {said:?}"
                ))),
            }
        })
        .clone()
}

/// `docker ARGS...` with BuildKit on; a non-zero exit is returned to the caller.
/// An error only when `docker` cannot be started at all.
pub fn run(args: &[&str]) -> Output {
    command(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| Output {
            status: std::os::unix::process::ExitStatusExt::from_raw(127 << 8),
            stdout: Vec::new(),
            stderr: format!("cannot run `docker`: {error}").into_bytes(),
        })
}

/// `docker ARGS...` that must succeed; its standard output, trimmed.
pub fn ok(args: &[&str]) -> Result<String> {
    let output = run(args);
    if !output.status.success() {
        return harness(format!(
            "`docker {}` failed ({}):\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Runs `command` and hands its standard output to `read` as it streams (an image
/// export, a `docker save`), then reads the rest, so the command never fails writing
/// into a closed pipe (a tar archive ends before its padding does). What `read`
/// returned, or why the command failed (`what` names it in the message).
pub fn read_output<T>(
    what: &str,
    mut command: Command,
    read: impl FnOnce(&mut dyn std::io::Read) -> std::io::Result<T>,
) -> Result<T> {
    let failed = |why: String| Error::Harness(format!("`{what}` failed: {why}"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| failed(error.to_string()))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| failed("no output".into()))?;
    let value = read(&mut stdout).map_err(|error| failed(error.to_string()));
    let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    drop(stdout);
    let output = child
        .wait_with_output()
        .map_err(|error| failed(error.to_string()))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(failed(format!("{} {said}", output.status)));
    }
    value
}

/// What Docker knows about an image, typed (`docker image inspect` prints the API's JSON).
pub fn inspect_image(reference: &str) -> Result<bollard::models::ImageInspect> {
    let json = ok(&["image", "inspect", reference])?;
    let mut all: Vec<bollard::models::ImageInspect> =
        serde_json::from_str(&json).harness_with(|| format!("docker image inspect {reference}"))?;
    all.pop()
        .ok_or_else(|| Error::Harness(format!("docker image inspect {reference}: no image")))
}

/// Where a container's published ports are reached from here: the engine's host for
/// an engine over TCP, else this machine's loopback. Never a bridge address: the checks
/// send their traffic to this machine only (testcontainers would pick the bridge's
/// gateway wherever a `/.dockerenv` file exists).
pub fn published_host() -> String {
    Some(endpoint())
        .and_then(|host| {
            let rest = host
                .strip_prefix("tcp://")
                .or_else(|| host.strip_prefix("http://"))
                .or_else(|| host.strip_prefix("https://"))?;
            let authority = rest.split('/').next()?;
            let name = match authority.rsplit_once(':') {
                Some((name, port)) if port.parse::<u16>().is_ok() => name,
                _ => authority,
            };
            Some(name.to_string())
        })
        .unwrap_or_else(|| "127.0.0.1".into())
}

/// The standard socket, where Docker Engine on Linux listens.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The one Docker endpoint every door uses (the CLI, the typed API, testcontainers),
/// resolved once: `DOCKER_HOST`, else the current context's (`docker context`, as Docker
/// Desktop sets it), else the standard socket.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(host) = std::env::var("DOCKER_HOST")
            && !host.is_empty()
        {
            return host;
        }
        let context = Command::new("docker")
            .args([
                "context",
                "inspect",
                "--format",
                "{{.Endpoints.docker.Host}}",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        context
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.into())
    })
}

/// testcontainers finds Docker by `DOCKER_HOST` or the standard socket only: when the
/// current context points elsewhere, it must be told (the workshop tool tells it).
pub fn testcontainers_reaches_the_endpoint() -> Result<()> {
    let host = endpoint();
    if host == DEFAULT_HOST || std::env::var("DOCKER_HOST").is_ok_and(|set| set == host) {
        return Ok(());
    }
    harness(format!(
        "the current docker context uses {host}, which the tests' container library does not \
         read: export DOCKER_HOST={host} (e.g. `export DOCKER_HOST=$(docker context inspect \
         --format '{{{{.Endpoints.docker.Host}}}}')`) and rerun"
    ))
}

/// Docker's API, for the async code that reads containers back (state, health, processes).
pub fn api() -> Result<bollard::Docker> {
    bollard::Docker::connect_with_host(endpoint())
        .harness_with(|| format!("cannot reach Docker's API at {}", endpoint()))
}

/// `docker ARGS...` at the endpoint, with BuildKit on.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new("docker");
    command.args(args);
    with_buildkit(&mut command);
    command
}

/// The endpoint, and BuildKit on with plain progress: the build log is what a learner
/// sees in CI and what the harness reads to name the failing instruction and the cached
/// steps. (A bash script run so, `build.sh` of step 03, reaches the same engine.)
pub fn with_buildkit(command: &mut Command) {
    command
        .env("DOCKER_HOST", endpoint())
        .env("DOCKER_BUILDKIT", "1")
        .env("BUILDKIT_PROGRESS", "plain");
}

/// Whether Docker answers and `docker build` uses BuildKit, asked once per process;
/// what to do when either is missing.
pub fn ready() -> Result<()> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            let versions = reachable(None)?;
            check_buildkit(&versions.client)?;
            testcontainers_reaches_the_endpoint().map_err(|error| error.to_string())
        })
        .clone()
        .map_err(Error::Harness)
}

/// What `docker version` reports, and where the engine was reached.
pub struct Versions {
    pub client: String,
    pub engine: String,
    pub host: String,
}

/// Whether the engine at `host` (default: DOCKER_HOST, else the standard socket)
/// answers; what to do when it does not.
pub fn reachable(host: Option<&str>) -> Result<Versions, String> {
    let host = host.unwrap_or_else(|| endpoint()).to_string();
    let mut command = Command::new("docker");
    command
        .args([
            "version",
            "--format",
            "{{.Client.Version}} {{.Server.Version}}",
        ])
        .env("DOCKER_HOST", &host);
    let version = command.stdin(Stdio::null()).output().map_err(|error| {
        format!(
            "Cannot run the `docker` command ({error}). Install Docker \
                 (https://docs.docker.com/engine/install/) and rerun."
        )
    })?;
    let text = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let mut parts = text.split_whitespace();
    let (client, engine) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.status.success() || engine.is_empty() {
        return Err(format!(
            "Docker is not reachable at {host}. Start Docker (e.g. 'sudo systemctl start docker', \
             'sudo dockerd &', or open Docker Desktop) and rerun.\n  docker said: {}",
            String::from_utf8_lossy(&version.stderr).trim()
        ));
    }
    Ok(Versions {
        client: client.to_string(),
        engine: engine.to_string(),
        host,
    })
}

/// Whether `docker build` with this client (`client` is its version) uses BuildKit:
/// how, or what to do.
pub fn check_buildkit(client: &str) -> Result<String, String> {
    // Docker CLIs from 23.0 on build with the buildx plugin; without it, with
    // DOCKER_BUILDKIT=1, they stop ("BuildKit is enabled but the buildx component is
    // missing or broken"). Older CLIs have BuildKit built in and use it when asked.
    let has_buildx = Command::new("docker")
        .args(["buildx", "version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let major: u32 = client
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if !has_buildx && major >= 23 {
        let path = which("docker").map_or("docker".into(), |path| path.display().to_string());
        return Err(format!(
            "`docker` ({path}, client {client}) cannot build with BuildKit: its buildx plugin is \
             missing, so `docker build` stops (\"BuildKit is enabled but the buildx component is \
             missing or broken\"). Install the buildx plugin (Debian and Ubuntu: package \
             docker-buildx or docker-buildx-plugin; elsewhere a docker-buildx binary in \
             ~/.docker/cli-plugins/) and check with `docker buildx version`, then rerun."
        ));
    }
    Ok(if has_buildx {
        format!("client {client} builds with the buildx plugin")
    } else {
        format!("client {client} has BuildKit built in (the workshop sets DOCKER_BUILDKIT=1)")
    })
}

/// Where `program` is on PATH, if anywhere.
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// The image ID behind a tag, or None if the tag does not exist.
pub fn image_id(reference: &str) -> Option<String> {
    inspect_image(reference).ok()?.id
}

/// Removes an image that a rebuild left without a tag, so test runs do not pile up
/// dangling images. An image still in use or still tagged is left alone.
pub fn remove_if_dangling(id: &str) {
    let untagged =
        inspect_image(id).is_ok_and(|image| image.repo_tags.unwrap_or_default().is_empty());
    if untagged {
        let _ = run(&["image", "rm", id]);
    }
}

/// The most `CreatedContainer::copy_out` reads of one path.
pub const COPY_OUT_LIMIT: u64 = 256 << 20;

/// A container created (never started) from an image, removed on drop.
pub struct CreatedContainer(pub String);

impl CreatedContainer {
    pub fn create(image: &str) -> Result<Self> {
        // The command is never run; scratch images without CMD still need one to be created.
        let label = format!("{RUN_LABEL}={}", run_id());
        ok(&["create", "--label", &label, image, "/not-started"]).map(Self)
    }

    /// A container of `platform`'s image of a multi-platform `image` (`linux/arm64`).
    pub fn create_for(image: &str, platform: &str) -> Result<Self> {
        let label = format!("{RUN_LABEL}={}", run_id());
        ok(&[
            "create",
            "--label",
            &label,
            "--platform",
            platform,
            image,
            "/not-started",
        ])
        .map(Self)
    }

    /// The bytes of the file `path` in the container (`docker cp … -`): at most
    /// COPY_OUT_LIMIT of them (a service binary is a few megabytes; a path that names a
    /// folder of gigabytes is not read whole into memory).
    pub fn copy_out(&self, path: &str) -> Result<Vec<u8>> {
        self.copy_out_as(path, false)
    }

    /// The bytes of the file `path` names, a symbolic link followed (`docker cp -L`).
    pub fn copy_out_followed(&self, path: &str) -> Result<Vec<u8>> {
        self.copy_out_as(path, true)
    }

    fn copy_out_as(&self, path: &str, follow: bool) -> Result<Vec<u8>> {
        use std::io::Read as _;
        let failed =
            |why: String| Error::Harness(format!("cannot copy {path} out of a container: {why}"));
        let from = format!("{}:{path}", self.0);
        let args: &[&str] = if follow {
            &["cp", "-L", &from, "-"]
        } else {
            &["cp", &from, "-"]
        };
        let mut child = command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| failed(error.to_string()))?;
        let mut archived = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            stdout
                .take(COPY_OUT_LIMIT + 1)
                .read_to_end(&mut archived)
                .map_err(|error| failed(error.to_string()))?;
        }
        if archived.len() as u64 > COPY_OUT_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Found {
                found: format!(
                    "{path} in the image is larger than {} MB: no service binary is",
                    COPY_OUT_LIMIT / 1_000_000
                ),
                hint: "does the ENTRYPOINT name the service binary itself?".into(),
            });
        }
        let output = child
            .wait_with_output()
            .map_err(|error| failed(error.to_string()))?;
        if !output.status.success() {
            return Err(failed(String::from_utf8_lossy(&output.stderr).to_string()));
        }
        let mut archive = tar::Archive::new(archived.as_slice());
        let mut entry = archive
            .entries()
            .map_err(|error| failed(error.to_string()))?
            .next()
            .ok_or_else(|| failed("docker cp sent no file".into()))?
            .map_err(|error| failed(error.to_string()))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes)
            .map_err(|error| failed(error.to_string()))?;
        Ok(bytes)
    }
}

impl Drop for CreatedContainer {
    fn drop(&mut self) {
        let _ = run(&["rm", "--force", &self.0]);
    }
}

/// Runs `command`; its stdout when it succeeds within `limit`, else what it printed.
/// Its output is read as it comes (a command that prints more than a pipe holds, such
/// as cosign's attestations, would otherwise wait for a reader forever).
pub fn run_within(mut command: Command, limit: Duration) -> Result<String, String> {
    use std::io::Read;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run {:?}: {error}", command.get_program()))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {} s", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(error) => return Err(error.to_string()),
        }
    };
    let stdout = String::from_utf8_lossy(&stdout.join().unwrap_or_default())
        .trim()
        .to_string();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).to_string();
    if status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}\n{}", stderr.trim()))
    }
}
