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
