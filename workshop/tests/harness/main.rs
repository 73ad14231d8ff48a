//! The harness's own unit tests: the parts of the library that need no Docker.

use std::time::Duration;

mod buildkit;
mod load;

fn files_of(entries: &[(&str, Option<&str>)]) -> workshop::Files {
    workshop::Files(
        entries
            .iter()
            .map(|(path, link)| {
                (
                    path.to_string(),
                    workshop::Entry {
                        is_dir: false,
                        mode: 0o755,
                        size: 0,
                        link: link.map(String::from),
                    },
                )
            })
            .collect(),
    )
}

/// Symbolic links, as a check must follow them to see what a process in the container sees.
#[test]
fn links_resolve_as_the_kernel_resolves_them() {
    // debian:trixie-slim: /lib64 -> usr/lib64, and the loader a link to the real file.
    let files = files_of(&[
        ("/lib64", Some("usr/lib64")),
        ("/usr", None),
        ("/usr/lib64", None),
        (
            "/usr/lib64/ld-linux-x86-64.so.2",
            Some("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        ),
        ("/lib", Some("usr/lib")),
        ("/usr/lib", None),
        ("/usr/lib/x86_64-linux-gnu", None),
        ("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", None),
        ("/bin", Some("usr/bin")),
        ("/usr/bin", None),
        ("/usr/bin/sh", Some("dash")),
        ("/usr/bin/dash", None),
        ("/dangling", Some("/nowhere")),
        ("/loop", Some("/loop")),
    ]);
    assert!(!files.contains("/lib64/ld-linux-x86-64.so.2"));
    assert_eq!(
        files.resolve("/lib64/ld-linux-x86-64.so.2").as_deref(),
        Some("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    );
    assert_eq!(files.resolve("/bin/sh").as_deref(), Some("/usr/bin/dash"));
    assert_eq!(
        files.resolve("/usr/bin/../bin/sh").as_deref(),
        Some("/usr/bin/dash")
    );
    assert!(files.contains("/dangling") && !files.exists("/dangling"));
    assert!(!files.exists("/loop"));
    assert!(!files.exists("/bin/bash"));
}

/// `/proc/PID/status` as Linux writes it: the lines the locked-down check reads.
#[test]
fn kernel_status_reads_threads_privileges_ids_and_seccomp() {
    use workshop::hardening::KernelStatus;
    let zero = "0000000000000000";
    let status = format!(
        "Name:\tping\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t65532\t65532\t65532\t65532\n\
         Gid:\t65532\t65532\t65532\t65532\nGroups:\t\nThreads:\t3\nCapInh:\t{zero}\n\
         CapPrm:\t{zero}\nCapEff:\t{zero}\nCapBnd:\t{zero}\nCapAmb:\t{zero}\n\
         NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n"
    );
    let kernel = KernelStatus::parse(&status).unwrap();
    assert_eq!(
        kernel,
        KernelStatus {
            threads: 3,
            no_new_privs: 1,
            cap_eff: zero.into(),
            cap_prm: zero.into(),
            cap_bnd: zero.into(),
            cap_amb: zero.into(),
            seccomp: 2,
            uid: 65532,
            gid: 65532,
            groups: vec![],
        }
    );
    assert!(kernel.no_capabilities());
    // A non-root process has no capability in effect with or without --cap-drop ALL:
    // only the bounding set shows the drop.
    let not_dropped = status.replace(&format!("CapBnd:\t{zero}"), "CapBnd:\t00000000a80425fb");
    assert!(!KernelStatus::parse(&not_dropped).unwrap().no_capabilities());
    let root = status.replace(&format!("CapEff:\t{zero}"), "CapEff:\t00000000a80425fb");
    assert!(!KernelStatus::parse(&root).unwrap().no_capabilities());
    let grouped = status.replace("Groups:\t\n", "Groups:\t0 27\n");
    assert_eq!(KernelStatus::parse(&grouped).unwrap().groups, [0, 27]);
    let error = KernelStatus::parse("Name:\tping\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("no Threads"), "{error}");
}

/// `/proc/net/tcp`: the listening socket's queue counts connections not accepted yet,
/// a connection's counts bytes not read yet; other ports and states are not the service's.
#[test]
fn sockets_are_read_from_proc_net_tcp() {
    use workshop::running::Socket;
    let tables = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n\
   0: 00000000:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000 65532\n\
   1: 020011AC:1F90 010011AC:A1B2 01 00000000:0000001F 00:00000000 00000000 65532\n\
   2: 020011AC:1F90 010011AC:A1B3 06 00000000:00000000 03:00000000 00000000 0\n\
   3: 0100007F:0050 0100007F:A1B4 01 00000000:00000000 00:00000000 00000000 0\n";
    assert_eq!(
        Socket::parse(tables, 8080),
        vec![
            Socket {
                listening: true,
                unread: 2
            },
            Socket {
                listening: false,
                unread: 31
            },
        ]
    );
}

/// The keep-alive check against two servers on this machine that answer PONG: one keeps
/// the connection open after its answer (as a service without a header timeout does)
/// and fails the check; one closes it and passes.
#[tokio::test]
async fn an_idle_keep_alive_connection_left_open_is_caught() {
    use workshop::checks::idle_keep_alive_is_closed;
    let kept_open = pong_server(Duration::from_secs(60)).await;
    let error = idle_keep_alive_is_closed(&kept_open).await.unwrap_err();
    assert!(error.found().contains("was still open after 6s"), "{error}");
    let closing = pong_server(Duration::from_millis(200)).await;
    let closed_after = idle_keep_alive_is_closed(&closing).await.unwrap();
    assert!(closed_after < Duration::from_secs(2), "{closed_after:?}");
}

/// A one-connection HTTP server on loopback: reads a head, answers PONG, keeps the
/// connection `open` that long, closes it. Its address.
async fn pong_server(open: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buffer = [0; 256];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => head.extend_from_slice(&buffer[..read]),
            }
        }
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nPONG")
            .await;
        tokio::time::sleep(open).await;
    });
    address
}

/// EXPOSE, VOLUME and ENV, read from an image's config: the reference's passes, and each
/// thing a learner may leave behind is named.
#[test]
fn the_config_declares_only_what_the_service_serves() {
    use testcontainers::bollard::models::ImageConfig;
    use workshop::checks::declares_only_what_it_serves;
    let path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string();
    let reference = ImageConfig {
        exposed_ports: Some(vec!["8080/tcp".into()]),
        env: Some(vec![path.clone()]),
        ..ImageConfig::default()
    };
    declares_only_what_it_serves(&reference).unwrap();
    let own_port = ImageConfig {
        exposed_ports: Some(vec!["9000/tcp".into()]),
        env: Some(vec![
            path.clone(),
            "PORT=9000".into(),
            "PING_WORKERS=1".into(),
        ]),
        ..ImageConfig::default()
    };
    declares_only_what_it_serves(&own_port).unwrap();
    for (config, says) in [
        (
            ImageConfig {
                env: Some(vec![path.clone(), "API_TOKEN=s3cret".into()]),
                ..reference.clone()
            },
            "sets API_TOKEN, which the service never reads",
        ),
        (
            ImageConfig {
                exposed_ports: Some(vec!["80/tcp".into()]),
                ..reference.clone()
            },
            "EXPOSEs 80/tcp; the service listens on 8080/tcp alone",
        ),
        (
            ImageConfig {
                exposed_ports: None,
                ..reference.clone()
            },
            "EXPOSEs no port",
        ),
        (
            ImageConfig {
                volumes: Some(vec!["/data".into()]),
                ..reference.clone()
            },
            "declares VOLUME /data",
        ),
    ] {
        let error = declares_only_what_it_serves(&config).unwrap_err();
        assert!(error.found().contains(says), "{says:?} in {error}");
    }
}

/// The rebuild copy and the SBOM go to folders no other user can read, guess or link
/// beforehand, and are gone when done.
#[test]
fn private_folders_are_private_and_removed() {
    use std::os::unix::fs::PermissionsExt;
    let (first, second) = (
        workshop::files::PrivateDir::new("test").unwrap(),
        workshop::files::PrivateDir::new("test").unwrap(),
    );
    assert_ne!(first.path(), second.path());
    let meta = std::fs::symlink_metadata(first.path()).unwrap();
    assert!(meta.is_dir() && !meta.file_type().is_symlink());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    std::fs::write(first.path().join("file"), "x").unwrap();
    let path = first.path().to_path_buf();
    drop(first);
    assert!(!path.exists(), "{} is left behind", path.display());
}

/// results.json written before the new-connection rounds existed still reads, and its
/// comparison shows a dash where the figure is missing, not a zero.
#[test]
fn a_comparison_without_new_connection_rounds_reads_and_shows_a_dash() {
    let mut results = workshop::results::Results::default();
    let contender: workshop::results::ContenderResult = serde_json::from_str(
        r#"{"name": "rust", "tag": "ping:x", "says": "ours", "size_bytes": 1, "compressed_bytes": 1,
            "run_to_pong_ms": 1.0, "idle_rss_kb": null, "threads": null, "stop_s": 0.1,
            "stop_exit_code": 0,
            "through_proxy": {"requests_per_s": 1.0, "requests_per_s_min": 1.0, "requests_per_s_max": 1.0,
                              "p50_ms": 1.0, "p99_ms": 1.0, "p99_ms_max": 1.0},
            "host_network": {"requests_per_s": 1.0, "requests_per_s_min": 1.0, "requests_per_s_max": 1.0,
                             "p50_ms": 1.0, "p99_ms": 1.0, "p99_ms_max": 1.0}}"#,
    )
    .expect("a contender of an older results.json");
    assert!(contender.new_connections.is_none());
    results.comparison = Some(workshop::results::Comparison {
        contenders: vec![contender],
        ..Default::default()
    });
    let page = workshop::comparison::markdown(Some(&results));
    assert!(
        page.contains("| new connections/s, host network | – |"),
        "{page}"
    );
}

