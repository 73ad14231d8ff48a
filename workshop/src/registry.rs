//! A container registry on this machine: Debian's `docker-registry` (the CNCF
//! distribution registry) started on a free loopback port with storage in a private
//! folder, stopped and removed when dropped; or the one `PING_REGISTRY` names. Read
//! back over plain HTTP, as the registry API serves it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::docker;
use crate::error::Harness;
use crate::error::{Error, Result, harness};
use crate::files::PrivateDir;

/// Where the book's commands push: a registry the learner runs on this port.
pub const BOOK_REGISTRY: &str = "localhost:5050";
/// The repository the workshop pushes its images to, in any registry.
pub const REPOSITORY: &str = "workshop/ping";
/// A registry started by the harness that does not answer by then never will.
const START_LIMIT: Duration = Duration::from_secs(20);
/// One request to a registry on this machine.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// A registry the harness pushes to: its address (`127.0.0.1:PORT`), and, when the
/// harness started it, the process and its storage (which `tamper` may change).
pub struct Registry {
    pub address: String,
    process: Option<Child>,
    storage: Option<PrivateDir>,
    /// Ends the thread that started the process (`started_from_a_thread_of_its_own`)
    /// when dropped, after the process is killed.
    _keeper: Option<std::sync::mpsc::Sender<()>>,
}

