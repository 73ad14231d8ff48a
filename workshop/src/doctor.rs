//! `cargo workshop doctor`: is this machine ready for the workshop? Each line says
//! what was checked and, when it fails, what to do. Nothing here pulls or builds.

use std::time::Duration;

use crate::checks::MAX_CONNECTIONS;
use crate::layers;
use crate::results::human_size;
use crate::step::{PREPARE, workshop_base_images};
use crate::tool::DOCTOR;
use crate::{docker, rust_image};

/// Free space the workshop needs where Docker keeps images: step 01 alone is about
/// 5 GB, the three base images 2.5 GB, and the build cache holds a few more.
pub const NEEDS_GB: u64 = 20;
/// The same with the containerd image store, which also keeps every layer compressed.
pub const NEEDS_GB_CONTAINERD: u64 = 30;

/// The oldest engine that builds every step (BuildKit with `RUN --mount`, and
/// `--platform` in FROM); the workshop is tested on 28.5.
pub const MIN_ENGINE: (u32, u32) = (20, 10);

/// The doctor's line about holding several platforms under one tag.
const MULTI_PLATFORM: &str = "image store (step 10)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Fail,
    /// Not checked, because something it needs failed above.
    Skipped,
}

#[derive(Debug)]
pub struct Line {
    pub status: Status,
    pub what: String,
    /// What was found, or what to do.
    pub detail: String,
}

pub struct Doctor {
    /// DOCKER_HOST for every command; None uses the environment's.
    pub docker_host: Option<String>,
    /// Whether the engine keeps images in the containerd image store, which holds each
    /// image twice: its compressed layers and their unpacked snapshots.
    pub containerd_store: bool,
    pub lines: Vec<Line>,
}

impl std::fmt::Display for Doctor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for line in &self.lines {
            let mark = match line.status {
                Status::Ok => "✓",
                Status::Fail => "✗",
                Status::Skipped => "·",
            };
            let detail = line.detail.replace('\n', "\n      ");
            writeln!(f, "  {mark} {}: {detail}", line.what)?;
        }
        match self.failures() {
            0 => write!(f, "Ready for the workshop."),
            n => write!(
                f,
                "{n} problem{} to fix: follow the ✗ line{}, then run `{}` again.",
                if n == 1 { "" } else { "s" },
                if n == 1 { "" } else { "s" },
                DOCTOR
            ),
        }
    }
}

impl Doctor {
    /// The failing lines that step `step` needs: those named for it or an earlier step
    /// (`arm64 emulation (step 10)`), and those every step needs (Docker, the base images).
    pub fn failing_for(&self, step: u8) -> Vec<&Line> {
        self.lines
            .iter()
            .filter(|line| line.status == Status::Fail)
            .filter(|line| {
                line.what
                    .split_once("(step ")
                    .and_then(|(_, rest)| rest.trim_end_matches(')').parse::<u8>().ok())
                    .is_none_or(|from| from <= step)
            })
            .collect()
    }

    pub fn failures(&self) -> usize {
        self.lines
            .iter()
            .filter(|line| line.status == Status::Fail)
            .count()
    }

    fn add(&mut self, status: Status, what: impl Into<String>, detail: impl Into<String>) {
        self.lines.push(Line {
            status,
            what: what.into(),
            detail: detail.into(),
        });
    }

    /// `docker ARGS`, with this doctor's DOCKER_HOST and BuildKit on, stopped after `limit`.
    fn docker(&self, args: &[&str], limit: Duration) -> Result<String, String> {
        let mut command = docker::command(args);
        if let Some(host) = &self.docker_host {
            command.env("DOCKER_HOST", host);
        }
        docker::run_within(command, limit)
    }

    /// Runs every check; later ones are skipped when what they need failed.
    pub fn examine(docker_host: Option<String>) -> Doctor {
        let mut doctor = Doctor {
            docker_host,
            containerd_store: false,
            lines: Vec::new(),
        };
        let reachable = match docker::reachable(doctor.docker_host.as_deref()) {
            Ok(versions) => {
                doctor.add(
                    Status::Ok,
                    "Docker",
                    format!(
                        "client {}, engine {} at {}",
                        versions.client, versions.engine, versions.host
                    ),
                );
                Some(versions.client)
            }
            Err(message) => {
                doctor.add(Status::Fail, "Docker", message);
                None
            }
        };
        let Some(client) = reachable else {
            for what in [
                "engine",
                "BuildKit",
                "disk space",
                "base images",
                "HTTPS in a container",
            ] {
                doctor.add(Status::Skipped, what, "needs Docker first");
            }
            // Not Docker's: a learner without Docker still learns of it.
            doctor.scanner();
            doctor.publishing();
            return doctor;
        };

        doctor.engine();
        match docker::check_buildkit(&client) {
            Ok(how) => doctor.add(
                Status::Ok,
                "BuildKit",
                format!(
                    "{how}{}; the steps need no `# syntax=` line (it would fetch a Dockerfile \
                     frontend from Docker Hub, and fail without it)",
                    doctor.buildkit_version()
                ),
            ),
            Err(message) => doctor.add(Status::Fail, "BuildKit", message),
        }

        doctor.disk_space();
        let images_ok = doctor.base_images();
        doctor.https_in_a_container(images_ok);
        doctor.open_files(images_ok);
        doctor.arm64_emulation();
        doctor.scanner();
        doctor.publishing();
        doctor
    }