/// Our earlier images are measured against ours in sentences of their own, never
/// counted among the Go images ours is ahead of or behind; the ceiling of ours, if its
/// own code took no time, is against the fastest Go image.
#[test]
fn earlier_images_of_ours_are_told_apart_from_the_go_service() {
    use workshop::results::{Comparison, ContenderResult, CpuPerRequest, Load, Results};
    let load = |requests_per_s: f64| Load {
        requests_per_s,
        requests_per_s_min: requests_per_s * 0.95,
        requests_per_s_max: requests_per_s * 1.05,
        p50_ms: 1.0,
        p99_ms: 2.0,
        p99_ms_max: 2.0,
    };
    let contender = |name: &str, size_bytes: u64, requests_per_s: f64| ContenderResult {
        cpu_per_request: Some(CpuPerRequest {
            user_us: if name == "rust" { 3.0 } else { 6.0 },
            kernel_us: if name == "rust" { 7.0 } else { 8.0 },
        }),
        name: name.into(),
        tag: format!("ping:{name}"),
        says: name.into(),
        size_bytes,
        compressed_bytes: size_bytes,
        host_network: load(requests_per_s),
        through_proxy: load(requests_per_s),
        ..ContenderResult::default()
    };
    let results = Results {
        comparison: Some(Comparison {
            contenders: vec![
                contender("rust", 2_300_000, 100_000.0),
                contender("rust-11", 2_200_000, 50_000.0),
                contender("rust-06", 4_000_000, 200_000.0),
                contender("gin", 8_000_000, 10_000.0),
            ],
            ..Default::default()
        }),
        ..Default::default()
    };
    let page = workshop::comparison::markdown(Some(&results));
    for sentence in [
        "- Against `rust-11`: ours serves 2.0x more requests per second on the host network \
         (100.0k against 50.0k), p99 2.00 against 2.00 ms; CPU per request 3.0 µs in its own \
         code and 7.0 µs in the kernel, against 6.0 and 8.0 µs. The image is 0.10 MB larger \
         (2.30 MB against 2.20 MB).",
        "- Against `rust-06`: ours serves 50 % fewer requests per second on the host network \
         (100.0k against 200.0k), p99 2.00 against 2.00 ms; CPU per request 3.0 µs in its own \
         code and 7.0 µs in the kernel, against 6.0 and 8.0 µs. The image is 1.70 MB smaller \
         (2.30 MB against 4.00 MB).",
        "- Where ours spends its CPU on the host network: 3.0 µs a request in its own code and \
         7.0 µs in the kernel, 70 % of the total (`gin`: 6.0 and 8.0 µs), so even if its own \
         code took no time at all, ours would serve at most 143k requests a second, 14.3x \
         `gin`'s.",
        "| CPU per request, host network: own code + kernel | 3.0 + 7.0 µs | 6.0 + 8.0 µs |",
    ] {
        let sentence = sentence
            .replace("0 + ", "0\u{a0}+ ")
            .replace(" µs |", "\u{a0}µs |");
        assert!(page.contains(&sentence), "no {sentence:?} in:\n{page}");
    }
    let go = &page[page
        .find("**Against the Go service**")
        .expect("a Go section")..];
    assert!(!go.contains("rust-"), "{go}");
}

