//! A container of a step's image, started by testcontainers on a random host port
//! and removed when the value is dropped (also when a test panics).

use std::time::{Duration, Instant};

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, Image as _, ImageExt};

use super::checks::{Problem, problem};

/// The port the service listens on inside the container.
pub const PORT: u16 = 8080;
/// How long a container may take from start to its first PONG.
const READY_WITHIN: Duration = Duration::from_secs(30);

pub struct Running {
    pub container: ContainerAsync<GenericImage>,
    pub url: String,
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
    pub async fn try_start(request: ContainerRequest<GenericImage>) -> Result<Running, Problem> {
        let tag = format!("{}:{}", request.image().name(), request.image().tag());
        // Docker can create a container and then fail to start it (`USER nobody` in
        // scratch): testcontainers then returns an error and no handle to drop. The label
        // finds that container, so nothing a check creates outlives it.
        let mark = start_mark();
        let request = request.with_label(START_LABEL, &mark);
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
                return problem(format!("Docker could not start {tag}: {error}"), hint);
            }
        };
        let host = container.get_host().await.expect("container host");
        let port = match container.get_host_port_ipv4(PORT).await {
            Ok(port) => port,
            Err(_) if !container.is_running().await.unwrap_or(false) => {
                return Err(exited(&container, &tag).await);
            }
            Err(error) => {
                return problem(
                    format!("{tag} publishes no port {PORT}: {error}"),
                    format!("the container exited at once, or the image does not EXPOSE {PORT}"),
                );
            }
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("http client");
        let running = Running {
            container,
            url: format!("http://{host}:{port}"),
            client,
        };
        running.wait_until_ready(&tag).await?;
        Ok(running)
    }

    async fn wait_until_ready(&self, tag: &str) -> Result<(), Problem> {
        let started = Instant::now();
        loop {
            if self.get("/ping").await.is_ok() {
                return Ok(());
            }
            if !self.container.is_running().await.unwrap_or(false) {
                return Err(exited(&self.container, tag).await);
            }
            if let Some(port) = self.announced_port().filter(|port| *port != PORT) {
                return problem(
                    format!(
                        "the service says it listens on port {port}, but the workshop reaches it on port {PORT}"
                    ),
                    "which port does the service read from its environment? Look for an ENV or \
                     EXPOSE line naming another port",
                );
            }
            if started.elapsed() > READY_WITHIN {
                return problem(
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
        let logs = super::docker::run(&["logs", self.id()]);
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
    let listed = super::docker::run(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("label={START_LABEL}={mark}"),
    ]);
    for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
        let _ = super::docker::run(&["rm", "--force", id]);
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
async fn exited(container: &ContainerAsync<GenericImage>, tag: &str) -> Problem {
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
    Problem {
        found: format!(
            "the container of {tag} exited (code {}) before answering GET /ping\n{logs}",
            exit_code.map_or("unknown".into(), |code| code.to_string())
        ),
        hint: hint.into(),
    }
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

pub fn hardened(mut request: ContainerRequest<GenericImage>) -> ContainerRequest<GenericImage> {
    let mut flags = HARDENED_FLAGS.iter();
    let (mut pids, mut memory) = (None, None);
    while let Some(flag) = flags.next() {
        let mut value = || {
            *flags
                .next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        request = match *flag {
            "--read-only" => request.with_readonly_rootfs(true),
            "--cap-drop" => request.with_cap_drop(value()),
            "--security-opt" => request.with_security_opt(value()),
            "--pids-limit" => {
                pids = Some(value().parse::<i64>().expect("a number of processes"));
                request
            }
            "--memory" => {
                let megabytes: i64 = value()
                    .trim_end_matches('m')
                    .parse()
                    .expect("a memory size in m");
                memory = Some(megabytes * 1024 * 1024);
                request
            }
            other => panic!("HARDENED_FLAGS: {other} is not supported by `hardened`"),
        };
    }
    request.with_host_config_modifier(move |host_config| {
        host_config.pids_limit = pids;
        host_config.memory = memory;
    })
}

/// What `docker stop` did: how long it took and how the container exited.
#[derive(Debug)]
pub struct Stopped {
    pub took: Duration,
    pub exit_code: i64,
}

impl Running {
    pub fn id(&self) -> &str {
        self.container.id()
    }

    /// uid and gid of the container's main process, as the Docker host sees them.
    pub fn process_uid_gid(&self) -> (u32, u32) {
        // docker top needs the pid column to match processes to the container.
        let table = super::docker::ok(&["top", self.id(), "-o", "pid,uid,gid"]);
        let row = table
            .lines()
            .nth(1)
            .unwrap_or_else(|| panic!("`docker top` listed no process:\n{table}"));
        let ids: Vec<u32> = row
            .split_whitespace()
            .map(|id| id.parse().expect("numeric uid/gid"))
            .collect();
        (ids[1], ids[2])
    }

    pub async fn try_wait_healthy(&self, within: Duration) -> Result<Duration, Problem> {
        let started = Instant::now();
        loop {
            let status = super::docker::ok(&[
                "inspect",
                "--format",
                "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
                self.id(),
            ]);
            match status.as_str() {
                "healthy" => return Ok(started.elapsed()),
                "" => {
                    return problem(
                        "the container has no health check",
                        "add a HEALTHCHECK to the image",
                    );
                }
                "unhealthy" => {
                    return problem(
                        format!(
                            "the container became unhealthy: {}",
                            super::docker::ok(&[
                                "inspect",
                                "--format",
                                "{{json .State.Health.Log}}",
                                self.id()
                            ])
                        ),
                        "run the HEALTHCHECK command by hand in a container: what does it print?",
                    );
                }
                _ if started.elapsed() > within => {
                    return problem(
                        format!("the container was still {status:?} after {within:?}"),
                        "how often does the HEALTHCHECK run, and how long is its start period?",
                    );
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Sends half a request, runs `docker stop`, finishes the request, and returns the
    /// answer to it with what the stop did. A graceful server answers it before exiting.
    pub async fn stop_with_a_request_in_flight(&self) -> (String, Stopped) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.url.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connect to the container");
        stream
            .write_all(b"GET /ping HTTP/1.1\r\nHost: ping\r\n")
            .await
            .expect("send the first half");
        tokio::time::sleep(Duration::from_millis(200)).await;

        let id = self.id().to_string();
        let stop = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            super::docker::ok(&["stop", &id]);
            started.elapsed()
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = stream.write_all(b"Connection: close\r\n\r\n").await;
        let mut answer = String::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;

        let took = stop.await.expect("docker stop");
        let exit_code: i64 =
            super::docker::ok(&["inspect", "--format", "{{.State.ExitCode}}", self.id()])
                .parse()
                .expect("exit code");
        (answer, Stopped { took, exit_code })
    }
}