    /// The engine's version and its image store; an engine older than the steps need
    /// is refused with how to upgrade.
    fn engine(&mut self) {
        let info = self.docker(
            &[
                "info",
                "--format",
                "{{.ServerVersion}}|{{.Driver}}|{{json .DriverStatus}}",
            ],
            Duration::from_secs(20),
        );
        let Ok(info) = info else {
            self.add(Status::Skipped, "engine", "`docker info` did not answer");
            return;
        };
        let mut parts = info.splitn(3, '|');
        let (version, driver, status) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        self.containerd_store = status.contains("io.containerd.snapshotter");
        let store = if self.containerd_store {
            format!("the containerd image store ({driver} snapshotter)")
        } else {
            format!("the classic image store ({driver})")
        };
        let numbers: Vec<u32> = version
            .split(['.', '-', '+'])
            .take(2)
            .filter_map(|n| n.parse().ok())
            .collect();
        if numbers.as_slice() < [MIN_ENGINE.0, MIN_ENGINE.1].as_slice() {
            self.add(
                Status::Fail,
                "engine",
                format!(
                    "Docker Engine {version} is older than the steps need ({}.{} or newer; the \
                     workshop is tested on 28.5): update Docker Desktop, or install a current \
                     Docker Engine with its buildx plugin (https://docs.docker.com/engine/install/)",
                    MIN_ENGINE.0, MIN_ENGINE.1
                ),
            );
            return;
        }
        self.add(
            Status::Ok,
            "engine",
            format!("Docker Engine {version}, with {store}"),
        );
        if self.containerd_store {
            self.add(
                Status::Ok,
                MULTI_PLATFORM,
                "one tag holds an image for each platform",
            );
        } else {
            self.add(
                Status::Fail,
                MULTI_PLATFORM,
                "the classic image store holds one platform per tag, and step 10 builds both \
                 under one: turn on the containerd image store ({\"features\": \
                 {\"containerd-snapshotter\": true}} in /etc/docker/daemon.json, then restart \
                 dockerd; Docker Desktop: Settings → General → Use containerd for pulling and \
                 storing images)",
            );
        }
    }

