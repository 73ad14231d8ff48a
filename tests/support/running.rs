//! Running a container of a step's image, the one way the harness does it (tests,
//! checks and `measure`): started by testcontainers on a random host port, read back
//! through Docker's typed API, removed when the value is dropped (also when a test
//! panics).

use std::time::{Duration, Instant};

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, Image as _, ImageExt};

use super::docker;
use super::error::{Error, Must, Result, found};

/// The port the service listens on inside the container.
pub const PORT: u16 = 8080;
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
    pub async fn try_start(request: ContainerRequest<GenericImage>) -> Result<Running> {
        let tag = format!("{}:{}", request.image().name(), request.image().tag());
        let host_network = request.network().as_deref() == Some("host");
        // Docker can create a container and then fail to start it (`USER nobody` in
        // scratch): testcontainers then returns an error and no handle to drop. The label
        // finds that container, so nothing a check creates outlives it.
        let mark = start_mark();
        let request = request.with_label(START_LABEL, &mark);
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
            .map_err(|error| Error::Harness(format!("an HTTP client: {error}")))?;
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
            if let Some(port) = self.announced_port().filter(|port| *port != PORT) {
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

    /// The port the service printed it listens on (`ping: listening on http://0.0.0.0:8080`).
    fn announced_port(&self) -> Option<u16> {
        let logs = docker::run(&["logs", self.id()]);
        String::from_utf8_lossy(&logs.stdout)
            .lines()
            .find_map(|line| line.split_once("listening on http://"))
            .and_then(|(_, address)| address.trim().rsplit_once(':'))
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
        logs(&self.container).await
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

async fn logs(container: &ContainerAsync<GenericImage>) -> String {
    let stdout = container.stdout_to_vec().await.unwrap_or_default();
    let stderr = container.stderr_to_vec().await.unwrap_or_default();
    let mut shown = String::new();
    for (name, bytes) in [("stdout", stdout), ("stderr", stderr)] {
        let text = String::from_utf8_lossy(&bytes);
        if !text.trim().is_empty() {
            shown.push_str(&format!("--- container {name} ---\n{}\n", text.trim_end()));
        }
    }
    if shown.is_empty() {
        "(the container printed nothing)".into()
    } else {
        shown.trim_end().to_string()
    }
}

/// The container stopped before it answered: its exit code, its output, and a hint.
async fn exited(container: &ContainerAsync<GenericImage>, tag: &str) -> Error {
    let exit_code = container.exit_code().await.ok().flatten();
    let logs = logs(container).await;
    let hint = if logs.contains("no such file or directory") {
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

/// How production should run the final image: read-only root file system, no
/// capabilities, no privilege escalation, few processes, little memory. The book
/// shows these flags; `hardened` applies the same ones to a test container.
pub const HARDENED_FLAGS: &[&str] = &[
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--pids-limit",
    "64",
    "--memory",
    "64m",
];

/// HARDENED_FLAGS, read: what `hardened` applies to a test container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hardening {
    pub read_only: bool,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub pids_limit: Option<i64>,
    pub memory_bytes: Option<i64>,
}

impl Hardening {
    /// Reads `docker run` flags; an error names a flag it cannot apply.
    pub fn of(flags: &[&str]) -> Result<Hardening> {
        let mut hardening = Hardening::default();
        let mut flags = flags.iter();
        while let Some(&flag) = flags.next() {
            let mut value = || {
                flags
                    .next()
                    .copied()
                    .ok_or_else(|| Error::Harness(format!("{flag} needs a value")))
            };
            match flag {
                "--read-only" => hardening.read_only = true,
                "--cap-drop" => hardening.cap_drop.push(value()?.to_string()),
                "--security-opt" => hardening.security_opt.push(value()?.to_string()),
                "--pids-limit" => {
                    let count = value()?;
                    hardening.pids_limit = Some(count.parse().map_err(|_| {
                        Error::Harness(format!("--pids-limit {count}: not a number"))
                    })?);
                }
                "--memory" => {
                    let size = value()?;
                    let megabytes: i64 = size
                        .strip_suffix('m')
                        .and_then(|megabytes| megabytes.parse().ok())
                        .ok_or_else(|| {
                            Error::Harness(format!("--memory {size}: write it in megabytes, 64m"))
                        })?;
                    hardening.memory_bytes = Some(megabytes * 1024 * 1024);
                }
                other => {
                    return Err(Error::Harness(format!(
                        "HARDENED_FLAGS: {other} is not applied to test containers: teach `Hardening` it"
                    )));
                }
            }
        }
        Ok(hardening)
    }
}

impl Hardening {
    /// HARDENED_FLAGS, read (tests/layout.rs proves `Hardening` reads every one of them).
    pub fn production() -> Hardening {
        Hardening::of(HARDENED_FLAGS).must()
    }

    /// What Docker recorded for a container (`docker inspect`'s HostConfig), in the same
    /// terms: it must equal what the flags asked for.
    pub fn recorded(host_config: &testcontainers::bollard::models::HostConfig) -> Hardening {
        Hardening {
            read_only: host_config.readonly_rootfs.unwrap_or(false),
            cap_drop: host_config.cap_drop.clone().unwrap_or_default(),
            security_opt: host_config.security_opt.clone().unwrap_or_default(),
            pids_limit: host_config.pids_limit.filter(|&pids| pids > 0),
            memory_bytes: host_config.memory.filter(|&bytes| bytes > 0),
        }
    }
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

/// CPU time a container has used, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct CpuTime {
    pub user_ns: u64,
    pub kernel_ns: u64,
}

/// The lines of a process's `/proc/PID/status` that say what it may do, and as whom.
#[derive(Debug, PartialEq)]
pub struct KernelStatus {
    pub threads: u64,
    /// 1: no execve can gain privileges (setuid bits and file capabilities are ignored).
    pub no_new_privs: u8,
    /// The capability sets, hexadecimal masks (all zeros is none): in effect, permitted,
    /// the bounding set (what any execve may ever get back: all zeros only after
    /// `--cap-drop ALL`, whatever the uid) and the ambient set.
    pub cap_eff: String,
    pub cap_prm: String,
    pub cap_bnd: String,
    pub cap_amb: String,
    /// 0 off, 1 strict, 2 a seccomp filter (Docker's default profile).
    pub seccomp: u8,
    /// The real uid and gid, as the container sees them (not the host's ids, which
    /// differ under user-namespace remapping), and the supplementary groups.
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl KernelStatus {
    pub fn parse(status: &str) -> Result<KernelStatus> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
                .ok_or_else(|| Error::Harness(format!("/proc/1/status has no {name}:\n{status}")))
        };
        let numbers = |name: &str| -> Result<Vec<u64>> {
            let value = field(name)?;
            value
                .split_whitespace()
                .map(|number| {
                    number
                        .parse()
                        .map_err(|_| Error::Harness(format!("/proc/1/status: {name} is {value:?}")))
                })
                .collect()
        };
        let number = |name: &str| -> Result<u64> {
            numbers(name)?
                .first()
                .copied()
                .ok_or_else(|| Error::Harness(format!("/proc/1/status: {name} is empty")))
        };
        let mask = |name: &str| field(name).map(str::to_string);
        Ok(KernelStatus {
            threads: number("Threads")?,
            no_new_privs: number("NoNewPrivs")? as u8,
            cap_eff: mask("CapEff")?,
            cap_prm: mask("CapPrm")?,
            cap_bnd: mask("CapBnd")?,
            cap_amb: mask("CapAmb")?,
            seccomp: number("Seccomp")? as u8,
            uid: number("Uid")? as u32,
            gid: number("Gid")? as u32,
            groups: numbers("Groups")?.into_iter().map(|id| id as u32).collect(),
        })
    }

    /// No capability in any set: none in effect, none permitted, none that any program
    /// it starts could get back.
    pub fn no_capabilities(&self) -> bool {
        [&self.cap_eff, &self.cap_prm, &self.cap_bnd, &self.cap_amb]
            .iter()
            .all(|mask| mask.chars().all(|digit| digit == '0'))
    }
}

/// A TCP socket of the service, from `/proc/net/tcp`.
#[derive(Debug, PartialEq)]
pub struct Socket {
    /// The listening socket (its queue: connections not accepted yet), or a connection
    /// (its queue: bytes received and not read yet).
    pub listening: bool,
    pub unread: u64,
}

impl Socket {
    /// The listening socket and the established connections on local `port`.
    pub fn parse(tables: &str, port: u16) -> Vec<Socket> {
        let port = format!(":{port:04X}");
        tables
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let (local, state, queues) = (fields.get(1)?, fields.get(3)?, fields.get(4)?);
                let listening = match *state {
                    "0A" => true,
                    "01" => false,
                    _ => return None,
                };
                let unread = u64::from_str_radix(queues.split_once(':')?.1, 16).ok()?;
                local
                    .ends_with(&port)
                    .then_some(Socket { listening, unread })
            })
            .collect()
    }
}

/// What `docker stop` did: how long it took and how the container exited.
#[derive(Debug)]
pub struct Stopped {
    pub took: Duration,
    pub exit_code: i64,
}

/// What an idle container holds in memory.
#[derive(Debug)]
pub struct Memory {
    /// The service process's resident set, in kB.
    pub rss_kb: Option<u64>,
    /// What the container's cgroup charges, in kB.
    pub cgroup_kb: Option<u64>,
}

impl Running {
    pub fn id(&self) -> &str {
        self.container.id()
    }

    /// The container's processes, as `docker top` lists them with these `ps` columns.
    async fn processes(&self, columns: &str) -> Result<Vec<Vec<String>>> {
        use testcontainers::bollard::query_parameters::TopOptions;
        let options = TopOptions {
            ps_args: columns.to_string(),
        };
        let top = docker::api()?
            .top_processes(self.id(), Some(options))
            .await
            .map_err(|error| Error::Harness(format!("docker top {}: {error}", self.id())))?;
        Ok(top.processes.unwrap_or_default())
    }

    /// uid and gid of the container's main process, as the Docker host sees them.
    pub async fn process_uid_gid(&self) -> Result<(u32, u32)> {
        let processes = self.processes("-o pid,uid,gid").await?;
        let ids: Option<Vec<u32>> = processes.first().map(|row| {
            row.iter()
                .skip(1)
                .filter_map(|id| id.trim().parse().ok())
                .collect()
        });
        match ids.as_deref() {
            Some([uid, gid]) => Ok((*uid, *gid)),
            _ => Err(Error::Harness(format!(
                "`docker top` listed no uid and gid: {processes:?}"
            ))),
        }
    }

    /// How many threads the container's main process runs (`ps -o nlwp`).
    pub async fn threads(&self) -> Result<u64> {
        let processes = self.processes("-o pid,nlwp").await?;
        processes
            .first()
            .and_then(|row| row.get(1)?.trim().parse().ok())
            .ok_or_else(|| {
                Error::Harness(format!(
                    "`docker top` listed no thread count: {processes:?}"
                ))
            })
    }

    /// What Docker recorded of the hardening flags the container was started with.
    pub async fn recorded_hardening(&self) -> Result<Hardening> {
        let inspected = self.inspect().await?;
        Ok(Hardening::recorded(
            &inspected.host_config.unwrap_or_default(),
        ))
    }

    /// What the kernel applied to the service process (PID 1 in the container), from its
    /// `/proc/1/status`. Read from a container that shares the service's process namespace
    /// (`docker run --pid container:ID`): scratch has no `cat`, and on Docker Desktop the
    /// host's /proc is not the one the containers run in.
    pub async fn kernel_status(&self) -> Result<KernelStatus> {
        let status = self.read_inside("--pid", "/proc/1/status").await?;
        KernelStatus::parse(&status)
    }

    /// The service's TCP sockets on PORT, from the container's network namespace
    /// (`/proc/net/tcp` read by a helper that joins it).
    pub async fn sockets(&self) -> Result<Vec<Socket>> {
        let tables = self.read_inside("--network", "/proc/net/tcp").await?
            + &self.read_inside("--network", "/proc/net/tcp6").await?;
        Ok(Socket::parse(&tables, PORT))
    }

    /// Waits until the service has accepted every connection made to it and read every
    /// byte sent on them, with one connection at least open: an event, not a pause.
    pub async fn wait_until_everything_sent_is_read(&self, within: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            let sockets = self.sockets().await?;
            let open = sockets.iter().any(|socket| !socket.listening);
            if open && sockets.iter().all(|socket| socket.unread == 0) {
                return Ok(());
            }
            if started.elapsed() > within {
                return Err(Error::Harness(format!(
                    "after {within:?} the service has still not read what was sent: {sockets:?}"
                )));
            }
        }
    }

    /// `cat FILE` in a helper container sharing this one's `namespace` (`--pid`, `--network`).
    async fn read_inside(&self, namespace: &str, file: &str) -> Result<String> {
        let args: Vec<String> = [
            "run",
            "--rm",
            namespace,
            &format!("container:{}", self.id()),
            docker::HELPER_IMAGE,
            "cat",
            file,
        ]
        .map(String::from)
        .to_vec();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            docker::ok(&args)
        })
        .await
        .map_err(|error| Error::Harness(format!("reading {file}: {error}")))?
    }

    async fn inspect(&self) -> Result<testcontainers::bollard::models::ContainerInspectResponse> {
        docker::api()?
            .inspect_container(self.id(), None)
            .await
            .map_err(|error| Error::Harness(format!("docker inspect {}: {error}", self.id())))
    }

    /// The container's state, typed.
    pub async fn state(&self) -> Result<testcontainers::bollard::models::ContainerState> {
        Ok(self.inspect().await?.state.unwrap_or_default())
    }

    pub async fn try_wait_healthy(&self, within: Duration) -> Result<Duration> {
        use testcontainers::bollard::models::HealthStatusEnum;
        let started = Instant::now();
        loop {
            let health = self.state().await?.health;
            let status = health.as_ref().and_then(|health| health.status);
            match status {
                Some(HealthStatusEnum::HEALTHY) => return Ok(started.elapsed()),
                None | Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY) => {
                    return found(
                        "the container has no health check",
                        "add a HEALTHCHECK to the image",
                    );
                }
                Some(HealthStatusEnum::UNHEALTHY) => {
                    let log: Vec<String> = health
                        .and_then(|health| health.log)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|probe| {
                            format!(
                                "exit code {}: {}",
                                probe.exit_code.unwrap_or(-1),
                                probe.output.unwrap_or_default().trim()
                            )
                        })
                        .collect();
                    return found(
                        format!("the container became unhealthy: {}", log.join("; ")),
                        "run the HEALTHCHECK command by hand in a container: what does it print?",
                    );
                }
                Some(status) if started.elapsed() > within => {
                    return found(
                        format!("the container was still {status} after {within:?}"),
                        "how often does the HEALTHCHECK run, and how long is its start period?",
                    );
                }
                Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Idle memory: the service's resident set (`docker top`) and the cgroup's charge
    /// (`docker stats`).
    pub async fn memory(&self) -> Result<Memory> {
        use testcontainers::bollard::query_parameters::StatsOptions;
        let rss_kb = self
            .processes("-o pid,rss")
            .await?
            .first()
            .and_then(|row| row.get(1)?.trim().parse().ok());
        // One sample: memory needs no second one to compare with (CPU would).
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stats = docker::api()?.stats(self.id(), Some(options));
        let cgroup_kb = match futures::StreamExt::next(&mut stats).await {
            Some(Ok(stats)) => stats
                .memory_stats
                .and_then(|memory| memory_in_use(&memory))
                .map(|bytes| bytes / 1024),
            _ => None,
        };
        Ok(Memory { rss_kb, cgroup_kb })
    }

    /// The CPU time the container has used so far, in user space and in the kernel
    /// (`docker stats`, from its cgroup): what load rounds cost the server itself.
    pub async fn cpu_time(&self) -> Result<CpuTime> {
        use testcontainers::bollard::query_parameters::StatsOptions;
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stats = docker::api()?.stats(self.id(), Some(options));
        let usage = match futures::StreamExt::next(&mut stats).await {
            Some(Ok(stats)) => stats.cpu_stats.and_then(|cpu| cpu.cpu_usage),
            Some(Err(error)) => {
                return Err(Error::Harness(format!(
                    "docker stats {}: {error}",
                    self.id()
                )));
            }
            None => None,
        };
        match usage.map(|usage| (usage.usage_in_usermode, usage.usage_in_kernelmode)) {
            Some((Some(user_ns), Some(kernel_ns))) => Ok(CpuTime { user_ns, kernel_ns }),
            _ => Err(Error::Harness(format!(
                "docker stats {} gave no user and kernel CPU time",
                self.id()
            ))),
        }
    }

    /// `docker pause`: the service's processes are frozen, the kernel still completes
    /// connections to it and queues them, up to its listen backlog.
    pub async fn pause(&self) -> Result<()> {
        docker::api()?
            .pause_container(self.id())
            .await
            .map_err(|error| Error::Harness(format!("docker pause {}: {error}", self.id())))
    }

    /// `docker unpause`.
    pub async fn unpause(&self) -> Result<()> {
        docker::api()?
            .unpause_container(self.id())
            .await
            .map_err(|error| Error::Harness(format!("docker unpause {}: {error}", self.id())))
    }

    /// `docker stop`, timed, with the exit code.
    pub async fn stop(&self) -> Result<Stopped> {
        let id = self.id().to_string();
        let took = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            docker::ok(&["stop", &id]).map(|_| started.elapsed())
        })
        .await
        .map_err(|error| Error::Harness(format!("docker stop: {error}")))??;
        let exit_code = self.state().await?.exit_code.unwrap_or(-1);
        Ok(Stopped { took, exit_code })
    }

    /// Sends half a request, runs `docker stop`, finishes the request, and returns the
    /// answer to it with what the stop did. A graceful server answers it before exiting.
    /// Ordered by events, not pauses: the rest of the request is sent only once the
    /// service has read the first half and has said that SIGTERM arrived.
    pub async fn stop_with_a_request_in_flight(&self) -> Result<InFlightStop> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.url.trim_start_matches("http://").to_string();
        let failed =
            |error: std::io::Error| Error::Harness(format!("a request to {address}: {error}"));
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .map_err(failed)?;
        stream
            .write_all(b"GET /ping HTTP/1.1\r\nHost: ping\r\n")
            .await
            .map_err(failed)?;
        self.wait_until_everything_sent_is_read(Duration::from_secs(10))
            .await?;

        let stop = self.stop();
        let finish = async {
            let signalled = self
                .wait_for_log_line(STOPPING, Duration::from_secs(5))
                .await;
            let _ = stream.write_all(b"Connection: close\r\n\r\n").await;
            let mut answer = String::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
                    .await;
            (signalled, answer)
        };
        let (stopped, (signalled, answer)) = tokio::join!(stop, finish);
        Ok(InFlightStop {
            signalled,
            answer,
            stopped: stopped?,
        })
    }

    /// Waits until the container has printed a line starting with `line`: whether it did.
    async fn wait_for_log_line(&self, line: &str, within: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < within {
            let logs = docker::run(&["logs", self.id()]);
            if String::from_utf8_lossy(&logs.stdout)
                .lines()
                .any(|printed| printed.starts_with(line))
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

/// What the service prints when SIGTERM (or SIGINT) arrives: src/main.rs.
pub const STOPPING: &str = "ping: stopping";

/// A `docker stop` with a request in flight: whether the service said SIGTERM arrived,
/// the answer the request got, and how the container stopped.
#[derive(Debug)]
pub struct InFlightStop {
    pub signalled: bool,
    pub answer: String,
    pub stopped: Stopped,
}

/// What `docker stats` shows as a container's memory use: the usage without the page
/// cache (cgroup v2 `inactive_file`, v1 `total_inactive_file`).
fn memory_in_use(memory: &testcontainers::bollard::models::ContainerMemoryStats) -> Option<u64> {
    let usage = memory.usage?;
    let stats = memory.stats.clone().unwrap_or_default();
    let cache = stats
        .get("inactive_file")
        .or_else(|| stats.get("total_inactive_file"))
        .copied()
        .unwrap_or(0);
    Some(usage.saturating_sub(cache))
}
