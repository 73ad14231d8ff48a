//! The unit tests of the BuildKit log reader (buildkit.rs): part of tests/harness/.

use workshop::buildkit::{
    BuildCheckWarning, BuildEcho, build_check_warnings, build_steps, compiled_crates,
    failing_instruction, first_error, imported_layers, running_instructions,
};

/// What a build stopped at its time limit was doing: started, not done.
#[test]
fn the_instructions_still_running_are_named() {
    let log = "#4 [build 1/3] FROM docker.io/library/rust:1.95-slim-trixie\n#4 CACHED\n\
#5 [build 2/3] COPY . .\n#5 DONE 0.1s\n#6 [build 3/3] RUN sleep infinity\n\
#7 [internal] load build context\n#6 CANCELED\n\
ERROR: failed to build: failed to solve: Canceled: context canceled\n";
    assert_eq!(
        running_instructions(log),
        ["[build 3/3] RUN sleep infinity"]
    );
    assert!(running_instructions("#6 [build 3/3] RUN true\n#6 DONE 0.2s\n").is_empty());
}

/// buildx 0.29 lists the build checks' findings after the build, in colour.
#[test]
fn build_check_warnings_are_read_from_a_buildx_log() {
    let log = "#5 DONE 0.4s\n\n \u{1b}[33m2 warnings found (use docker --debug to expand):\n\
\u{1b}[0m - FromAsCasing: 'AS' and 'from' keywords' casing do not match (line 1)\n \
- JSONArgsRecommended: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior \
related to OS signals (line 3)\n\nWhat's next:\n";
    let warnings = build_check_warnings(log);
    assert_eq!(
        warnings,
        [
            BuildCheckWarning {
                rule: "FromAsCasing".into(),
                message: "'AS' and 'from' keywords' casing do not match".into(),
                line: Some(1),
            },
            BuildCheckWarning {
                rule: "JSONArgsRecommended".into(),
                message: "JSON arguments recommended for ENTRYPOINT to prevent unintended \
                          behavior related to OS signals"
                    .into(),
                line: Some(3),
            },
        ]
    );
    assert_eq!(
        warnings[1].workshop_check(),
        Some("exec_form_entrypoint_and_healthcheck")
    );
    assert!(build_check_warnings("#1 DONE 0.1s\n - not a warning: x\n").is_empty());
}

/// buildx 0.29's failure lines: the instruction and the error are still found.
#[test]
fn a_buildx_failure_names_the_instruction_and_the_error() {
    let log = "#0 building with \"default\" instance using docker driver\n\n\
#8 [build 5/7] RUN cargo build --profile dist --locked\n\
#8 3.095 error: cannot update the lock file /app/Cargo.lock because --locked was passed\n\
#8 ERROR: process \"/bin/sh -c cargo build --profile dist --locked\" did not complete successfully: exit code: 101\n\
------\n > [build 5/7] RUN cargo build --profile dist --locked:\n\
3.095 error: cannot update the lock file /app/Cargo.lock because --locked was passed\n------\n\
ERROR: failed to build: failed to solve: process \"/bin/sh -c cargo build\" did not complete successfully: exit code: 101\n";
    assert_eq!(
        failing_instruction(log).as_deref(),
        Some("[build 5/7] RUN cargo build --profile dist --locked")
    );
    assert_eq!(
        first_error(log).as_deref(),
        Some(
            "#8 3.095 error: cannot update the lock file /app/Cargo.lock because --locked was passed"
        )
    );
}

/// BuildKit prints cached steps in any order; the dependency check must not care.
#[test]
fn a_build_log_is_read_in_dockerfile_order() {
    let log = "\
#9 [build 6/6] RUN touch src/main.rs && cargo build --release --locked
#9 DONE 7.1s
#4 [build 1/6] FROM docker.io/library/rust:1.95-slim-trixie
#4 CACHED
#8 [build 4/6] RUN mkdir src && cargo build --release --locked
#8 CACHED
#10 [stage-1 2/2] COPY --from=build /app/target/release/ping /usr/local/bin/ping
#10 DONE 0.1s
";
    let steps = build_steps(log);
    let order: Vec<(&str, u32, bool)> = steps
        .iter()
        .map(|step| (step.stage.as_str(), step.index, step.cached))
        .collect();
    assert_eq!(
        order,
        [
            ("build", 1, true),
            ("build", 4, true),
            ("build", 6, false),
            ("stage-1", 2, false)
        ]
    );
}

