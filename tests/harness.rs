//! The harness's own unit tests: the parts of tests/support/ that need no Docker.
//! (Every test binary includes tests/support/; its unit tests are compiled here only.)
mod support;

use std::time::Duration;

#[path = "support/buildkit_tests.rs"]
mod buildkit_tests;
#[path = "support/load_tests.rs"]
mod load_tests;

fn files_of(entries: &[(&str, Option<&str>)]) -> support::Files {
    support::Files(
        entries
            .iter()
            .map(|(path, link)| {
                (
                    path.to_string(),
                    support::Entry {
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
    use support::running::KernelStatus;
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
    use support::running::Socket;
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
    use support::checks::idle_keep_alive_is_closed;
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
    use support::checks::declares_only_what_it_serves;
    use testcontainers::bollard::models::ImageConfig;
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
        support::files::PrivateDir::new("test").unwrap(),
        support::files::PrivateDir::new("test").unwrap(),
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
    let mut results = support::results::Results::default();
    let contender: support::results::ContenderResult = serde_json::from_str(
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
    results.comparison = Some(support::results::Comparison {
        contenders: vec![contender],
        ..Default::default()
    });
    let page = support::comparison::markdown(Some(&results));
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
    use support::results::{Comparison, ContenderResult, CpuPerRequest, Load, Results};
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
    let page = support::comparison::markdown(Some(&results));
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
    use support::results::{Results, StopForm, Trades};
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
    let page = support::trades::stops_markdown(Some(&results));
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
        support::trades::stops_markdown(None).contains("instructor trades"),
        "an unmeasured table says how to measure it"
    );
}

/// A fresh CI runner forgets a build's RUNs by the names BuildKit gives their records:
/// the command as the Dockerfile wrote it, continuation lines joined, flags taken off,
/// `$CARGO_HOME` unexpanded (`docker buildx du` on Engine 28.5 lists step 09's as
/// `mount / from exec /bin/sh -c cargo build --profile dist --locked  && cp …`).
#[test]
fn a_dockerfiles_runs_are_named_as_buildkit_names_their_records() {
    let step = support::Step::get("09-cache-mounts");
    let commands = support::ci_cache::run_commands(&step.dockerfile_text().unwrap());
    assert_eq!(
        commands,
        [
            r#"target="$(uname -m)-unknown-linux-musl"  && rustup target add "$target"  && printf '[build]\ntarget = "%s"\n' "$target" >> "$CARGO_HOME/config.toml""#,
            r#"cargo build --profile dist --locked  && cp "target/$(uname -m)-unknown-linux-musl/dist/ping" /ping"#,
        ]
    );
    // Its cache mounts, each one record named `… with id "/ping-target"` whichever RUN made it.
    assert_eq!(
        support::ci_cache::cache_mount_ids(&step.dockerfile_text().unwrap()),
        ["ping-target", "ping-reg"]
    );
    // Without an id, a mount's id is its target.
    assert_eq!(
        support::ci_cache::cache_mount_ids("RUN --mount=type=cache,target=/app/target cargo build"),
        ["/app/target"]
    );
}
