//! Running a container of a step's image, the one way the harness does it (tests,
//! checks and `measure`): started by testcontainers on a random host port, read back
//! through Docker's typed API, removed when the value is dropped (also when a test
//! panics).
//!
//! Here: the request and the start; what is read back of a running container, what it
//! printed and how it is paused and stopped are in `running/`; the hardening flags are in
//! hardening.rs.

mod inspect;
mod output;
mod stop;

use std::time::{Duration, Instant};

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, Image as _, ImageExt};

use crate::docker;
use crate::error::Harness;
use crate::error::{Error, Result, found};
use crate::hardening::Hardening;
use output::{Keep, Stream, logs, output};

pub use inspect::{CpuTime, Memory, Socket};
pub use stop::{InFlightStop, STOPPING, Stopped};

/// The port the service listens on inside the container.
pub const PORT: u16 = 8080;
/// The soft open-files limit of a container on Docker Engine 25+ and containerd 2 under
/// systemd (moby#45534, containerd#8924): every container the harness starts gets it.
pub const OPEN_FILES_SOFT: u64 = 1024;
/// How long a container may take from start to its first PONG.
const READY_WITHIN: Duration = Duration::from_secs(30);

pub struct Running {
    pub container: ContainerAsync<GenericImage>,
    pub url: String,
    /// The host port Docker published the service's port on (loopback reaches it).
    pub port: u16,
    /// From the call that creates and starts the container to its first PONG: what a
    /// user waits for after `docker run`.
    pub answered_after: Duration,
    client: reqwest::Client,
}

/// A request for a container of `tag` ("name:tag"), publishing port 8080.
pub fn request(tag: &str) -> ContainerRequest<GenericImage> {
    let (name, version) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
    GenericImage::new(name, version)
        .with_exposed_port(PORT.tcp())
        .with_wait_for(WaitFor::Nothing)
        .into()
}

impl Running {
    /// Starts the container and waits until `GET /ping` answers, or says why it
    /// cannot: Docker refused to start it, it exited, it listens on another port,
    /// or it stayed silent for 30 s. Never waits longer than that.
    ///
    /// It runs with the open-files limit a container gets on the hosts learners deploy
    /// to: 1,024 soft (Docker Engine 25+, containerd 2), the hard limit as high as this
    /// engine gives one.
    pub async fn try_start(request: ContainerRequest<GenericImage>) -> Result<Running> {
        let (_, hard) = tokio::task::spawn_blocking(docker::container_open_files)
            .await
            .harness("asking the engine for a container's open-files limit")??;
        Running::try_start_with_open_files(request, OPEN_FILES_SOFT.min(hard), hard).await
    }