/// The stop table's sentences come from what ran as PID 1, not from the form's name:
/// a shell that replaced itself with `ping` counts as `ping`.
#[test]
fn stop_forms_are_told_apart_by_what_ran_as_pid_1() {
    use workshop::results::{Results, StopForm, Trades};
    let stop = |instruction: &str, pid1: &str, stop_s: f64, exit_code: i64| StopForm {
        instruction: instruction.into(),
        pid1: pid1.into(),
        stop_s,
        exit_code,
    };
    let results = Results {
        trades: Some(Trades {
            stops: vec![
                stop("CMD ping", "ping", 0.3, 0),
                stop(
                    "CMD ping; echo done",
                    "/bin/sh -c ping; echo done",
                    10.2,
                    137,
                ),
            ],
            ..Trades::default()
        }),
        ..Results::default()
    };
    let page = workshop::trades::stops_markdown(Some(&results));
    assert!(
        page.contains("`ping` itself was PID 1 for `CMD ping`: it got `docker stop`'s SIGTERM and exited with code 0."),
        "{page}"
    );
    assert!(
        page.contains("The shell stayed PID 1 for `CMD ping; echo done`:")
            && page.contains("up to 10.2 s and killed it (137: SIGKILL)."),
        "{page}"
    );
    assert!(
        workshop::trades::stops_markdown(None).contains("instructor trades"),
        "an unmeasured table says how to measure it"
    );
}

