//! The harness's own unit tests: the parts of tests/support/ that need no Docker.
//! (Every test binary includes tests/support/; its unit tests are compiled here only.)
mod support;

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