    /// ", BuildKit vX" as the default builder reports it, or nothing.
    fn buildkit_version(&self) -> String {
        let inspect = self.docker(&["buildx", "inspect"], Duration::from_secs(20));
        inspect
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("BuildKit version:"))
                    .map(|version| format!(", BuildKit {}", version.trim()))
            })
            .unwrap_or_default()
    }

    fn disk_space(&mut self) {
        let root = self
            .docker(
                &["info", "--format", "{{.DockerRootDir}}"],
                Duration::from_secs(20),
            )
            .unwrap_or_default();
        // Docker Engine on this machine: its folder is here. Docker Desktop: in a VM.
        let free_kb = if std::path::Path::new(&root).is_dir() {
            available_kb(&root)
        } else {
            self.docker(
                &["run", "--rm", docker::HELPER_IMAGE, "df", "-Pk", "/"],
                Duration::from_secs(60),
            )
            .ok()
            .and_then(|out| df_available_kb(&out))
        };
        let (needs, why) = if self.containerd_store {
            (
                NEEDS_GB_CONTAINERD,
                " (the containerd image store keeps each image compressed and unpacked)",
            )
        } else {
            (NEEDS_GB, "")
        };
        match free_kb {
            Some(kb) if kb / 1_000_000 >= needs => self.add(
                Status::Ok,
                "disk space",
                format!(
                    "{} GB free where Docker keeps images ({root}); the workshop needs about \
                     {needs} GB{why}",
                    kb / 1_000_000
                ),
            ),
            Some(kb) => self.add(
                Status::Fail,
                "disk space",
                format!(
                    "{} GB free where Docker keeps images ({root}), the workshop needs about \
                     {needs} GB{why}: free some with `docker system prune` (removes stopped \
                     containers, unused images and build cache), or give Docker Desktop a larger disk",
                    kb / 1_000_000
                ),
            ),
            None => self.add(
                Status::Skipped,
                "disk space",
                format!("could not read the free space where Docker keeps images ({root})"),
            ),
        }
    }

    /// Step 10 runs an arm64 image: on a Linux host the kernel must hand arm64
    /// executables to QEMU (binfmt_misc). Docker Desktop has that built in.
    /// Step 11's scan check runs `cargo audit bin` on the image's binary.
    fn scanner(&mut self) {
        let what = "cargo-audit (step 11)";
        let version = docker::which("cargo-audit").and_then(|program| {
            let output = std::process::Command::new(program)
                .arg("--version")
                .output()
                .ok()?;
            Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
        });
        match version {
            Some(version) if !version.is_empty() => self.add(
                Status::Ok,
                what,
                format!("{version} scans a binary's embedded dependency list"),
            ),
            _ => self.add(
                Status::Fail,
                what,
                "step 11's scan check needs it: `cargo install cargo-audit --locked`",
            ),
        }
    }

    /// Step 13 pushes to a registry and signs with cosign.
    fn publishing(&mut self) {
        let cosign = docker::which("cosign").and_then(|program| {
            let output = std::process::Command::new(program)
                .arg("version")
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&output.stdout).to_string();
            text.lines()
                .find_map(|line| line.strip_prefix("GitVersion:"))
                .map(|version| version.trim().to_string())
        });
        match cosign {
            Some(version) => self.add(
                Status::Ok,
                "cosign (step 13)",
                format!("cosign {version} signs and verifies the published image"),
            ),
            None => self.add(
                Status::Fail,
                "cosign (step 13)",
                "step 13 signs what it publishes: `apt install cosign` (Debian 13 and later), \
                 `brew install cosign`, or a release of sigstore/cosign",
            ),
        }
        let what = "registry (step 13)";
        match std::env::var("PING_REGISTRY")
            .ok()
            .filter(|name| !name.trim().is_empty())
        {
            Some(name) => self.add(
                Status::Ok,
                what,
                format!("PING_REGISTRY={name}: step 13 pushes there"),
            ),
            None if docker::which("docker-registry").is_some() => self.add(
                Status::Ok,
                what,
                "docker-registry: step 13's checks start one on a free loopback port",
            ),
            None => self.add(
                Status::Fail,
                what,
                "step 13 pushes to a registry: run one, `docker run -d --name registry -p \
                 127.0.0.1:5050:5000 registry:3`, and set PING_REGISTRY=localhost:5050 (or \
                 install Debian's docker-registry)",
            ),
        }
    }

    fn arm64_emulation(&mut self) {
        let what = "arm64 emulation (step 10)";
        let binfmt = std::path::Path::new("/proc/sys/fs/binfmt_misc");
        if self.docker_host.is_some() || !binfmt.join("status").exists() {
            self.add(
                Status::Skipped,
                what,
                "not a local Linux engine: Docker Desktop runs arm64 images out of the box",
            );
            return;
        }
        // The ELF header of a 64-bit little-endian AArch64 executable, as binfmt_misc shows it.
        const AARCH64: &str = "magic 7f454c460201010000000000000000000200b700";
        let registered = std::fs::read_dir(binfmt)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                std::fs::read_to_string(entry.path())
                    .is_ok_and(|text| text.starts_with("enabled") && text.contains(AARCH64))
            });
        if registered {
            self.add(
                Status::Ok,
                what,
                "the kernel hands arm64 executables to QEMU",
            );
        } else {
            self.add(
                Status::Fail,
                what,
                "this machine cannot run arm64 binaries: `apt install qemu-user-static`, then as \
                 root `cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register` \
                 (the F flag in it makes the emulator work inside containers)",
            );
        }
    }

    /// Present, or pullable (the registry answers for it). Returns whether all are usable.
    fn base_images(&mut self) -> bool {
        let mut all = true;
        for image in workshop_base_images() {
            let present = self.docker(
                &["image", "inspect", "--format", "{{.Id}}", &image],
                Duration::from_secs(20),
            );
            if present.is_ok() {
                // Its unpacked size, read from its layers as every size the workshop shows.
                let size = layers::sizes_on(self.docker_host.as_deref(), &image, false)
                    .map_or_else(
                        |_| "size unknown".into(),
                        |sizes| human_size(sizes.unpacked),
                    );
                self.add(
                    Status::Ok,
                    format!("base image {image}"),
                    format!("present ({size} unpacked)"),
                );
                continue;
            }
            let pullable = self
                .docker(&["manifest", "inspect", &image], Duration::from_secs(20))
                .is_ok();
            if pullable {
                self.add(
                    Status::Ok,
                    format!("base image {image}"),
                    "not here yet, but the registry has it: the first build pulls it \
                     (or pull them all now: steps/00-base-images/prepare.sh)",
                );
            } else {
                all = false;
                self.add(
                    Status::Fail,
                    format!("base image {image}"),
                    format!(
                        "not here and not pullable from this network: build it locally with \
                         `{PREPARE}` (Linux, as root: needs debootstrap), or pull it on another \
                         network and `docker save`/`docker load` it"
                    ),
                );
            }
        }
        all
    }

    /// The open-files limit this engine gives a container: each connection the service
    /// holds is one, and it raises its soft limit up to the hard one at start.
    fn open_files(&mut self, images_ok: bool) {
        const WHAT: &str = "open files in a container";
        if !images_ok {
            self.add(Status::Skipped, WHAT, "needs the base images first");
            return;
        }
        let said = self.docker(
            &[
                "run",
                "--rm",
                "--network",
                "none",
                docker::HELPER_IMAGE,
                "sh",
                "-c",
                "ulimit -Sn; ulimit -Hn",
            ],
            Duration::from_secs(60),
        );
        let limits: Option<Vec<u64>> = said.as_deref().ok().map(|said| {
            said.split_whitespace()
                .map(|word| word.parse().unwrap_or(u64::MAX))
                .collect()
        });
        match limits.as_deref() {
            Some(&[soft, hard]) => {
                let (status, detail) = open_files_verdict(soft, hard);
                self.add(status, WHAT, detail)
            }
            _ => self.add(
                Status::Fail,
                WHAT,
                format!("a container could not say its limit: {said:?}"),
            ),
        }
    }

    /// The builds fetch crates over HTTPS inside a container: that fails behind a
    /// TLS-inspecting proxy unless the image trusts its certificate authority.
    fn https_in_a_container(&mut self, images_ok: bool) {
        let image = rust_image();
        let image = image.as_str();
        let present = self
            .docker(&["image", "inspect", image], Duration::from_secs(20))
            .is_ok();
        if !present {
            let why = if images_ok {
                "tried on the first build (the image is pulled then)"
            } else {
                "needs the base images first"
            };
            self.add(Status::Skipped, "HTTPS in a container", why);
            return;
        }
        let fetched = self.docker(
            &["run", "--rm", image, "cargo", "info", "salvo"],
            Duration::from_secs(90),
        );
        match fetched {
            Ok(_) => self.add(
                Status::Ok,
                "HTTPS in a container",
                format!("cargo in {image} reached crates.io"),
            ),
            Err(error) => {
                let first = error
                    .lines()
                    .find(|line| line.contains("certificate") || line.starts_with("error"))
                    .unwrap_or("no output")
                    .trim()
                    .to_string();
                let fix = if error.contains("certificate") {
                    format!(
                        "the network re-signs HTTPS and the image does not trust it: put the \
                         proxy's CA certificate in /usr/local/share/ca-certificates and rebuild the \
                         base images with `{PREPARE} --rebuild` (the book: Before you start)"
                    )
                } else {
                    "can this machine reach crates.io (a proxy, a firewall)? The builds fetch \
                     crates from it"
                        .to_string()
                };
                self.add(
                    Status::Fail,
                    "HTTPS in a container",
                    format!("cargo in {image} could not reach crates.io ({first}): {fix}"),
                )
            }
        }
    }
}