/// A fresh CI runner forgets a build's RUNs by the names BuildKit gives their records:
/// the command as the Dockerfile wrote it, continuation lines joined, flags taken off,
/// `$CARGO_HOME` unexpanded (`docker buildx du` on Engine 28.5 lists step 09's as
/// `mount / from exec /bin/sh -c cargo build --profile dist --locked  && cp …`).
#[test]
fn a_dockerfiles_runs_are_named_as_buildkit_names_their_records() {
    let step = workshop::Step::get("09-cache-mounts");
    let commands = workshop::ci_cache::run_commands(&step.dockerfile_text().unwrap());
    assert_eq!(
        commands,
        [
            r#"target="$(uname -m)-unknown-linux-musl"  && rustup target add "$target"  && printf '[build]\ntarget = "%s"\n' "$target" >> "$CARGO_HOME/config.toml""#,
            r#"cargo build --profile dist --locked  && cp "target/$(uname -m)-unknown-linux-musl/dist/ping" /ping"#,
        ]
    );
    // Its cache mounts, each one record named `… with id "/ping-target"` whichever RUN made it.
    assert_eq!(
        workshop::ci_cache::cache_mount_ids(&step.dockerfile_text().unwrap()),
        ["ping-target", "ping-reg"]
    );
    // Without an id, a mount's id is its target.
    assert_eq!(
        workshop::ci_cache::cache_mount_ids(
            "RUN --mount=type=cache,target=/app/target cargo build"
        ),
        ["/app/target"]
    );
}

/// A rebuild copies at most its limit (1 GB for the repository): past it, it stops and
/// names the file that went over, instead of filling the disk with a stray disk image.
#[test]
fn the_rebuild_copy_stops_at_its_limit_and_names_the_file() {
    let folder = workshop::files::PrivateDir::new("copy-limit").unwrap();
    let from = folder.path().join("from");
    std::fs::create_dir_all(from.join("yours")).unwrap();
    std::fs::write(from.join("Cargo.toml"), "[package]").unwrap();
    std::fs::write(from.join("yours/disk.img"), vec![0u8; 3_000_000]).unwrap();
    let to = folder.path().join("to");
    let error = workshop::build::copy_tree_within(&from, &to, 2_000_000)
        .expect_err("3 MB copied under a 2 MB limit")
        .to_string();
    assert!(
        error.contains("more than 2 MB")
            && error.contains("yours/disk.img is 3 MB")
            && error.contains("Move large files out"),
        "{error}"
    );
    assert!(!to.join("yours/disk.img").exists(), "copied past the limit");
    workshop::build::copy_tree_within(&from, &folder.path().join("again"), 4_000_000)
        .expect("3 MB under a 4 MB limit");
}