/// A learner watching `cargo workshop check` sees each instruction as the build reaches it.
#[test]
fn a_build_is_shown_as_it_moves() {
    let log = "\
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#4 [build 1/6] FROM docker.io/library/rust:1.95-slim-trixie
#4 resolve docker.io/library/rust:1.95-slim-trixie done
#4 CACHED
#8 [build 4/6] RUN mkdir src && echo 'fn main() {}' > src/main.rs && cargo build --release --locked && rm -r src
#8 sha256:1f3e
#8 CACHED
#9 [build 6/6] RUN touch src/main.rs && cargo build --release --locked
#9 0.512    Compiling ping v0.1.0 (/app)
#9 25.10     Finished `release` profile [optimized] target(s) in 24.98s
#9 DONE 25.3s
#10 [stage-1 2/2] COPY --from=build /app/target/release/ping /usr/local/bin/ping
#10 DONE 0.1s
";
    let mut echo = BuildEcho::default();
    let shown: Vec<String> = log.lines().filter_map(|line| echo.line(line)).collect();
    assert_eq!(
        shown,
        [
            "[build 1/6] FROM docker.io/library/rust:1.95-slim-trixie   (cached)",
            "[build 4/6] RUN mkdir src && echo 'fn main() {}' > src/main.rs && cargo build --rele…   (cached)",
            "[build 6/6] RUN touch src/main.rs && cargo build --release --locked",
            "[build 6/6] RUN touch src/main.rs && cargo build --release --locked   done in 25.3s",
            "[stage-1 2/2] COPY --from=build /app/target/release/ping /usr/local/bin/ping",
        ]
    );
}

/// A failed build names its instruction and the first error of the step that failed,
/// not a later line, and not a line that only contains the letters (`thiserror`).
#[test]
fn a_failed_build_names_its_instruction_and_first_error() {
    let log = "\
#7 [build 4/6] RUN cargo build --release --locked
#7 0.3 Downloaded thiserror-impl v2.0.18
#7 1.2 error[E0425]: cannot find value `x` in this scope
#7 1.3 error: could not compile `ping` (bin \"ping\") due to 1 previous error
#7 ERROR: process \"/bin/sh -c cargo build --release --locked\" did not complete successfully: exit code: 101
------
 > [build 4/6] RUN cargo build --release --locked:
------
error: failed to solve: process \"/bin/sh -c cargo build --release --locked\" did not complete successfully: exit code: 101
";
    assert_eq!(
        failing_instruction(log).as_deref(),
        Some("[build 4/6] RUN cargo build --release --locked")
    );
    assert_eq!(
        first_error(log).as_deref(),
        Some("#7 1.2 error[E0425]: cannot find value `x` in this scope")
    );
    assert_eq!(failing_instruction("#1 DONE 0.0s\n"), None);
}

/// What cargo compiled, read from its own lines in BuildKit's log.
#[test]
fn the_crates_cargo_compiled_are_read_from_its_lines() {
    let log = "\
#9 [build 4/4] RUN --mount=type=bind,source=src,target=src cargo build --profile dist --locked
#9 0.41    Compiling proc-macro2 v1.0.95
#9 0.52    Compiling libc v0.2.172
#9 3.10    Compiling ping v0.1.123 (/app)
#9 9.80     Finished `dist` profile [optimized] target(s) in 9.7s
#9 DONE 10.1s
";
    assert_eq!(
        compiled_crates(log),
        ["proc-macro2 v1.0.95", "libc v0.2.172", "ping v0.1.123"]
    );
    assert!(compiled_crates("#9 CACHED\n").is_empty());
}

/// A layer taken from `--cache-from` is extracted before it is CACHED; one the builder
/// kept is CACHED at once; a base image extracted in its pull is no imported layer.
/// (BuildKit v0.25's log of a build given a local cache.)
#[test]
fn imported_layers_are_told_from_the_builders_own() {
    let log = "#4 importing cache manifest from local:2364423776936157465\n#4 DONE 0.0s\n\
#5 [stage-0 1/3] FROM docker.io/library/debian:trixie-slim@sha256:cea1\n\
#5 extracting sha256:0a1b 0.4s done\n#5 DONE 0.5s\n\
#6 [stage-0 2/3] RUN echo one > /one\n#6 CACHED\n\
#7 [stage-0 3/3] RUN echo two > /two\n\
#7 sha256:fb32 101B / 101B done\n#7 extracting sha256:fb32 0.0s done\n#7 CACHED\n";
    assert_eq!(imported_layers(log), ["RUN echo two > /two"]);
    assert!(imported_layers("#6 [stage-0 2/3] RUN true\n#6 CACHED\n").is_empty());
}