    /// `try_start`, with the open-files limit `soft`:`hard` (`--ulimit nofile=…`).
    pub async fn try_start_with_open_files(
        request: ContainerRequest<GenericImage>,
        soft: u64,
        hard: u64,
    ) -> Result<Running> {
        let as_docker = |limit: u64| i64::try_from(limit).unwrap_or(i64::MAX);
        let request = request.with_ulimit("nofile", as_docker(soft), Some(as_docker(hard)));
        let tag = format!("{}:{}", request.image().name(), request.image().tag());
        let host_network = request.network().as_deref() == Some("host");
        // Docker can create a container and then fail to start it (`USER nobody` in
        // scratch): testcontainers then returns an error and no handle to drop. The label
        // finds that container, so nothing a check creates outlives it.
        let mark = start_mark();
        let request = request
            .with_label(START_LABEL, &mark)
            .with_label(docker::RUN_LABEL, docker::run_id());
        let started = Instant::now();
        let container = match request.start().await {
            Ok(container) => container,
            Err(error) => {
                remove_marked(&mark);
                let error = error.to_string();
                let hint = if error.contains("unable to find user") {
                    "Docker looks a user name up in the image's /etc/passwd, and this image has \
                     none (scratch): give USER as numbers, uid:gid, e.g. USER 65532:65532"
                } else if error.contains("no such file or directory") {
                    "Docker cannot execute the image's ENTRYPOINT/CMD: is the path right, and is \
                     that file in the image?"
                } else {
                    "read Docker's error: the container was created but could not start"
                };
                return found(format!("Docker could not start {tag}: {error}"), hint);
            }
        };
        let host = docker::published_host();
        let port = match container.get_host_port_ipv4(PORT).await {
            // The service listens on the host's own port: nothing is published.
            _ if host_network => PORT,
            Ok(port) => port,
            Err(_) if !container.is_running().await.unwrap_or(false) => {
                return Err(exited(&container, &tag).await);
            }
            Err(error) => {
                return found(
                    format!("{tag} publishes no port {PORT}: {error}"),
                    format!("the container exited at once, or the image does not EXPOSE {PORT}"),
                );
            }
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            // No idle connection kept open: what a check reads of the service's sockets
            // is then its own connection, and a stop finds no idle client.
            .pool_max_idle_per_host(0)
            .build()
            .harness("an HTTP client")?;
        let mut running = Running {
            container,
            url: format!("http://{host}:{port}"),
            port,
            answered_after: Duration::ZERO,
            client,
        };
        running.wait_until_ready(&tag).await?;
        running.answered_after = started.elapsed();
        Ok(running)
    }

    async fn wait_until_ready(&self, tag: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            if self
                .get("/ping")
                .await
                .is_ok_and(|answer| answer == (200, "PONG".into()))
            {
                return Ok(());
            }
            if !self.container.is_running().await.unwrap_or(false) {
                return Err(exited(&self.container, tag).await);
            }
            if let Some(port) = self.announced_port().await.filter(|port| *port != PORT) {
                return found(
                    format!(
                        "the service says it listens on port {port}, but the workshop reaches it on port {PORT}"
                    ),
                    "which port does the service read from its environment? Look for an ENV or \
                     EXPOSE line naming another port",
                );
            }
            if started.elapsed() > READY_WITHIN {
                return found(
                    format!(
                        "the container of {tag} did not answer GET /ping on port {PORT} within {READY_WITHIN:?}\n{}",
                        self.logs().await
                    ),
                    format!(
                        "does the service listen on 0.0.0.0:{PORT}, and is it the service at all?"
                    ),
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The port the service printed it listens on (`ping: listening on
    /// http://0.0.0.0:8080, at most 2048 connections`).
    async fn announced_port(&self) -> Option<u16> {
        output(self.id(), Stream::Stdout, Keep::Head)
            .await
            .ok()?
            .lines()
            .find_map(|line| line.split_once("listening on http://"))
            // `0.0.0.0:8080, at most 2048 connections`
            .and_then(|(_, rest)| rest.split([',', ' ']).next()?.rsplit_once(':'))
            .and_then(|(_, port)| port.parse().ok())
    }

    /// `GET path`: the status code and the body.
    pub async fn get(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// The container's stdout and stderr, for failure messages.
    pub async fn logs(&self) -> String {
        logs(self.id()).await
    }
}

impl Running {
    pub fn id(&self) -> &str {
        self.container.id()
    }
}

/// The label every container a check starts carries, with a value unique to that start.
pub const START_LABEL: &str = "org.ping-workshop.start";

fn start_mark() -> String {
    static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Removes the containers of one start that failed (created, never started).
fn remove_marked(mark: &str) {
    let listed = docker::run(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("label={START_LABEL}={mark}"),
    ]);
    for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
        let _ = docker::run(&["rm", "--force", id]);
    }
}

/// The container stopped before it answered: its exit code, its output, and a hint.
async fn exited(container: &ContainerAsync<GenericImage>, tag: &str) -> Error {
    let exit_code = container.exit_code().await.ok().flatten();
    let logs = logs(container.id()).await;
    let hint = if let Some(needed) = glibc_needed(&logs) {
        let has = image_glibc(tag).map_or("an older glibc".to_string(), |version| {
            format!("glibc {version}")
        });
        return Error::Found {
            found: format!(
                "the container of {tag} exited before answering GET /ping: the binary needs \
                 glibc {needed} or newer (GLIBC_{needed}), the image has {has}\n{logs}"
            ),
            hint: "the binary was linked against the build stage's glibc: run it on a base as \
                   new as that (the same Debian release in both stages), link it statically \
                   (musl, step 06), or build it against the oldest glibc it must run on"
                .into(),
        };
    } else if logs.contains("no such file or directory") {
        "the kernel could not execute the binary: is it in the image, at that path, and can it \
         run there (a dynamically linked binary needs its loader and libc)?"
    } else if exit_code == Some(0) {
        "the program ended at once without serving: is the binary in the image the service, or \
         a placeholder built for the dependency layer?"
    } else {
        "the container's own output above says why it stopped"
    };
    Error::Found {
        found: format!(
            "the container of {tag} exited (code {}) before answering GET /ping\n{logs}",
            exit_code.map_or("unknown".into(), |code| code.to_string())
        ),
        hint: hint.into(),
    }
}

/// The request on the host's network: the service listens on the host's port 8080
/// itself, without Docker's port proxy in between (a load test on loopback).
pub fn on_host_network(request: ContainerRequest<GenericImage>) -> ContainerRequest<GenericImage> {
    request.with_network("host")
}

/// The request with the container held to these CPUs (`--cpuset-cpus`), so that a load
/// generator pinned to another CPU does not compete with it.
pub fn pinned(
    request: ContainerRequest<GenericImage>,
    cpus: &str,
) -> ContainerRequest<GenericImage> {
    let cpus = cpus.to_string();
    request.with_host_config_modifier(move |host_config| {
        host_config.cpuset_cpus = Some(cpus.clone());
    })
}

/// The request with HARDENED_FLAGS applied.
pub fn hardened(request: ContainerRequest<GenericImage>) -> ContainerRequest<GenericImage> {
    hardened_as(request, Hardening::production())
}

/// The request with `hardening` applied: HARDENED_FLAGS with one limit changed, say.
pub fn hardened_as(
    request: ContainerRequest<GenericImage>,
    hardening: Hardening,
) -> ContainerRequest<GenericImage> {
    let mut request = request.with_readonly_rootfs(hardening.read_only);
    for capability in &hardening.cap_drop {
        request = request.with_cap_drop(capability);
    }
    for option in &hardening.security_opt {
        request = request.with_security_opt(option);
    }
    let (pids, memory) = (hardening.pids_limit, hardening.memory_bytes);
    request.with_host_config_modifier(move |host_config| {
        host_config.pids_limit = pids;
        host_config.memory = memory;
    })
}

/// The newest glibc version a dynamically linked binary asked for that the runtime's
/// glibc lacks, from the loader's ``version `GLIBC_2.34' not found (required by …)``
/// lines.
pub fn glibc_needed(output: &str) -> Option<String> {
    const MISSING: &str = "version `GLIBC_";
    let numbers = |version: &str| -> Vec<u32> {
        version
            .split('.')
            .filter_map(|part| part.parse().ok())
            .collect()
    };
    output
        .match_indices(MISSING)
        .filter_map(|(at, _)| {
            let rest = &output[at + MISSING.len()..];
            let version: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            (!version.is_empty() && rest[version.len()..].starts_with("' not found"))
                .then_some(version)
        })
        .max_by_key(|version| numbers(version))
}

/// The version of the glibc in an image (`2.31`), from its libc.so.6's banner ("… stable
/// release version 2.31."), when it has one where Debian and most distributions put it.
pub fn image_glibc(tag: &str) -> Option<String> {
    let container = docker::CreatedContainer::create(tag).ok()?;
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
        "/lib/libc.so.6",
    ]
    .iter()
    .find_map(|path| container.copy_out_followed(path).ok())?;
    glibc_release(&libc)
}

/// The version in a libc's banner: the digits and dots after "release version ".
pub fn glibc_release(libc: &[u8]) -> Option<String> {
    let marker = b"release version ";
    let at = libc
        .windows(marker.len())
        .position(|window| window == marker)?;
    let version: String = libc[at + marker.len()..]
        .iter()
        .take_while(|byte| byte.is_ascii_digit() || **byte == b'.')
        .map(|byte| char::from(*byte))
        .collect();
    let version = version.trim_end_matches('.').to_string();
    (!version.is_empty()).then_some(version)
}