/// A rebuild's copy of the repository recreates links instead of reading what they
/// point to (a link to /dev/zero would never end, one to a key would copy it), and
/// leaves out what is not a file or a folder.
#[test]
fn the_rebuild_copy_recreates_links_and_reads_only_files() {
    let folder = workshop::files::PrivateDir::new("copy-test").unwrap();
    let from = folder.path().join("from");
    std::fs::create_dir_all(from.join("src")).unwrap();
    std::fs::write(from.join("src/main.rs"), "fn main() {}").unwrap();
    std::os::unix::fs::symlink("/dev/zero", from.join("zero")).unwrap();
    std::os::unix::fs::symlink("src", from.join("source")).unwrap();
    let fifo = from.join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let to = folder.path().join("to");
    workshop::build::copy_tree(&from, &to).unwrap();
    assert_eq!(
        std::fs::read_to_string(to.join("src/main.rs")).unwrap(),
        "fn main() {}"
    );
    assert_eq!(
        std::fs::read_link(to.join("zero")).unwrap(),
        std::path::Path::new("/dev/zero")
    );
    assert_eq!(
        std::fs::read_link(to.join("source")).unwrap(),
        std::path::Path::new("src")
    );
    assert!(!to.join("fifo").exists(), "a FIFO is no file to copy");
}

/// An image's source label against the checkout's remote: each refusal, and each pass.
#[test]
fn a_source_label_is_the_checkouts_public_remote_or_none() {
    use workshop::checks::source_verdict as verdict;
    let refused = |label: Option<&str>, remote: Option<&str>, pushed: bool, says: &str| {
        let found = verdict(label, remote, pushed).expect_err(&format!(
            "{label:?} with the remote {remote:?} must be refused"
        ));
        assert!(
            found.found().contains(says),
            "{says:?} not in: {}",
            found.found()
        );
    };
    let public = "https://github.com/learner/ping-workshop";
    // Credentials, a reserved or local host, an address, a path.
    refused(
        Some("https://user:token@github.com/learner/ping-workshop"),
        Some(public),
        true,
        "a user name or a password",
    );
    for host in [
        "example.com",
        "code.example.org",
        "git.test",
        "ping.invalid",
        "ping.example",
    ] {
        refused(
            Some(&format!("https://{host}/ping")),
            Some(public),
            true,
            "reserved",
        );
    }
    refused(
        Some("https://localhost:3000/ping"),
        Some(public),
        true,
        "this machine",
    );
    refused(
        Some("http://192.168.1.10/ping.git"),
        Some(public),
        true,
        "IP address",
    );
    refused(
        Some("/home/learner/ping-workshop"),
        Some("/home/learner/ping-workshop"),
        true,
        "a path",
    );
    refused(
        Some("file:///srv/git/ping.git"),
        Some("file:///srv/git/ping.git"),
        true,
        "a path",
    );
    // Another place than the checkout's remote, a claim without a remote, none with one.
    refused(
        Some("https://github.com/someone-else/ping"),
        Some(public),
        true,
        "the checkout's remote is",
    );
    refused(Some(public), None, false, "no remote");
    refused(None, Some(public), true, "names no source");
    // What buildx writes: the remote, its credentials stripped.
    assert!(
        verdict(
            Some(public),
            Some("https://user:token@github.com/learner/ping-workshop"),
            true
        )
        .is_ok()
    );
    assert!(
        verdict(
            Some("git@github.com:learner/ping-workshop.git"),
            Some("git@github.com:learner/ping-workshop.git"),
            true
        )
        .is_ok()
    );
    // No claim: a local image, no remote, a remote that is not public.
    assert!(verdict(None, Some(public), false).is_ok());
    let none = verdict(None, None, true).unwrap();
    assert!(none.contains("git remote add origin"), "{none}");
    assert!(verdict(None, Some("/media/usb/ping-workshop"), true).is_ok());
}

/// The remote buildx labels with: the branch's, else origin, else any (here, in clones
/// made for the test: nothing is fetched).
#[test]
fn the_checkouts_remote_is_the_one_buildx_takes() {
    use workshop::checks::checkout_remote;
    let folder = workshop::files::PrivateDir::new("remote-test").unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(folder.path())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "--quiet", "--initial-branch", "main"]);
    assert_eq!(checkout_remote(folder.path()), None);
    git(&["remote", "add", "upstream", "git@github.com:other/ping.git"]);
    assert_eq!(
        checkout_remote(folder.path()).as_deref(),
        Some("git@github.com:other/ping.git")
    );
    git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/learner/ping-workshop",
    ]);
    assert_eq!(
        checkout_remote(folder.path()).as_deref(),
        Some("https://github.com/learner/ping-workshop")
    );
    git(&["config", "branch.main.remote", "upstream"]);
    assert_eq!(
        checkout_remote(folder.path()).as_deref(),
        Some("git@github.com:other/ping.git")
    );
}