impl Registry {
    /// The registry `PING_REGISTRY` names (a learner's `registry:3` container, say), or
    /// Debian's `docker-registry` started on a free loopback port.
    pub fn start() -> Result<Registry> {
        if let Ok(address) = std::env::var("PING_REGISTRY")
            && !address.trim().is_empty()
        {
            let mut registry = Registry {
                address: address.trim().to_string(),
                process: None,
                storage: None,
                _keeper: None,
            };
            registry.wait_until_ready()?;
            return Ok(registry);
        }
        let Some(binary) = docker::which("docker-registry") else {
            return harness(format!(
                "no registry to push to: install Debian's docker-registry (`sudo apt-get \
                 install docker-registry`), or run one, `docker run -d --name registry -p \
                 127.0.0.1:5050:5000 registry:3`, and set PING_REGISTRY={BOOK_REGISTRY}"
            ));
        };
        let storage = PrivateDir::new("registry")?;
        let port = free_port()?;
        let address = format!("127.0.0.1:{port}");
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    \
                 rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n",
                storage.path().join("data").display()
            ),
        )
        .map_err(|error| crate::error::io("write", &config, error))?;
        let log =
            std::fs::File::create(storage.path().join("registry.log")).harness("a registry log")?;
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| Error::Harness(e.to_string()))?)
            .stderr(log);
        let (process, keeper) = started_from_a_thread_of_its_own(command)?;
        let mut registry = Registry {
            address,
            process: Some(process),
            storage: Some(storage),
            _keeper: Some(keeper),
        };
        registry.wait_until_ready()?;
        Ok(registry)
    }

    /// Whether this harness started the registry (and may change what it stores).
    pub fn is_ours(&self) -> bool {
        self.storage.is_some()
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        loop {
            let answer = self.get("/v2/", "application/json");
            let exited = match self.process.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status),
                _ => None,
            };
            match answer {
                Ok((200, _)) => return Ok(()),
                answer if exited.is_some() || started.elapsed() > START_LIMIT => {
                    let said = match answer {
                        Ok((status, _)) => format!("it answered {status}"),
                        Err(error) => error.to_string(),
                    };
                    let exited = exited.map_or(String::new(), |status| {
                        format!(" (docker-registry exited: {status})")
                    });
                    let log = self
                        .storage
                        .as_ref()
                        .and_then(|dir| {
                            std::fs::read_to_string(dir.path().join("registry.log")).ok()
                        })
                        .unwrap_or_default();
                    return harness(format!(
                        "the registry at {} did not answer GET /v2/ with 200 within \
                         {START_LIMIT:?}: {said}{exited}. A registry that needs a login is not \
                         one the checks can use\n{log}",
                        self.address
                    ));
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// `GET path` with `accept`: the status and the body. Plain HTTP on this machine.
    pub fn get(&self, path: &str, accept: &str) -> Result<(u16, Vec<u8>)> {
        let failed =
            |why: String| Error::Harness(format!("GET {path} from {}: {why}", self.address));
        // Plain HTTP/1.0: the registry answers it without chunks, and the filesystem
        // storage it runs with never redirects to another host.
        let address = self
            .address
            .to_socket_addrs()
            .map_err(|error| failed(format!("{error} (write it as host:port)")))?
            .next()
            .ok_or_else(|| failed("the name resolves to no address".into()))?;
        let mut stream = TcpStream::connect_timeout(&address, REQUEST_LIMIT)
            .map_err(|error| failed(error.to_string()))?;
        stream.set_read_timeout(Some(REQUEST_LIMIT)).ok();
        stream.set_write_timeout(Some(REQUEST_LIMIT)).ok();
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: {accept}\r\n\r\n",
            self.address
        )
        .map_err(|error| failed(error.to_string()))?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .map_err(|error| failed(error.to_string()))?;
        let split = answer
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .ok_or_else(|| failed("no HTTP answer".into()))?;
        let head = String::from_utf8_lossy(&answer[..split]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .ok_or_else(|| failed(format!("no status in {head:?}")))?;
        Ok((status, answer[split + 4..].to_vec()))
    }

    /// A manifest or index of `repository`, by tag or digest, as JSON.
    pub fn manifest(&self, repository: &str, reference: &str) -> Result<serde_json::Value> {
        let accept = "application/vnd.oci.image.index.v1+json, \
                      application/vnd.oci.image.manifest.v1+json, \
                      application/vnd.docker.distribution.manifest.v2+json, \
                      application/vnd.docker.distribution.manifest.list.v2+json";
        let path = format!("/v2/{repository}/manifests/{reference}");
        match self.get(&path, accept)? {
            (200, body) => {
                serde_json::from_slice(&body).harness_with(|| format!("{path}: not JSON"))
            }
            (status, body) => harness(format!(
                "{path}: {status} {}",
                String::from_utf8_lossy(&body).trim()
            )),
        }
    }

    /// A blob of `repository` (a config or a layer), its bytes.
    pub fn blob(&self, repository: &str, digest: &str) -> Result<Vec<u8>> {
        let path = format!("/v2/{repository}/blobs/{digest}");
        match self.get(&path, "*/*")? {
            (200, body) => Ok(body),
            (status, _) => harness(format!("{path}: {status}")),
        }
    }

    /// Changes one byte of a blob where the registry stores it, as an attacker with
    /// write access to its storage would: only in a registry the harness started.
    pub fn tamper(&self, digest: &str) -> Result<()> {
        let Some(storage) = &self.storage else {
            return harness("only a registry the harness started can be tampered with");
        };
        let hex = digest.trim_start_matches("sha256:");
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return harness(format!("{digest} is not a sha256 digest"));
        }
        let path = storage
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data");
        let mut bytes =
            std::fs::read(&path).map_err(|error| crate::error::io("read", &path, error))?;
        let middle = bytes.len() / 2;
        let Some(byte) = bytes.get_mut(middle) else {
            return harness(format!("the blob {digest} is empty"));
        };
        *byte ^= 0x20;
        std::fs::write(&path, bytes).map_err(|error| crate::error::io("write", &path, error))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// A port nobody listens on now, on loopback.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").harness("no free port on 127.0.0.1")?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| Error::Harness(error.to_string()))
}

/// `command` started from a thread that lives until the returned sender is dropped, the
/// process killed when that thread ends (`dies_with_us`). The kernel's parent-death signal
/// follows the thread that forked, not the process: started from tokio's blocking pool,
/// whose idle threads end after 10 s, the registry was killed under a running pull.
fn started_from_a_thread_of_its_own(
    mut command: Command,
) -> Result<(Child, std::sync::mpsc::Sender<()>)> {
    let (started_tx, started) = std::sync::mpsc::channel();
    let (keeper, kept) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("registry".into())
        .spawn(move || {
            let spawned = dies_with_us(&mut command).spawn();
            let alive = spawned.is_ok();
            let _ = started_tx.send(spawned);
            if alive {
                // Until the Registry is dropped: its sender goes, and recv returns.
                let _ = kept.recv();
            }
        })
        .harness("a thread for docker-registry")?;
    let process = started
        .recv()
        .harness("the thread that starts docker-registry")?
        .harness("cannot start docker-registry")?;
    Ok((process, keeper))
}

/// The command's process is killed when the thread that started it ends (a test that
/// panicked and never dropped its registry leaves no server behind).
fn dies_with_us(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl(2) is async-signal-safe and allocates nothing; nothing else runs
    // between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let _ = rustix::process::set_parent_process_death_signal(Some(
                rustix::process::Signal::KILL,
            ));
            Ok(())
        })
    }
}

/// The digest the registry gives `reference` (its Docker-Content-Digest): read with
/// `docker buildx imagetools inspect`, the learner's way.
pub fn digest_of(registry: &Registry, path: &str, reference: &str) -> Result<String> {
    let name = format!("{}/{path}:{reference}", registry.address);
    let digest = docker::ok(&[
        "buildx",
        "imagetools",
        "inspect",
        &name,
        "--format",
        DIGEST_FORMAT,
    ])?;
    if !digest.starts_with("sha256:") {
        return harness(format!(
            "imagetools inspect {name}: no digest but {digest:?}"
        ));
    }
    Ok(digest)
}

/// The `imagetools inspect` format that prints the digest a tag names, alone.
pub const DIGEST_FORMAT: &str = "{{printf \"%s\" .Manifest.Digest}}";