/// Free space for an unprivileged user in the file system holding `path`, in kilobytes.
fn available_kb(path: &str) -> Option<u64> {
    let stats = rustix::fs::statvfs(path).ok()?;
    Some(stats.f_bavail * stats.f_frsize / 1000)
}

/// The "Available" column of `df -Pk`'s second line, in kilobytes (Docker Desktop:
/// the images are in its VM, so `df` runs in a container there).
fn df_available_kb(output: &str) -> Option<u64> {
    output
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

/// The doctor's verdict on the open-files limits a container gets (`ulimit -Sn`, `-Hn`):
/// the service raises its soft limit up to the hard one, so the hard one decides how
/// many connections it can hold.
pub fn open_files_verdict(soft: u64, hard: u64) -> (Status, String) {
    let needed = MAX_CONNECTIONS as u64 + 64;
    if hard >= needed {
        (
            Status::Ok,
            format!(
                "{soft} soft, {hard} hard: the service raises its soft limit to the {needed} \
                 its {MAX_CONNECTIONS} connections need (the checks start every container at \
                 1024 soft, as Docker Engine 25+ and containerd 2 do)"
            ),
        )
    } else {
        (
            Status::Fail,
            format!(
                "{soft} soft, {hard} hard: below the {needed} the service needs for its \
                 {MAX_CONNECTIONS} connections, so it holds fewer and the HTTP limits check \
                 fails. Raise the engine's limit: LimitNOFILE=1048576 in docker.service, or \
                 \"default-ulimits\" in /etc/docker/daemon.json"
            ),
        )
    }
}