/// A learner's Dockerfile that names a frontend of its own is refused before it builds:
/// the directive, read where BuildKit reads it (the top), and nowhere else.
#[test]
fn a_syntax_directive_is_found_where_buildkit_reads_it() {
    use workshop::learner::syntax_line;
    assert_eq!(
        syntax_line("# syntax=docker/dockerfile:1\nFROM scratch\n").as_deref(),
        Some("# syntax=docker/dockerfile:1")
    );
    assert_eq!(
        syntax_line("#escape=`\n# SYNTAX = example.com/frontend\nFROM scratch\n").as_deref(),
        Some("# SYNTAX = example.com/frontend")
    );
    assert_eq!(
        syntax_line("# A comment\n# syntax=docker/dockerfile:1\nFROM scratch\n"),
        None
    );
    assert_eq!(
        syntax_line("FROM scratch\n# syntax=docker/dockerfile:1\n"),
        None
    );
    let reference = std::fs::read_to_string(workshop::repo_root().join("Dockerfile")).unwrap();
    assert_eq!(syntax_line(&reference), None);
}

/// A build's output is read a line at a time, a line cut at 64 KiB: a script that prints
/// megabytes without a break is not held whole.
#[test]
fn a_build_log_line_is_bounded() {
    let mut output = std::io::Cursor::new([vec![b'a'; 1 << 20], b"\nnext\nlast".to_vec()].concat());
    let first = workshop::build::bounded_line(&mut output).unwrap();
    assert_eq!(first.len(), 64 << 10);
    assert_eq!(
        workshop::build::bounded_line(&mut output).as_deref(),
        Some("next")
    );
    assert_eq!(
        workshop::build::bounded_line(&mut output).as_deref(),
        Some("last")
    );
    assert_eq!(workshop::build::bounded_line(&mut output), None);
}

/// Read from the Dockerfile before any build: which build stage an arm64 build would run
/// under emulation on this machine (none when it starts on $BUILDPLATFORM).
#[test]
fn an_emulated_build_stage_is_seen_before_building() {
    use workshop::checks::{emulated_stage, host_platform};
    let read = |slug: &str| {
        std::fs::read_to_string(workshop::repo_root().join(format!("steps/{slug}/Dockerfile")))
            .unwrap()
    };
    let other = if host_platform() == "linux/amd64" {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    // Step 09: no --platform, the build stage is the target's.
    assert!(emulated_stage(&read("09-cache-mounts"), other).is_some());
    assert_eq!(
        emulated_stage(&read("09-cache-mounts"), &host_platform()),
        None
    );
    // Step 10 on: the build stage runs where the build runs.
    for slug in ["10-cross-platform", "13-publish"] {
        assert_eq!(emulated_stage(&read(slug), other), None, "{slug}");
    }
    // Pinned to a platform: emulated wherever that is not this machine's.
    let pinned = read("10-cross-platform")
        .replace("--platform=$BUILDPLATFORM", &format!("--platform={other}"));
    assert!(emulated_stage(&pinned, other).is_some_and(|stage| stage.contains(other)));
    let here = read("10-cross-platform").replace(
        "--platform=$BUILDPLATFORM",
        &format!("--platform={}", host_platform()),
    );
    assert_eq!(emulated_stage(&here, other), None);
}

/// The book is made from one run: results that mix runs (steps measured on two days, a
/// comparison made apart) are refused, saying which came from where.
#[test]
fn the_book_refuses_rows_of_two_runs() {
    use workshop::results::{Comparison, Results, StepResult};
    let step = |slug: &str, run: &str| StepResult {
        slug: slug.into(),
        run: run.into(),
        ..StepResult::default()
    };
    let mut results = Results {
        run: "2026-12-07 05:30 UTC".into(),
        steps: vec![
            step("08-production", "2026-12-07 05:30 UTC"),
            step("09-cache-mounts", "2026-12-07 05:30 UTC"),
        ],
        ..Results::default()
    };
    assert_eq!(results.one_run().unwrap(), "2026-12-07 05:30 UTC");
    results.steps[1].run = "2026-11-30 10:00 UTC".into();
    let refused = results.one_run().expect_err("two runs side by side");
    assert!(
        refused.to_string().contains("more than one run")
            && refused
                .to_string()
                .contains("2026-11-30 10:00 UTC: step 09-cache-mounts"),
        "{refused}"
    );
    results.steps[1].run = results.run.clone();
    results.comparison = Some(Comparison {
        run: "2026-12-06 09:00 UTC".into(),
        ..Comparison::default()
    });
    let refused = results.one_run().expect_err("a comparison of another run");
    assert!(refused.to_string().contains("the comparison"), "{refused}");
    // A record that names no run is no run to show.
    results.comparison = None;
    results.steps[0].run = String::new();
    assert!(results.one_run().is_err());
}

/// The slow link carries what a server sends no faster than its bandwidth: 250 kB at
/// 2 Mbit/s take at least a second (a lower bound: a busy machine is slower, never faster).
#[tokio::test]
async fn the_slow_link_holds_a_download_to_its_bandwidth() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = server.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = server.accept().await.unwrap();
        stream.write_all(&vec![7u8; 250_000]).await.unwrap();
    });
    let link = workshop::link::SlowLink::start(upstream, 2_000_000, Duration::from_millis(20))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut client = tokio::net::TcpStream::connect(link.address).await.unwrap();
    let mut received = Vec::new();
    client.read_to_end(&mut received).await.unwrap();
    assert_eq!(received.len(), 250_000, "every byte arrives");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "250 kB at 2 Mbit/s arrived in {:?}",
        started.elapsed()
    );
}

