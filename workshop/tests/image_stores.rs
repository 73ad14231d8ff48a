//! One size, whatever the image store: the harness reads the same unpacked and
//! compressed size for the same image from the containerd image store (the engine's)
//! and from the classic one (a second dockerd beside it, on its own socket, data root
//! and bridge). `docker image inspect`'s `.Size` does not: it is shown differing.
//! And what the classic store refuses, as "Before you start" lists it: each build
//! option of the later chapters, tried on the classic daemon, fails with the error
//! the book quotes, while a plain build succeeds.
//!
//! It starts a daemon, so it needs root on a Linux Docker host: `cargo test --test
//! image_stores -- --ignored` (CI runs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use workshop::layers;

#[test]
#[ignore = "starts a second dockerd: needs root on a Linux Docker host (CI runs it)"]
fn both_image_stores_give_one_size() {
    let image = workshop::Step::get("07-size-profile").build();
    let classic = ClassicDaemon::start();
    let mut saved = workshop::docker::command(&["save", &image.tag])
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker save");
    let loaded = classic
        .docker(&["load"])
        .stdin(saved.stdout.take().expect("docker save's output"))
        .output()
        .expect("docker load");
    assert!(
        saved.wait().is_ok_and(|status| status.success()),
        "docker save failed"
    );
    assert!(
        loaded.status.success(),
        "docker load into the classic store: {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let ours = layers::sizes(&image.tag, true).expect("sizes from the containerd store");
    let theirs = layers::sizes_on(Some(&classic.host), &image.tag, true)
        .expect("sizes from the classic store");
    println!("containerd store: {ours:?}; classic store: {theirs:?}");
    assert_eq!(
        ours, theirs,
        "the same image, read from its layers on both stores"
    );
    assert_eq!(image.size_bytes(), ours.unpacked);

    let inspect_size = |host: Option<&str>| {
        let mut command =
            workshop::docker::command(&["image", "inspect", "--format", "{{.Size}}", &image.tag]);
        if let Some(host) = host {
            command.env("DOCKER_HOST", host);
        }
        let output = command.output().expect("docker image inspect");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let (containerd_size, classic_size) = (inspect_size(None), inspect_size(Some(&classic.host)));
    println!(".Size: containerd store {containerd_size}, classic store {classic_size}");
    assert_ne!(
        containerd_size, classic_size,
        "`.Size` was expected to differ between the stores: if it no longer does, say so in the book"
    );
}

/// The build options of chapters 10 to 13 and the next day, on the classic store with
/// buildx's default (docker) driver: each refused with BuildKit's own words, which
/// before-you-start.md quotes. A tiny `FROM scratch` context: nothing to pull.
#[test]
#[ignore = "starts a second dockerd: needs root on a Linux Docker host (CI runs it)"]
fn the_classic_store_refuses_what_the_book_says() {
    let book = std::fs::read_to_string(workshop::repo_root().join("book/src/before-you-start.md"))
        .expect("read before-you-start.md");
    let classic = ClassicDaemon::start();
    let context = classic.dir.join("context");
    std::fs::create_dir_all(&context).expect("a build context");
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY hello /hello\n",
    )
    .expect("its Dockerfile");
    std::fs::write(context.join("hello"), "hello\n").expect("its file");
    let out = classic.dir.join("out");
    std::fs::create_dir_all(&out).expect("a folder for the outputs");
    let build = |options: &[&str]| {
        let mut args = vec!["buildx", "build", "--progress", "plain"];
        args.extend_from_slice(options);
        args.push(context.to_str().expect("a UTF-8 path"));
        let output = classic.docker(&args).output().expect("docker buildx build");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let (built, log) = build(&["-t", "classic-plain", "--load"]);
    assert!(built, "a plain build on the classic store: {log}");
    let cache = format!("type=local,dest={}", out.join("cache").display());
    let oci = format!("type=oci,dest={}", out.join("image.tar").display());
    let refused: [(&str, Vec<&str>); 5] = [
        (
            "two platforms under one tag (step 10)",
            vec![
                "--platform",
                "linux/amd64,linux/arm64",
                "-t",
                "classic-multi",
            ],
        ),
        (
            "two platforms pushed (step 13)",
            vec![
                "--platform",
                "linux/amd64,linux/arm64",
                "-t",
                "localhost:1/classic-multi",
                "--push",
            ],
        ),
        (
            "an SBOM attestation (step 11)",
            vec!["--attest", "type=sbom", "-t", "classic-sbom"],
        ),
        (
            "a cache exported to a folder (the next day)",
            vec!["--cache-to", &cache],
        ),
        ("an OCI archive (step 13)", vec!["--output", &oci]),
    ];
    let mut unquoted = Vec::new();
    for (what, options) in refused {
        let (built, log) = build(&options);
        assert!(
            !built,
            "{what} was expected to fail on the classic store, and built"
        );
        let error = log
            .lines()
            .rev()
            .find(|line| line.starts_with("ERROR:"))
            .unwrap_or_else(|| panic!("{what}: no ERROR line in\n{log}"))
            .trim_start_matches("ERROR: ")
            // buildx's own words before BuildKit's (0.29: `ERROR: failed to build: …`).
            .trim_start_matches("failed to build: ")
            .trim()
            .to_string();
        println!("{what}: {error}");
        if !book.contains(&error) {
            unquoted.push(format!("{what}: {error:?}"));
        }
    }
    assert!(
        unquoted.is_empty(),
        "before-you-start.md should quote what the classic store says to each:\n{}",
        unquoted.join("\n")
    );
    let _ = classic.docker(&["image", "rm", "classic-plain"]).output();
}

/// A dockerd with the classic image store beside the engine the tests use: its own
/// socket, data and exec roots, and a bridge of its own (`--bridge none` would delete
/// the host's docker0 and break the first daemon). No iptables rules: it runs nothing.
/// One at a time: the tests of this file run side by side, and two daemons would share
/// the folder (named after this process) and the bridge; the first one dropped would stop
/// the other's under it.
struct ClassicDaemon {
    host: String,
    dir: PathBuf,
    process: Child,
    _alone: std::sync::MutexGuard<'static, ()>,
}

const BRIDGE: &str = "ws-classic0";

static ONE_DAEMON: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl ClassicDaemon {
    fn start() -> ClassicDaemon {
        // A test that failed holding it poisoned it: the daemon it had is gone all the same.
        let alone = ONE_DAEMON
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = std::env::temp_dir().join(format!("ping-classic-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder for the second daemon");
        let config = dir.join("daemon.json");
        std::fs::write(&config, "{}\n").expect("its daemon.json");
        let _ = ip(&["link", "delete", BRIDGE]);
        ip(&["link", "add", BRIDGE, "type", "bridge"]).expect("ip link add (run as root)");
        ip(&["addr", "add", "10.255.254.1/24", "dev", BRIDGE]).expect("ip addr add");
        ip(&["link", "set", BRIDGE, "up"]).expect("ip link set up");
        let socket = dir.join("docker.sock");
        let host = format!("unix://{}", socket.display());
        let log = std::fs::File::create(dir.join("dockerd.log")).expect("its log");
        let process = Command::new("dockerd")
            .arg("--config-file")
            .arg(&config)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .args(["--host", &host, "--bridge", BRIDGE])
            .args(["--iptables=false", "--ip6tables=false"])
            .stdout(log.try_clone().expect("its log"))
            .stderr(log)
            .spawn()
            .expect("dockerd (is Docker Engine installed?)");
        let daemon = ClassicDaemon {
            host,
            dir,
            process,
            _alone: alone,
        };
        let started = Instant::now();
        while !daemon
            .docker(&["info"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the second dockerd did not start; its log: {}",
                std::fs::read_to_string(daemon.dir.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        let driver = daemon
            .docker(&["info", "--format", "{{.DriverStatus}}"])
            .output();
        let driver = String::from_utf8_lossy(&driver.expect("docker info").stdout).to_string();
        assert!(
            !driver.contains("io.containerd.snapshotter"),
            "the second dockerd should use the classic store, it says {driver}"
        );
        daemon
    }

    fn docker(&self, args: &[&str]) -> Command {
        let mut command = workshop::docker::command(args);
        command.env("DOCKER_HOST", &self.host);
        command
    }
}

impl Drop for ClassicDaemon {
    fn drop(&mut self) {
        // SIGTERM, so it stops its containerd and unmounts what it mounted.
        let _ = Command::new("kill")
            .arg(self.process.id().to_string())
            .status();
        let started = Instant::now();
        while self.process.try_wait().ok().flatten().is_none()
            && started.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.process.kill();
        let _ = ip(&["link", "delete", BRIDGE]);
        remove_tree(&self.dir);
    }
}

fn ip(args: &[&str]) -> std::io::Result<()> {
    let status = Command::new("ip")
        .args(args)
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "ip {}: {status}",
            args.join(" ")
        )))
    }
}

fn remove_tree(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
