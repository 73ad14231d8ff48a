//! A running container read back: its processes (`docker top`), its state and health,
//! what the kernel applied to it and its sockets (its /proc, read by a helper
//! container), and the memory and CPU time it uses (`docker stats`).

use std::time::{Duration, Instant};

use super::{PORT, Running};
use crate::docker;
use crate::error::{Error, Harness, Result, found};
use crate::hardening::{Hardening, KernelStatus};

/// CPU time a container has used, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct CpuTime {
    pub user_ns: u64,
    pub kernel_ns: u64,
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

/// What an idle container holds in memory.
#[derive(Debug)]
pub struct Memory {
    /// The service process's resident set, in kB.
    pub rss_kb: Option<u64>,
    /// What the container's cgroup charges, in kB.
    pub cgroup_kb: Option<u64>,
}

impl Running {
    /// The container's processes, as `docker top` lists them with these `ps` columns.
    async fn processes(&self, columns: &str) -> Result<Vec<Vec<String>>> {
        use testcontainers::bollard::query_parameters::TopOptions;
        let options = TopOptions {
            ps_args: columns.to_string(),
        };
        let top = docker::api()?
            .top_processes(self.id(), Some(options))
            .await
            .harness_with(|| format!("docker top {}", self.id()))?;
        Ok(top.processes.unwrap_or_default())
    }

    /// The soft open-files limit of the container's main process, as it runs now (after
    /// any raise of its own): `/proc/1/limits` read from its PID namespace.
    pub async fn open_files_limit(&self) -> Result<String> {
        let limits = self.read_inside("--pid", "/proc/1/limits").await?;
        limits
            .lines()
            .find_map(|line| line.strip_prefix("Max open files"))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .ok_or_else(|| Error::Harness(format!("no open-files line in {limits:?}")))
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
        .harness_with(|| format!("reading {file}"))?
    }

    async fn inspect(&self) -> Result<testcontainers::bollard::models::ContainerInspectResponse> {
        docker::api()?
            .inspect_container(self.id(), None)
            .await
            .harness_with(|| format!("docker inspect {}", self.id()))
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