#[test]
fn a_glibc_too_old_is_read_from_the_loader_and_the_libc() {
    use workshop::running::{glibc_needed, glibc_release};
    let loader = "ping: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.32' not found \
                  (required by ping)\nping: /lib/x86_64-linux-gnu/libc.so.6: version \
                  `GLIBC_2.34' not found (required by ping)";
    assert_eq!(glibc_needed(loader).as_deref(), Some("2.34"));
    assert_eq!(glibc_needed("exec /ping: no such file or directory"), None);
    assert_eq!(glibc_needed("version `GLIBC_' not found"), None);
    let banner = b"\x7fELF...GNU C Library (Debian GLIBC 2.31-13+deb11u11) stable release \
                   version 2.31.\nCopyright (C) 2020";
    assert_eq!(glibc_release(banner).as_deref(), Some("2.31"));
    assert_eq!(glibc_release(b"no banner here"), None);
}

/// The slow link carries every byte, in order, at about its bandwidth: a pipe whose
/// length (the delay) does not cap one connection's throughput.
#[test]
fn the_slow_link_carries_every_byte_in_order() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sent: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = server.local_addr().unwrap();
        let body = sent.clone();
        tokio::spawn(async move {
            let (mut stream, _) = server.accept().await.unwrap();
            stream.write_all(&body).await.unwrap();
            stream.shutdown().await.unwrap();
        });
        // 320 Mbit/s and a 20 ms round trip: 4 MB in about 0.1 s of line time.
        let link =
            workshop::link::SlowLink::start(upstream, 320_000_000, Duration::from_millis(20))
                .await
                .unwrap();
        let started = Instant::now();
        let mut client = tokio::net::TcpStream::connect(link.address).await.unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        let took = started.elapsed();
        assert!(
            received == sent,
            "{} bytes came, {} were sent",
            received.len(),
            sent.len()
        );
        // Chunk by chunk with a 10 ms pause each, it would take 2.4 s.
        assert!(took < Duration::from_secs(2), "4 MB took {took:?}");
    });
}

/// A registry started from a thread that then ends still serves: the kernel kills a
/// child whose parent-death signal is set when the thread that forked it ends, and the
/// measurement started its registry from tokio's blocking pool, whose idle threads end
/// after 10 s (a pull of step 01 broke 9 s in). Needs Debian's docker-registry.
#[test]
fn a_registry_outlives_the_thread_that_started_it() {
    let registry = std::thread::spawn(workshop::registry::Registry::start)
        .join()
        .unwrap()
        .unwrap_or_else(|error| panic!("{error}"));
    std::thread::sleep(Duration::from_secs(1));
    let answer = registry.get("/v2/", "application/json");
    assert!(
        matches!(answer, Ok((200, _))),
        "the registry stopped with the thread that started it: {answer:?}"
    );
}

/// One layer's tar holding `/ping` with these bytes and this time, and `/etc/passwd`.
fn layer_with_ping(bytes: &[u8], mtime: u64) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, content, time) in [
        ("ping", bytes, mtime),
        ("etc/passwd", &b"root:x:0:0\n"[..], 0),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o755);
        header.set_mtime(time);
        header.set_cksum();
        tar.append_data(&mut header, path, content)
            .expect("a tar entry");
    }
    tar.into_inner().expect("a tar")
}

/// When a rebuild gives another digest, the report names each path that differs, how,
/// the instruction that made it and the way out; a path the same in both is not named.
#[test]
fn two_builds_layers_are_compared_path_by_path() {
    let entries = |bytes: &[u8], mtime| {
        vec![workshop::published::tar_entries(&layer_with_ping(bytes, mtime)).expect("entries")]
    };
    let made_by = vec!["COPY --from=build /ping /ping".to_string()];
    let pushed = entries(b"binary", 1_700_000_000);

    let later =
        workshop::published::layers_differ(&pushed, &entries(b"binary", 1_700_000_099), &made_by);
    assert!(
        later.contains("/ping: time (1700000000 pushed, 1700000099 rebuilt), made by `COPY --from=build /ping /ping`")
            && later.contains("SOURCE_DATE_EPOCH")
            && !later.contains("/etc/passwd"),
        "{later}"
    );
    let other =
        workshop::published::layers_differ(&pushed, &entries(b"binary!", 1_700_000_000), &made_by);
    assert!(
        other.contains("/ping: content (6 bytes, 7 rebuilt)") && !other.contains("time ("),
        "{other}"
    );
}

/// The doctor's open-files line: the hard limit a container gets decides how many
/// connections the service holds (it raises its soft limit up to it), so a hard limit
/// below the cap fails, and says how to raise it; Docker's 1024 soft alone does not.
#[test]
fn the_doctor_fails_a_containers_hard_open_files_limit_below_the_services_cap() {
    use workshop::doctor::{Status, open_files_verdict};
    let (status, detail) = open_files_verdict(1024, 524_288);
    assert_eq!(status, Status::Ok, "{detail}");
    assert!(detail.starts_with("1024 soft, 524288 hard: "), "{detail}");
    let (status, detail) = open_files_verdict(1024, 1024);
    assert_eq!(status, Status::Fail, "{detail}");
    assert!(
        detail.contains("below the 2112") && detail.contains("LimitNOFILE"),
        "{detail}"
    );
}

/// A build from nothing (`--no-cache`) waits for the builds under way and then runs
/// alone; a build that starts while it waits or runs waits behind it (BuildKit would hand
/// that build's shared steps to the one ignoring the cache).
#[test]
fn a_build_from_nothing_runs_alone_on_the_builder() {
    use std::sync::mpsc;
    let folder = workshop::files::PrivateDir::new("locks").unwrap();
    let builds = || workshop::locks::Builds::in_folder(folder.path());
    let under_way = builds().beside_others().unwrap();
    let (told, heard) = mpsc::channel();
    std::thread::scope(|scope| {
        let tell = told.clone();
        scope.spawn(move || {
            let held = builds().alone().unwrap();
            tell.send("alone").unwrap();
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        std::thread::sleep(Duration::from_millis(200));
        let tell = told.clone();
        scope.spawn(move || {
            let _held = builds().beside_others().unwrap();
            tell.send("beside").unwrap();
        });
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            heard.try_recv().ok(),
            None,
            "a build from nothing started beside a build under way, or a build started ahead \
             of the build from nothing waiting"
        );
        drop(under_way);
        let order: Vec<&str> = (0..2)
            .map(|_| heard.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert_eq!(order, ["alone", "beside"]);
    });
}

/// A learner's script (step 03) that prints without end: the report keeps its last words
/// and stays small, memory holds at most LOG_LIMIT, and the log's file stops at
/// LOG_FILE_LIMIT, saying how much it left out (80 MB printed here).
#[test]
fn a_script_that_prints_megabytes_is_kept_within_its_bounds() {
    use workshop::build::{LOG_FILE_LIMIT, run_logged};
    let folder = workshop::files::PrivateDir::new("chatty-script").unwrap();
    let script = "head -c 80000000 /dev/zero | tr '\\0' x | fold -w 999; \
                  echo LAST WORDS; exit 3";
    let error = run_logged(
        "step 03",
        script,
        folder.path(),
        "ping:harness-chatty-script",
        false,
        None,
        true,
    )
    .expect_err("the script exits 3");
    let report = error.to_string();
    assert!(report.contains("LAST WORDS"), "the report lost the end");
    assert!(
        report.len() < 64 << 10,
        "the report holds {} bytes of the script's output",
        report.len()
    );
    let path = report
        .split_once("(all of it: ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(path, _)| path.to_string())
        .expect("the report names the log's file");
    let size = std::fs::metadata(&path).unwrap().len();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(
        size <= LOG_FILE_LIMIT + 200,
        "the log's file grew to {size} bytes"
    );
    assert!(
        text.trim_end().ends_with("(the report kept its end)"),
        "the file does not say what it left out: …{}",
        &text[text.len().saturating_sub(200)..]
    );
}
