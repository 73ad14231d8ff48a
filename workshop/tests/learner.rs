//! Learner mode: what a learner sees when their own Dockerfile is checked, broken in
//! the usual ways, and what `doctor` and `progress` say. Each broken Dockerfile is a
//! reference with one edit, so its build reuses the reference's cached layers.

use std::path::PathBuf;
use std::time::Duration;

use workshop::doctor::{Doctor, Status};
use workshop::learner::{self, Built, Report};
use workshop::progress::Progress;
use workshop::{Must, Step, docker, repo_root};

/// A learner's copy of a step's files in a temporary folder, with one edit applied
/// to `file`; removes the folder and the image it was checked as when dropped.
struct Yours {
    folder: PathBuf,
    file: PathBuf,
    tag: String,
}

impl Yours {
    fn of(slug: &str, case: &str, file: &str, edit: impl Fn(&str) -> String) -> Yours {
        let step = Step::get(slug);
        // A space in the path, as under /mnt/c/Users/Jane Doe/ in WSL.
        let folder =
            std::env::temp_dir().join(format!("ping-workshop yours-{case}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).expect("create a learner's folder");
        for entry in std::fs::read_dir(&step.dir).expect("read the step folder") {
            let path = entry.expect("a file of the step").path();
            // Files only: a step's exercises/ folder is the chapter's, not the learner's.
            if path.is_file() && path.file_name().is_some_and(|name| name != "step.toml") {
                std::fs::copy(&path, folder.join(path.file_name().unwrap())).expect("copy");
            }
        }
        let path = folder.join(file);
        let original = std::fs::read_to_string(&path).expect("read the copied file");
        let edited = edit(&original);
        assert_ne!(edited, original, "the edit for {case} changed nothing");
        std::fs::write(&path, edited).expect("write the edited file");
        Yours {
            folder,
            file: path,
            tag: format!("ping:learner-{case}"),
        }
    }

    /// Runs `cargo workshop check`'s code on this copy. Two builds may run at once (a
    /// link with one codegen unit keeps one core busy), but the checks run alone: a check
    /// that measures (a slow client cut off within 5 s and a second) must not share two
    /// cores with a build compiling beside it. The limit only catches a hang.
    async fn check(&self, slug: &str) -> Report {
        self.check_step(Step::get(slug)).await
    }

    /// `check`, with the step's checks run up to and including `last` only: a test about
    /// one check does not wait for the slow ones after it (the HTTP limits take a minute).
    async fn check_through(&self, slug: &str, last: &str) -> Report {
        let mut step = Step::get(slug);
        let at = step
            .facts
            .checks
            .iter()
            .position(|check| check.name() == last)
            .unwrap_or_else(|| panic!("step {slug} has no check {last}"));
        step.facts.checks.truncate(at + 1);
        // A test about some checks reads none of the demonstrations.
        step.facts.demos.clear();
        self.check_step(step).await
    }

    /// `check`, with only the step's checks named in `only`: a test about a check late
    /// in the list (step 13's) does not wait for every check before it.
    async fn check_only(&self, slug: &str, only: &[&str]) -> Report {
        let mut step = Step::get(slug);
        step.facts
            .checks
            .retain(|check| only.contains(&check.name()));
        assert_eq!(
            step.facts.checks.len(),
            only.len(),
            "step {slug} checks {only:?}"
        );
        step.facts.demos.clear();
        self.check_step(step).await
    }

    async fn check_step(&self, step: Step) -> Report {
        // Builds run side by side; a check that runs a container runs alone on the
        // machine (the harness's `locks`), whichever test file it belongs to.
        let limit = Duration::from_secs(1800);
        let yours = step.learners(&self.file, &self.tag).must();
        let checked = async {
            let built = learner::build(yours).await;
            learner::report(&step, built).await
        };
        let report = tokio::time::timeout(limit, checked)
            .await
            .unwrap_or_else(|_| panic!("checking {} took longer than {limit:?}", self.tag));
        println!("{report}");
        report
    }
}

impl Drop for Yours {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
        // The image, step 03's build image, step 10's arm64 and multi-platform images, a
        // rebuild left by a check that stopped half way.
        for suffix in ["", "-build", "-arm64", "-multi", "-rebuild"] {
            let tag = format!("{}{suffix}", self.tag);
            if docker::image_id(&tag).is_some() {
                let _ = docker::run(&["image", "rm", "--force", &tag]);
            }
        }
    }
}

/// The report's line for one check.
fn outcome_of<'a>(report: &'a Report, check: &str) -> &'a workshop::checks::Outcome {
    report
        .outcomes
        .iter()
        .find(|o| o.check.name() == check)
        .unwrap_or_else(|| panic!("the report has no check {check}"))
}

/// The report's text for one check, from its ✗ line to its hint.
fn failure_of(report: &Report, check: &str) -> String {
    let problem = outcome_of(report, check)
        .result
        .as_ref()
        .expect_err(&format!("{check} should fail"));
    format!("{}\nhint: {}", problem.found(), problem.hint())
}

/// What a report says when the build failed: every check of the step is named as not run.
fn none_of_the_checks_ran(slug: &str) -> String {
    format!(
        "none of the {} checks ran",
        Step::get(slug).facts.checks.len()
    )
}

fn assert_says(text: &str, wanted: &[&str]) {
    for phrase in wanted {
        assert!(text.contains(phrase), "expected {phrase:?} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_syntax_error_shows_the_line_and_the_error() {
    let yours = Yours::of("08-production", "syntax", "Dockerfile", |text| {
        text.replacen("FROM scratch", "FORM scratch", 1)
    });
    let report = yours.check("08-production").await;
    let failure = report.build.as_ref().expect_err("the build must fail");
    assert_says(
        &failure.report,
        &[
            ": FORM scratch",
            "unknown instruction: FORM",
            "Docker could not read the Dockerfile",
        ],
    );
    assert!(failure.instruction.as_deref().unwrap().starts_with("line "));
    assert_says(
        &report.to_string(),
        &[
            "✗ the build failed",
            &none_of_the_checks_ran("08-production"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_copy_from_path_names_the_instruction_and_where_to_look() {
    let yours = Yours::of("08-production", "copy-from", "Dockerfile", |text| {
        text.replace(
            "COPY --from=build /ping /ping",
            "COPY --from=build /app/target/release/pong /ping",
        )
    });
    let report = yours.check("08-production").await;
    let failure = report.build.as_ref().expect_err("the build must fail");
    assert_eq!(
        failure.instruction.as_deref(),
        Some("[stage-1 1/1] COPY --from=build /app/target/release/pong /ping")
    );
    // BuildKit says "not found", or "no such file or directory" when a folder on the
    // way is missing too: the hint is the same.
    assert_says(
        &failure.report,
        &[
            "/app/target/release",
            "where did that stage's build put the binary?",
            "--- last lines of the build log",
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shell_form_cmd_in_scratch_is_explained_before_docker_fails() {
    let yours = Yours::of("06-static-scratch", "shell-form", "Dockerfile", |text| {
        text.replace("ENTRYPOINT [\"/ping\"]", "CMD /ping")
    });
    let report = yours.check("06-static-scratch").await;
    assert_says(
        &failure_of(&report, "answers_pong"),
        &[
            "CMD is in shell form",
            "[\"/bin/sh\", \"-c\", \"/ping\"]",
            "the image has no /bin/sh",
            "exec form",
        ],
    );
    // The rest of the report still judges the image: the binary is fine.
    assert_eq!(report.failed(), ["answers_pong"]);
    // BuildKit's own build check saw the shell form too; the report shows both.
    assert_says(
        &report.to_string(),
        &[
            "BuildKit's build checks warn",
            "! JSONArgsRecommended, line ",
            "JSON arguments recommended for CMD",
            // Step 06 does not run the workshop's own check of it: the report says where it
            // comes, rather than letting a passing step read as the warning answered.
            "the workshop checks it from step 08 on (exec_form_entrypoint_and_healthcheck), \
             not yet in this step",
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_on_the_wrong_port_is_named_at_once() {
    let yours = Yours::of("06-static-scratch", "port", "Dockerfile", |text| {
        text.replace(
            "ENTRYPOINT [\"/ping\"]",
            "ENV PORT=3000\nENTRYPOINT [\"/ping\"]",
        )
    });
    let report = yours
        .check_only("06-static-scratch", &["answers_pong"])
        .await;
    assert_says(
        &failure_of(&report, "answers_pong"),
        &[
            "listens on port 3000",
            "reaches it on port 8080",
            "ENV or EXPOSE",
        ],
    );
    // Read from the service's own log line, not from a 30 s wait for an answer.
    let took = outcome_of(&report, "answers_pong").took;
    assert!(
        took < Duration::from_secs(25),
        "the wrong port took {took:?} to name"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_glibc_binary_in_scratch_that_never_starts_is_explained() {
    // Step 05's build (glibc), its binary copied into scratch: the classic first try at 06.
    let yours = Yours::of(
        "05-dependency-cache",
        "glibc-scratch",
        "Dockerfile",
        |text| {
            text.replace("FROM debian:trixie-slim", "FROM scratch")
                .replace("/usr/local/bin/ping", "/ping")
                .replace("CMD [\"ping\"]", "ENTRYPOINT [\"/ping\"]")
        },
    );
    let report = yours
        .check_only("06-static-scratch", &["answers_pong", "binary_is_static"])
        .await;
    assert_says(
        &failure_of(&report, "answers_pong"),
        &[
            "exited",
            "before answering GET /ping",
            "no such file or directory",
            "/ping is dynamically linked: it needs the loader",
            "musl",
        ],
    );
    assert_says(
        &failure_of(&report, "binary_is_static"),
        &["dynamically linked", "musl target"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_placeholder_binary_that_exits_at_once_is_explained() {
    // The dependency layer's placeholder shipped: without the `touch`, cargo keeps it.
    the_file_edited_fails(
        "06-static-scratch",
        "placeholder",
        |text| {
            text.replace(
                "cp target/*-unknown-linux-musl/release/ping /ping",
                "cp target/*-unknown-linux-musl/release/ping /ping.real \\\n && printf 'fn main() {}' > src/main.rs && cargo build --release --locked \\\n && cp target/*-unknown-linux-musl/release/ping /ping",
            )
        },
        "answers_pong",
        &[
            "exited (code 0) before answering GET /ping",
            "(the container printed nothing)",
            "a placeholder built for the dependency layer?",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reference_checked_as_yours_passes() {
    let yours = Yours::of("08-production", "reference", "Dockerfile", |text| {
        format!("# a learner's copy\n{text}")
    });
    let report = yours.check("08-production").await;
    assert!(
        report.passed(),
        "the reference, as a learner's file:\n{report}"
    );
    let Ok(Built { tag, .. }) = &report.build else {
        unreachable!()
    };
    assert_eq!(tag, "ping:learner-reference");
}

/// The learner tool builds a learner's file with cache mounts of its own: what a
/// learner's build leaves in a mount with the reference's id (`ping-target`) its own next
/// build finds, and a build without the learner's namespace (the reference's) does not.
#[test]
fn a_learners_cache_mounts_are_apart_from_the_references() {
    let folder = workshop::files::PrivateDir::new("cache-apart").must();
    let marker = format!("/app/target/left-by-a-learner-{}", std::process::id());
    let step = Step::get("09-cache-mounts");
    let build = |name: &str, command: &str, learners: bool| -> bool {
        let file = folder.path().join(format!("{name}.Dockerfile"));
        let text = format!(
            "FROM rust:1.95-slim-trixie\n\
             RUN --mount=type=cache,id=ping-target,target=/app/target,sharing=locked {command}\n"
        );
        std::fs::write(&file, text).expect("write a Dockerfile");
        let tag = format!("ping:cache-apart-{name}");
        let yours = if learners {
            step.learners(&file, &tag)
        } else {
            step.yours(&file, &tag)
        };
        match yours.must().try_build() {
            Ok(image) => {
                image.remove();
                true
            }
            Err(_) => false,
        }
    };
    assert!(build("learner-writes", &format!("touch {marker}"), true));
    let learner_finds = build("learner-reads", &format!("test -e {marker}"), true);
    let reference_finds = !build("reference-reads", &format!("test ! -e {marker}"), false);
    build("learner-tidies", &format!("rm -f {marker}"), true);
    assert!(
        learner_finds,
        "the learner's next build did not find {marker}"
    );
    assert!(
        !reference_finds,
        "a reference build found {marker}, which a learner's build left in its cache mount"
    );
}

/// Learners lay an image out their own way: `docker init` copies the binary to
/// /bin/server, others pick another uid or stage name. Every layout that keeps the image
/// to one static binary run by an unprivileged user passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_layout_of_its_own_passes() {
    let yours = Yours::of("08-production", "own-layout", "Dockerfile", |text| {
        let own = text
            .replace(" AS build\n", " AS builder\n")
            .replace(
                "COPY --from=build /ping /ping",
                "COPY --from=builder /ping /bin/server",
            )
            .replace("USER 65532:65532", "USER 10001:10001")
            .replace("\"/ping\"", "\"/bin/server\"");
        assert!(
            own.contains("/bin/server\", \"healthcheck\"]")
                && own.contains("ENTRYPOINT [\"/bin/server\"]")
                && !own.contains("--from=build "),
            "step 08's Dockerfile no longer reads as this test expects:\n{own}"
        );
        own
    });
    // Through the graceful stop: the threads and the HTTP limits after it are the
    // service's, the same whatever the layout (and a minute of the run).
    let report = yours
        .check_through("08-production", "stops_gracefully")
        .await;
    assert!(
        report.passed(),
        "/bin/server, uid 10001, a stage named builder:\n{report}"
    );
}

/// A learner's script runs on the host: with the few variables a build needs, not the
/// environment of whoever runs the check (cargo's own variables stand for its tokens).
#[tokio::test(flavor = "multi_thread")]
async fn the_builder_pattern_runs_the_learners_own_script() {
    let from_cargo = ["CARGO", "CARGO_MANIFEST_DIR", "CARGO_PKG_NAME"];
    assert!(
        from_cargo
            .iter()
            .any(|name| std::env::var_os(name).is_some()),
        "run under cargo test: it sets {from_cargo:?}, which the script must not see"
    );
    let yours = Yours::of("03-builder-pattern", "script", "build.sh", |text| {
        let leaks = from_cargo
            .map(|name| {
                format!("[ -z \"${{{name}:-}}\" ] || {{ echo '{name} leaked' >&2; exit 1; }}\n")
            })
            .concat();
        format!("{text}{leaks}echo 'built by the learner'\n")
    });
    let report = yours.check("03-builder-pattern").await;
    assert!(report.passed(), "the learner's copy of step 03:\n{report}");
    // The script used the learner's Dockerfiles and the tag it was given.
    assert!(docker::image_id("ping:learner-script-build").is_some());
}

#[test]
fn a_missing_file_says_how_to_start_the_step() {
    let step = Step::get("05-dependency-cache");
    let message = step
        .yours(&step.dir.join("no-such-Dockerfile"), "ping:x")
        .expect_err("a missing file is an error")
        .to_string();
    assert_says(
        &message,
        &[
            "steps/05-dependency-cache/no-such-Dockerfile does not exist yet",
            "name your Dockerfile (default: yours/05-dependency-cache/Dockerfile)",
        ],
    );

    let message = step
        .yours(&repo_root().join(step.yours_dir()), "ping:x")
        .expect_err("a missing folder is an error")
        .to_string();
    assert_says(
        &message,
        &[
            "yours/05-dependency-cache/Dockerfile does not exist yet",
            "start from the previous step's files",
            "mkdir -p yours/05-dependency-cache",
            "cp steps/04-multi-stage/Dockerfile steps/04-multi-stage/Dockerfile.dockerignore yours/05-dependency-cache/",
        ],
    );
}

#[test]
fn progress_shows_each_step_and_what_comes_next() {
    let yours = std::env::temp_dir().join(format!("ping-workshop-progress-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&yours);
    let write = |slug: &str, text: &str| {
        std::fs::create_dir_all(yours.join(slug)).unwrap();
        std::fs::write(yours.join(slug).join("Dockerfile"), text).unwrap();
    };
    let record = |slug: &str, failed: bool| record_a_check(&yours, slug, failed);
    write("01-naive", "FROM rust");
    record("01-naive", false);
    write("02-slim-base", "FROM rust:slim");
    record("02-slim-base", true);
    write("03-builder-pattern", "FROM debian");
    record("03-builder-pattern", false);
    write("03-builder-pattern", "FROM debian:changed");
    write("04-multi-stage", "FROM rust AS build");

    let shown = Progress::load(&yours).render(&yours).must();
    println!("{shown}");
    let _ = std::fs::remove_dir_all(&yours);
    assert_says(
        &shown,
        &[
            "01 naive               ✓ passes",
            "02 slim-base           ✗ fails within_budget",
            "03 builder-pattern     ~ changed since the last check: check again",
            "04 multi-stage         · written, not checked yet",
            "05 dependency-cache    · not started",
            "next: step 02 (A slim base and a .dockerignore): `cargo workshop check 02`",
        ],
    );
}

/// `cargo workshop` alone watches the step the learner is at: the first one their files
/// do not pass. Steps 01 and 02 pass here and step 03 is not started, so it names step
/// 03's file, and exits 2 without a build; with step 02's files
/// removed, step 02's.
#[test]
fn the_tool_alone_watches_the_step_you_are_at() {
    let yours = TempYours::new("bare");
    for slug in ["01-naive", "02-slim-base"] {
        std::fs::create_dir_all(yours.0.join(slug)).unwrap();
        std::fs::write(yours.0.join(slug).join("Dockerfile"), "FROM rust").unwrap();
        record_a_check(&yours.0, slug, false);
    }
    let printed = run_tool(&mut yours.tool(), 2);
    assert_says(
        &printed,
        &["/03-builder-pattern/build.sh does not exist yet"],
    );
    // Step 02's files gone: it no longer passes, and it is the step the learner is at.
    std::fs::remove_dir_all(yours.0.join("02-slim-base")).unwrap();
    let printed = run_tool(&mut yours.tool(), 2);
    assert_says(&printed, &["/02-slim-base/Dockerfile does not exist yet"]);
}

/// `cargo workshop progress` plans: the next step's minutes and those of the steps left
/// (the book's estimates), and whether this machine has what the next step needs.
#[test]
fn progress_plans_the_next_step_and_the_time_left() {
    docker::ready().must();
    let yours = TempYours::new("plan");
    std::fs::create_dir_all(yours.0.join("01-naive")).unwrap();
    std::fs::write(yours.0.join("01-naive").join("Dockerfile"), "FROM rust").unwrap();
    record_a_check(&yours.0, "01-naive", false);
    let printed = run_tool(yours.tool().arg("progress"), 0);
    assert_says(
        &printed,
        &[
            "01 naive               ✓ passes",
            "next: step 02",
            "Step 02 takes about ",
            " minutes; the steps left, about ",
            "This machine has what step 02 needs.",
        ],
    );
}

#[test]
fn doctor_says_how_to_start_docker_when_it_is_unreachable() {
    let doctor = Doctor::examine(Some("unix:///nonexistent/docker.sock".into()));
    println!("{doctor}");
    let first = &doctor.lines[0];
    assert_eq!(first.status, Status::Fail);
    assert_says(
        &first.detail,
        &[
            "not reachable at unix:///nonexistent/docker.sock",
            "Start Docker",
        ],
    );
    assert!(
        doctor.lines[1..]
            .iter()
            .filter(|line| !NOT_DOCKERS.contains(&line.what.as_str()))
            .all(|line| line.status == Status::Skipped),
        "every later line but the tools' waits for Docker"
    );
    assert_eq!(doctor.failures(), 1);
}

/// The doctor's lines about tools that are not Docker's: checked without Docker too.
const NOT_DOCKERS: &[&str] = &[
    "cargo-audit (step 11)",
    "cosign (step 13)",
    "registry (step 13)",
];

#[test]
fn doctor_finds_this_machine_ready() {
    docker::ready().must();
    let doctor = Doctor::examine(None);
    println!("{doctor}");
    let whats: Vec<&str> = doctor.lines.iter().map(|line| line.what.as_str()).collect();
    for wanted in [
        "Docker",
        "engine",
        "image store (step 10)",
        "BuildKit",
        "disk space",
        "base image rust:1.95-trixie",
        "base image rust:1.95-slim-trixie",
        "base image debian:trixie-slim",
        "HTTPS in a container",
        "open files in a container",
        "arm64 emulation (step 10)",
        "cargo-audit (step 11)",
        "cosign (step 13)",
        "registry (step 13)",
    ] {
        assert!(whats.contains(&wanted), "doctor checks {wanted}: {whats:?}");
    }
    assert_eq!(doctor.failures(), 0, "{doctor}");
    let engine = &doctor.lines[whats.iter().position(|what| *what == "engine").unwrap()];
    assert_says(&engine.detail, &["Docker Engine ", "image store"]);
    let open_files = &doctor.lines[whats
        .iter()
        .position(|what| *what == "open files in a container")
        .unwrap()];
    assert_says(
        &open_files.detail,
        &[" soft, ", " hard: the service raises"],
    );
}

/// The start commands the book shows work as pasted: run in a copy of the steps, they
/// leave every file the step's build reads in the learner's folder (renamed where the
/// step names its files differently, as 03 and 04 do), not a stray file a build ignores.
#[test]
fn every_step_can_be_started_from_the_previous_one() {
    let sandbox = std::env::temp_dir().join(format!("ping-start-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&sandbox);
    std::fs::create_dir_all(&sandbox).unwrap();
    std::os::unix::fs::symlink(repo_root().join("steps"), sandbox.join("steps")).unwrap();
    for step in Step::all().must() {
        let slug = &step.slug;
        let script = step.start_commands().must().join("\n");
        let output = std::process::Command::new("sh")
            .args(["-eu", "-c", &script])
            .current_dir(&sandbox)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{slug}: the start commands fail:\n{script}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let previous = step.previous().must();
        let started: Vec<String> = std::fs::read_dir(sandbox.join(step.yours_dir()))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        for file in &started {
            assert!(
                step.learner_files().contains(file),
                "{slug}: the start commands leave {file}, which this step's build does not read"
            );
        }
        // Every step after the first starts from a Dockerfile, and every file the step has
        // that the previous step had in some form is started.
        if let Some(previous) = previous {
            assert!(
                started
                    .iter()
                    .any(|f| f.starts_with("Dockerfile") && !f.ends_with(".dockerignore")),
                "{slug}: the start commands give the learner no Dockerfile to start from:\n{script}"
            );
            for file in step.learner_files() {
                let has_source = previous.learner_files().contains(&file)
                    || step.facts.start.contains_key(&file);
                assert!(
                    !has_source || started.contains(&file),
                    "{slug}: the start commands do not make {file}:\n{script}"
                );
            }
        }
        assert!(
            repo_root().join(step.reference_file()).is_file(),
            "{slug}: the reference file {} does not exist",
            step.reference_file().display()
        );
    }
    let _ = std::fs::remove_dir_all(&sandbox);
}

// The workshop tool itself, run as a learner runs it (`cargo workshop …`): its exit
// codes, and messages instead of backtraces.

/// The workshop tool, as cargo built it for these tests.
fn workshop_tool() -> assert_cmd::Command {
    let tool = env!("CARGO_BIN_EXE_workshop");
    let mut command = assert_cmd::Command::new(tool);
    command
        .current_dir(repo_root())
        .timeout(Duration::from_secs(300));
    command
}

/// What the tool printed, after checking it exited with `code` and printed no backtrace.
fn run_tool(command: &mut assert_cmd::Command, code: i32) -> String {
    let output = command.output().expect("run the workshop tool");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{printed}");
    assert_eq!(output.status.code(), Some(code), "exit code of:\n{printed}");
    for backtrace in ["panicked at", "stack backtrace", "RUST_BACKTRACE"] {
        assert!(!printed.contains(backtrace), "a backtrace in:\n{printed}");
    }
    printed
}

#[test]
fn the_tool_names_the_steps_when_asked_for_one_that_does_not_exist() {
    let printed = run_tool(workshop_tool().args(["check", "42"]), 2);
    assert_says(
        &printed,
        &[
            "invalid value '42' for '<STEP>'",
            "there is no step \"42\"; the steps are 01-naive, 02-slim-base",
            "try '--help'",
        ],
    );
    // The learner's commands first, the instructors' grouped apart; the exit statuses.
    let printed = run_tool(workshop_tool().arg("--help"), 0);
    assert_says(
        &printed,
        &[
            "Usage: cargo workshop [COMMAND]",
            "doctor",
            "check",
            "watch",
            "hint",
            "reset",
            "solution",
            "progress",
            "instructor",
            "Exit status: 0 every check passes, 1 a check failed, 2 a usage or machine problem",
        ],
    );
    let printed = run_tool(workshop_tool().args(["instructor", "--help"]), 0);
    assert_says(&printed, &["generate", "measure"]);
}

#[test]
fn the_tool_says_where_a_missing_file_should_be_even_without_docker() {
    let printed = run_tool(
        workshop_tool()
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .args(["check", "5", "/nonexistent/Dockerfile"]),
        2,
    );
    assert_says(&printed, &["/nonexistent/Dockerfile does not exist yet"]);
}

#[test]
fn the_tool_without_docker_says_how_to_start_it() {
    let step = Step::get("08-production");
    let no_docker = "unix:///nonexistent/docker.sock";
    let printed = run_tool(
        workshop_tool()
            .env("DOCKER_HOST", no_docker)
            .args(["check", "08"])
            .arg(step.dir.join("Dockerfile")),
        2,
    );
    assert_says(
        &printed,
        &[no_docker, "Start Docker", "cargo workshop doctor"],
    );
    let printed = run_tool(
        workshop_tool().env("DOCKER_HOST", no_docker).arg("doctor"),
        2,
    );
    assert_says(&printed, &["Start Docker", "needs Docker first"]);
}

#[test]
fn the_tool_reports_a_broken_dockerfile_and_fails() {
    docker::ready().must();
    let yours = Yours::of("08-production", "tool", "Dockerfile", |text| {
        text.replacen("FROM scratch", "FORM scratch", 1)
    });
    let progress = std::fs::read(repo_root().join("yours/progress.json")).ok();
    let printed = run_tool(workshop_tool().args(["check", "08"]).arg(&yours.file), 1);
    assert_says(
        &printed,
        &[
            "Building with `docker build",
            "unknown instruction: FORM",
            "✗ the build failed",
            &none_of_the_checks_ran("08-production"),
        ],
    );
    // A file outside yours/ is not the learner's progress.
    assert!(!printed.contains("Recorded"), "{printed}");
    assert_eq!(
        std::fs::read(repo_root().join("yours/progress.json")).ok(),
        progress
    );
}

/// A build that never ends (`RUN sleep infinity`) is stopped at the build limit (set
/// low here), the report names the instruction, and nothing of the build keeps running.
#[test]
fn a_build_that_never_ends_is_stopped_at_its_limit_and_named() {
    docker::ready().must();
    let yours = Yours::of("06-static-scratch", "sleeps", "Dockerfile", |text| {
        text.replacen("RUN mkdir src", "RUN sleep infinity\nRUN mkdir src", 1)
    });
    let started = std::time::Instant::now();
    let printed = run_tool(
        workshop_tool()
            .env("PING_BUILD_TIMEOUT", "20")
            .args(["check", "06"])
            .arg(&yours.file),
        1,
    );
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the check took {:?} with a 20 s build limit",
        started.elapsed()
    );
    assert_says(
        &printed,
        &[
            "the build was still running after 20 s, and was stopped during [build ",
            "RUN sleep infinity",
            "PING_BUILD_TIMEOUT",
        ],
    );
    // BuildKit ends the step's process once the client has cancelled the build.
    let sleeping = || {
        let listed = std::process::Command::new("pgrep")
            .args(["-f", "^sleep infinity$"])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&listed.stdout).trim().to_string()
    };
    let waited = std::time::Instant::now();
    while !sleeping().is_empty() && waited.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(sleeping(), "", "the build's `sleep infinity` still runs");
    assert_eq!(containers_of(&yours.tag), 0);
    assert!(
        docker::image_id(&yours.tag).is_none(),
        "a stopped build made an image"
    );
}

// --- A wider set of learner mistakes, and valid alternatives that must pass ----------
// Each is the reference with one edit, as a learner would make it.

/// The containers of an image, running or not: nothing a check starts may outlive it.
fn containers_of(tag: &str) -> usize {
    let listed = docker::run(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("ancestor={tag}"),
    ]);
    String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .count()
}

fn assert_never_says(text: &str, unwanted: &[&str]) {
    for phrase in unwanted {
        assert!(
            !text.contains(phrase),
            "did not expect {phrase:?} in:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_placeholder_in_a_debian_image_is_not_blamed_on_the_loader() {
    // Step 05 without the `touch`, on a machine where the source is older than the
    // placeholder's build (edited, then built): cargo keeps the placeholder. Here the
    // source's time is set back in the build, since a fresh clone's files are newer than
    // a dependency layer cached before it. Debian has the loader (/lib64 is a link into
    // /usr), so the report must not send the learner to musl.
    let yours = Yours::of(
        "05-dependency-cache",
        "placeholder-debian",
        "Dockerfile",
        |text| {
            text.replace(
                "RUN touch src/main.rs && cargo build",
                "RUN touch -d @946684800 src/main.rs && cargo build",
            )
        },
    );
    let report = yours
        .check_only("05-dependency-cache", &["answers_pong"])
        .await;
    let failure = failure_of(&report, "answers_pong");
    assert_says(
        &failure,
        &[
            "exited (code 0)",
            "a placeholder built for the dependency layer?",
        ],
    );
    assert_never_says(&failure, &["dynamically linked", "musl", "loader"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misspelt_base_image_is_named_with_the_closest_workshop_image() {
    let yours = Yours::of("04-multi-stage", "from-typo", "Dockerfile", |text| {
        text.replace(
            "FROM rust:1.95-slim-trixie AS build",
            "FROM rust:1.95-slim-trixy AS build",
        )
    });
    let report = yours.check("04-multi-stage").await;
    let text = report.to_string();
    assert_says(
        &text,
        &[
            "✗ the build failed",
            "error:       FROM rust:1.95-slim-trixy: the image is not in your local Docker",
            "not one of the workshop's base images; did you mean rust:1.95-slim-trixie?",
        ],
    );
    assert_never_says(&text, &["prepare.sh"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_explicit_shell_wrapper_in_scratch_is_read_as_written() {
    let yours = Yours::of("06-static-scratch", "sh-wrapper", "Dockerfile", |text| {
        text.replace(
            "ENTRYPOINT [\"/ping\"]",
            "ENTRYPOINT [\"/bin/sh\", \"-c\", \"exec /ping\"]",
        )
    });
    let report = yours.check("06-static-scratch").await;
    let failure = failure_of(&report, "answers_pong");
    assert_says(
        &failure,
        &[
            "runs the service through /bin/sh, but the image has no /bin/sh",
            "ENTRYPOINT [\"/ping\"]",
        ],
    );
    assert_never_says(&failure, &["shell form: Docker runs it as"]);
    // The binary behind `exec` is found: the rest of the report judges /ping itself.
    assert_eq!(report.failed(), ["answers_pong"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_named_user_in_scratch_is_explained_and_leaves_no_container_behind() {
    let yours = Yours::of("08-production", "user-name", "Dockerfile", |text| {
        text.replace("USER 65532:65532", "USER nobody")
    });
    let report = yours
        .check_only(
            "08-production",
            &["answers_pong", "runs_as_numeric_non_root_user"],
        )
        .await;
    assert_says(
        &failure_of(&report, "runs_as_numeric_non_root_user"),
        &["USER \"nobody\" is not numeric", "uid:gid"],
    );
    assert_says(
        &failure_of(&report, "answers_pong"),
        &["unable to find user nobody", "give USER as numbers"],
    );
    assert_eq!(
        containers_of(&yours.tag),
        0,
        "the checks left containers of {} behind (docker ps -a)",
        yours.tag
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_final_stage_on_the_rust_image_ships_the_toolchain() {
    let yours = Yours::of("04-multi-stage", "final-rust", "Dockerfile", |text| {
        text.replace("FROM debian:trixie-slim", "FROM rust:1.95-slim-trixie")
    });
    let report = yours
        .check_only("04-multi-stage", &["no_toolchain", "within_budget"])
        .await;
    assert_says(&failure_of(&report, "no_toolchain"), &["cargo"]);
    assert_says(
        &failure_of(&report, "within_budget"),
        &["over step 04-multi-stage's budget"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_debian_final_stage_is_not_scratch_and_has_a_shell() {
    let yours = Yours::of("06-static-scratch", "final-debian", "Dockerfile", |text| {
        text.replace("FROM scratch", "FROM debian:trixie-slim")
    });
    let report = yours
        .check_only("06-static-scratch", &["holds_only_the_binary", "no_shell"])
        .await;
    assert_says(
        &failure_of(&report, "holds_only_the_binary"),
        &["besides /ping the image holds", "paths"],
    );
    // /bin is a link to usr/bin in Debian: the shell is found through it.
    assert_says(
        &failure_of(&report, "no_shell"),
        &["the image holds a shell", "/bin/sh"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_musl_target_that_is_not_installed_is_named() {
    let yours = Yours::of("06-static-scratch", "no-target", "Dockerfile", |text| {
        text.replace(" && rustup target add \"$target\" \\\n", "")
    });
    let report = yours.check("06-static-scratch").await;
    let failure = report.build.as_ref().expect_err("the build must fail");
    // cargo's own error line, not the first line that contains "error" (`thiserror`).
    assert_says(
        &failure.error,
        &["error[E0463]: can't find crate for `core`"],
    );
    assert_says(
        &failure.hint,
        &["the Rust target is not installed", "rustup target add"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shell_form_healthcheck_needs_a_shell() {
    let yours = Yours::of("08-production", "health-shell", "Dockerfile", |text| {
        text.replace("CMD [\"/ping\", \"healthcheck\"]", "CMD /ping healthcheck")
    });
    let report = yours
        .check_only(
            "08-production",
            &["exec_form_entrypoint_and_healthcheck", "becomes_healthy"],
        )
        .await;
    assert_says(
        &failure_of(&report, "exec_form_entrypoint_and_healthcheck"),
        &[
            "needs a shell",
            "HEALTHCHECK CMD [\"/binary\", \"healthcheck\"]",
        ],
    );
    assert!(report.failed().contains(&"becomes_healthy"));
}

/// A shell by its bare name is a shell too (the check once knew only "/bin/sh").
#[tokio::test(flavor = "multi_thread")]
async fn an_entrypoint_through_any_shell_is_not_exec_form() {
    the_file_edited_fails(
        "08-production",
        "bare-sh",
        |text| {
            text.replace(
                "ENTRYPOINT [\"/ping\"]",
                "ENTRYPOINT [\"sh\", \"-c\", \"exec /ping \\\"$@\\\"\", \"ping\"]",
            )
        },
        "exec_form_entrypoint_and_healthcheck",
        &["runs the service through a shell (sh)"],
    )
    .await;
}

/// A shell behind a wrapper is a shell too: `env sh -c` makes sh PID 1 all the same.
#[tokio::test(flavor = "multi_thread")]
async fn a_shell_behind_env_is_not_exec_form() {
    the_file_edited_fails(
        "08-production",
        "env-sh",
        |text| {
            text.replace(
                "ENTRYPOINT [\"/ping\"]",
                "ENTRYPOINT [\"env\", \"sh\", \"-c\", \"exec /ping\"]",
            )
        },
        "exec_form_entrypoint_and_healthcheck",
        &["runs the service through a shell (sh)"],
    )
    .await;
}

/// A wrapper that starts the service (here tini, with the health check through it too):
/// the wrapper is PID 1, not the service.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrapper_as_pid_1_is_not_exec_form() {
    the_file_edited_fails(
        "08-production",
        "wrapper",
        |text| {
            text.replace(
                "ENTRYPOINT [\"/ping\"]",
                "ENTRYPOINT [\"/tini\", \"--\", \"/ping\"]",
            )
            .replace(
                "CMD [\"/ping\", \"healthcheck\"]",
                "CMD [\"/tini\", \"--\", \"/ping\", \"healthcheck\"]",
            )
        },
        "exec_form_entrypoint_and_healthcheck",
        &["starts /tini, which then starts the service"],
    )
    .await;
}

/// A script as the ENTRYPOINT, the health check run through it too: exec form on paper,
/// but its interpreter is PID 1. Read from the script's own first line.
#[tokio::test(flavor = "multi_thread")]
async fn a_script_as_pid_1_is_not_exec_form() {
    the_file_edited_fails(
        "08-production",
        "script",
        |text| {
            text.replace(
                "COPY --from=build /ping /ping\n",
                "COPY --from=build /ping /ping\nCOPY --from=build /start /start\n",
            )
            // After the build, in a RUN of its own: the compile stays cached.
            .replace(
                "\nFROM scratch\n",
                "RUN printf '#!/bin/sh\\nexec /ping \"$@\"\\n' > /start && chmod +x /start\n\nFROM scratch\n",
            )
            .replace("ENTRYPOINT [\"/ping\"]", "ENTRYPOINT [\"/start\"]")
            .replace(
                "CMD [\"/ping\", \"healthcheck\"]",
                "CMD [\"/start\", \"healthcheck\"]",
            )
        },
        "exec_form_entrypoint_and_healthcheck",
        &["ENTRYPOINT runs /start, a script: its interpreter (/bin/sh) is PID 1"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_healthcheck_is_named() {
    let yours = Yours::of("08-production", "no-health", "Dockerfile", |text| {
        text.replace(
            "HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \\\n    CMD [\"/ping\", \"healthcheck\"]\n",
            "",
        )
    });
    let report = yours
        .check_only(
            "08-production",
            &["exec_form_entrypoint_and_healthcheck", "becomes_healthy"],
        )
        .await;
    assert_says(
        &failure_of(&report, "exec_form_entrypoint_and_healthcheck"),
        &["the image has no HEALTHCHECK"],
    );
    assert_says(&failure_of(&report, "becomes_healthy"), &["HEALTHCHECK"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn root_as_a_number_is_still_root() {
    the_file_edited_fails(
        "08-production",
        "user-root",
        |text| text.replace("USER 65532:65532", "USER 0:0"),
        "runs_as_numeric_non_root_user",
        &["USER \"0:0\" is root"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_uid_without_a_gid_runs_in_roots_group() {
    let yours = Yours::of("08-production", "user-no-gid", "Dockerfile", |text| {
        text.replace("USER 65532:65532", "USER 65532")
    });
    let report = yours
        .check_only(
            "08-production",
            &["runs_as_numeric_non_root_user", "serves_locked_down"],
        )
        .await;
    assert_says(
        &failure_of(&report, "runs_as_numeric_non_root_user"),
        &["USER \"65532\" names no group", "gid 0"],
    );
    assert_says(
        &failure_of(&report, "serves_locked_down"),
        &["uid 65532, gid 0, groups [", "in root's group"],
    );
}

/// A user that an /etc/group in the image puts in another group: Docker gives the
/// process that group too (only its own gid is harmless).
#[tokio::test(flavor = "multi_thread")]
async fn a_user_in_another_group_is_named() {
    the_file_edited_fails(
        "08-production",
        "other-group",
        |text| {
            let files = "RUN mkdir /etc-out \\\n \
                         && echo 'nonroot:x:65532:65532::/:/ping' > /etc-out/passwd \\\n \
                         && printf 'nonroot:x:65532:\\nstaff:x:50:nonroot\\n' > /etc-out/group\n\n\
                         FROM scratch\nCOPY --from=build /etc-out/ /etc/\n";
            text.replacen("\nFROM scratch\n", &format!("\n{files}"), 1)
                .replace("USER 65532:65532", "USER 65532")
        },
        "serves_locked_down",
        &["uid 65532, gid 65532, with the supplementary groups", "50"],
    )
    .await;
}

/// Step 08 with `sed` applied to the service's source (see `with_the_source_edited`),
/// checked as `name`: `check` fails, and its message says each of `says`. The report.
async fn the_service_edited_fails(name: &str, sed: &str, check: &str, says: &[&str]) -> Report {
    let yours = Yours::of("08-production", name, "Dockerfile", |text| {
        with_the_source_edited(text, sed)
    });
    // Only what the test reads: the check it is about, and PONG.
    let only: Vec<&str> = ["answers_pong", check]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let report = yours.check_only("08-production", &only).await;
    assert_says(&failure_of(&report, check), says);
    report
}

/// Step `step`'s Dockerfile edited by `edit` (as yours, named `name`) fails `check`, with
/// a finding that says each of `says`; only that check runs.
async fn the_file_edited_fails(
    step: &str,
    name: &str,
    edit: impl Fn(&str) -> String,
    check: &str,
    says: &[&str],
) {
    let yours = Yours::of(step, name, "Dockerfile", edit);
    let report = yours.check_only(step, &[check]).await;
    assert_says(&failure_of(&report, check), says);
}

/// The service with `sed` applied to its source inside the build, after `COPY src`: a
/// broken service exists only in that build, never in the repository.
fn with_the_source_edited(dockerfile: &str, sed: &str) -> String {
    let copy = "COPY src ./src\n";
    assert!(dockerfile.contains(copy), "step 08 no longer has {copy:?}");
    dockerfile.replace(copy, &format!("{copy}RUN sed -i '{sed}' src/main.rs\n"))
}

/// `panic = "abort"` (the dist profile, chapter 07): one request whose handler panics
/// ends the process, and every connection with it, instead of its own task.
#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_request_ends_the_whole_service_under_panic_abort() {
    let report = the_service_edited_fails(
        "panic-abort",
        r#"s/^    "PONG"$/    panic!("a bug in the handler")/"#,
        "answers_pong",
        // The exit code is not asserted: as PID 1 a process may not die of its own
        // SIGABRT (the kernel ignores a default action for a namespace's init). What
        // counts: it exited, with the panic as its last words.
        &[
            "exited (code",
            "before answering GET /ping",
            "a bug in the handler",
        ],
    )
    .await;
    assert!(
        !failure_of(&report, "answers_pong").contains("exited (code 0)"),
        "a panic must not look like a clean exit:\n{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_without_its_sigterm_handler_does_not_stop_gracefully() {
    let report = the_service_edited_fails(
        "no-sigterm-handler",
        "/ANCHOR: shutdown$/,/ANCHOR_END: shutdown$/d",
        "stops_gracefully",
        &["never printed \"ping: stopping\"", "exit code 137"],
    )
    .await;
    assert!(outcome_of(&report, "answers_pong").result.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_without_its_header_timeout_keeps_a_slow_client() {
    the_service_edited_fails(
        "no-header-timeout",
        "s/.with_http1_header_timeout(HEADER_TIMEOUT)//",
        "holds_http_limits",
        &["a header at a time was still connected after 15s"],
    )
    .await;
}

/// Without a write-stall timeout an answer nobody reads waits forever: a client that
/// pipelines requests and never reads holds its connection (and a slot of the cap).
#[tokio::test(flavor = "multi_thread")]
async fn a_service_without_its_write_stall_timeout_keeps_a_client_that_never_reads() {
    the_service_edited_fails(
        "no-write-stall-timeout",
        "s/.with_write_stall_timeout(WRITE_STALL_TIMEOUT)//",
        "holds_http_limits",
        &[
            "read none of the answers was still connected 20s after its writes stalled",
            "WRITE_STALL_TIMEOUT",
        ],
    )
    .await;
}

/// Without its cap the service takes every connection the kernel queued for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_service_without_its_connection_cap_serves_past_it() {
    the_service_edited_fails(
        "no-connection-cap",
        "s/.max_connections(connections)//",
        "holds_http_limits",
        &[
            "of 2248 connections made at once the service served",
            "more than its cap of 2048",
            "MAX_CONNECTIONS",
        ],
    )
    .await;
}

/// Without raising its soft open-files limit (1,024 in the container, as on Docker Engine
/// 25+ and containerd 2 hosts), the service stops taking connections at about 1,000: a
/// finding about the service, with the limit, not a machine too busy.
#[tokio::test(flavor = "multi_thread")]
async fn a_service_that_keeps_1024_open_files_holds_fewer_connections() {
    the_service_edited_fails(
        "no-open-files-raise",
        "s/let connections = connection_cap();/let connections = MAX_CONNECTIONS;/",
        "holds_http_limits",
        &[
            "connections and then stopped taking more",
            "its open-files limit: 1024",
            "raised to fit MAX_CONNECTIONS",
        ],
    )
    .await;
}

/// A cap lowered in the source (512 connections, with open files to spare): the service
/// says it at start, and the finding names MAX_CONNECTIONS, not the open-files limit, nor
/// a machine too busy.
#[tokio::test(flavor = "multi_thread")]
async fn a_service_with_a_lowered_connection_cap_holds_fewer_connections() {
    the_service_edited_fails(
        "lowered-connection-cap",
        "s/^const MAX_CONNECTIONS: usize = 2048;$/const MAX_CONNECTIONS: usize = 512;/",
        "holds_http_limits",
        &[
            "the service says it holds at most 512 connections, not 2048",
            "is MAX_CONNECTIONS in src/main.rs still 2048?",
        ],
    )
    .await;
}

/// A head limit raised in the source (128 KiB) lets a 70 kB path through: the check that
/// sends one names the head limits.
#[tokio::test(flavor = "multi_thread")]
async fn a_service_with_a_raised_head_limit_takes_a_70_kb_path() {
    the_service_edited_fails(
        "raised-head-limit",
        "s/^const HEAD_LIMIT: usize = 8 \\* 1024;$/const HEAD_LIMIT: usize = 128 * 1024;/",
        "holds_http_limits",
        &["a 70 kB path", "HEAD_LIMIT"],
    )
    .await;
}

/// Under a hard limit of 1,024 the final image cannot raise it: it says so, holds what
/// fits, and the HTTP limits check names the lower cap.
#[tokio::test(flavor = "multi_thread")]
async fn under_a_hard_open_files_limit_of_1024_the_service_says_its_cap() {
    let step = Step::get("13-publish");
    let image = step.build();
    let running = workshop::Running::try_start_with_open_files(
        workshop::running::hardened(workshop::running::request(&image.tag)),
        1024,
        1024,
    )
    .await
    .must();
    let said = running.logs().await;
    assert_says(
        &said,
        &["at most 960 connections: the open-files limit is too low for 2048"],
    );
    let checked = workshop::checks::try_limits(&running).await;
    let failure = checked.expect_err("960 connections are fewer than the cap");
    assert_says(
        failure.found(),
        &[
            "the service says it holds at most 960 connections, not 2048",
            "(its open-files limit: 1024)",
        ],
    );
}

/// salvo's default backlog, 128: a burst of new connections overflows the kernel's
/// queue. Seen whatever the machine's speed: the connections are made to a paused service.
#[tokio::test(flavor = "multi_thread")]
async fn salvos_default_listen_backlog_drops_a_burst_of_connections() {
    the_service_edited_fails(
        "default-backlog",
        "/.backlog(LISTEN_BACKLOG)/d",
        "holds_http_limits",
        &["the kernel queued 129 of a burst of 2000", "LISTEN_BACKLOG"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn more_workers_than_the_bound_are_caught() {
    the_file_edited_fails(
        "08-production",
        "more-workers",
        |text| text.replace("EXPOSE 8080\n", "EXPOSE 8080\nENV PING_WORKERS=4\n"),
        "bounds_its_threads",
        &[
            "the service runs 5 threads (5 idle, 5 serving 64 clients), more than 4",
            "PING_WORKERS",
        ],
    )
    .await;
}

/// tokio's own worker count (one per CPU), as `#[tokio::main]` would start: on a
/// two-CPU machine inside the bound, and still caught.
#[tokio::test(flavor = "multi_thread")]
async fn tokios_default_worker_count_is_caught_on_a_small_machine() {
    the_service_edited_fails(
        "tokio-default",
        "/.worker_threads(workers)/d",
        "bounds_its_threads",
        &[
            "with PING_WORKERS=1 the idle service runs",
            "worker_threads",
        ],
    )
    .await;
}

/// The host's CPU count, not the container's: on this two-CPU machine the default of two
/// workers hides it, until the container is held to one CPU. (Not musl's
/// `sysconf(_SC_NPROCESSORS_ONLN)`: it counts the affinity mask, as the standard library.)
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_count_from_the_hosts_cpus_is_caught() {
    the_service_edited_fails(
        "host-cpus",
        r#"s#std::thread::available_parallelism().map_or(1, |cpus| cpus.get())#std::fs::read_to_string("/proc/cpuinfo").map_or(1, |info| info.matches("processor").count())#"#,
        "bounds_its_threads",
        &["held to one CPU (--cpuset-cpus 0) the idle service runs 3 threads, not 2"],
    )
    .await;
}

/// The blocking pool left at tokio's default (up to 512 threads) and a handler that
/// uses it: idle, the service runs no more threads than the bound; under load the pool
/// grows, and only the count under load sees it.
#[tokio::test(flavor = "multi_thread")]
async fn a_blocking_pool_that_grows_under_load_is_caught() {
    let report = the_service_edited_fails(
        "blocking-pool",
        r#"/max_blocking_threads(1)/d; s/^    "PONG"$/    let _ = tokio::task::spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(20))).await;\n    "PONG"/"#,
        "bounds_its_threads",
        &[" idle, ", " serving 64 clients), more than 4"],
    )
    .await;
    let failure = failure_of(&report, "bounds_its_threads");
    let idle: u64 = failure
        .split_once(" threads (")
        .and_then(|(_, rest)| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no idle count in: {failure}"));
    assert!(
        idle <= 4,
        "idle, the mutant should stay within the bound (only load grows it): {failure}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_setuid_binary_is_named() {
    let yours = Yours::of("08-production", "setuid", "Dockerfile", |text| {
        text.replace("\nFROM scratch\n", "RUN chmod u+s /ping\n\nFROM scratch\n")
    });
    let report = yours
        .check_only("08-production", &["no_setuid_files"])
        .await;
    assert_says(&failure_of(&report, "no_setuid_files"), &["/ping"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_label_is_named() {
    let yours = Yours::of("08-production", "no-licenses-label", "Dockerfile", |text| {
        text.replace(
            " \\\n      org.opencontainers.image.licenses=\"MIT OR Apache-2.0\"",
            "",
        )
    });
    // Through the checks of the image's config: the running ones after it read nothing
    // of its labels.
    let report = yours
        .check_through("08-production", "declares_only_what_it_serves")
        .await;
    assert_says(
        &failure_of(&report, "has_oci_labels"),
        &["missing labels org.opencontainers.image.{licenses}"],
    );
    assert_eq!(report.failed(), ["has_oci_labels"]);
}

/// The licenses label says what Cargo.toml says, the one place the license is decided.
#[tokio::test(flavor = "multi_thread")]
async fn a_licenses_label_other_than_cargo_tomls_is_named() {
    let yours = Yours::of("08-production", "other-license", "Dockerfile", |text| {
        text.replace("licenses=\"MIT OR Apache-2.0\"", "licenses=\"MIT\"")
    });
    let report = yours.check_only("08-production", &["has_oci_labels"]).await;
    assert_says(
        &failure_of(&report, "has_oci_labels"),
        &[
            "the image's licenses label says \"MIT\", but Cargo.toml's license is \"MIT OR Apache-2.0\"",
        ],
    );
}

/// A source written by hand that nobody can follow: the documentation domain the
/// workshop once put in every Dockerfile.
#[tokio::test(flavor = "multi_thread")]
async fn a_placeholder_source_label_is_refused() {
    let yours = Yours::of("08-production", "example-source", "Dockerfile", |text| {
        text.replace(
            "LABEL org.opencontainers.image.title=\"ping\"",
            "LABEL org.opencontainers.image.source=\"https://example.com/ping-workshop\" \\\n      org.opencontainers.image.title=\"ping\"",
        )
    });
    let report = yours.check_only("08-production", &["has_oci_labels"]).await;
    assert_says(
        &failure_of(&report, "has_oci_labels"),
        &[
            "the image says its source is \"https://example.com/ping-workshop\"",
            "example.com is reserved for documentation",
            "BUILDX_GIT_LABELS=1",
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn step_07_without_the_size_profile_is_over_its_budget() {
    the_file_edited_fails(
        "07-size-profile",
        "no-profile",
        |text| {
            text.replace("--profile dist", "--release")
                .replace("/dist/ping", "/release/ping")
        },
        "within_budget",
        &["over step 07-size-profile's budget", "cargo profile"],
    )
    .await;
}

/// A chapter's exercise, `steps/<slug>/exercises/<name>`, checked as a learner's
/// Dockerfile: the chapter includes that very file and says which check fails, and how.
fn exercise(slug: &str, name: &str) -> Yours {
    let path = Step::get(slug).dir.join("exercises").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    let case = name.trim_end_matches(".Dockerfile");
    Yours::of(slug, case, "Dockerfile", |_| text.clone())
}

/// Chapter 02's exercise: the build tree deleted in a RUN of its own. Nothing of it is
/// left to see in the image's files, and the image is as big as if it were.
#[tokio::test(flavor = "multi_thread")]
async fn chapter_02s_exercise_ships_the_build_tree_it_deletes() {
    let report = exercise("02-slim-base", "rm-later.Dockerfile")
        .check("02-slim-base")
        .await;
    assert_eq!(report.failed(), ["within_budget"], "{report}");
    assert_says(
        &failure_of(&report, "within_budget"),
        &["over step 02-slim-base's budget"],
    );
}

/// Chapter 04's exercise: the binary built on trixie (glibc 2.41), run on bullseye
/// (glibc 2.31). It builds; the loader refuses to start it, and the check names the glibc
/// the binary needs and the one the image has.
#[tokio::test(flavor = "multi_thread")]
async fn chapter_04s_exercise_needs_a_newer_glibc_than_its_runtime_has() {
    let report = exercise("04-multi-stage", "older-runtime.Dockerfile")
        .check("04-multi-stage")
        .await;
    assert_eq!(report.failed(), ["answers_pong"], "{report}");
    assert_says(
        &failure_of(&report, "answers_pong"),
        &[
            "the binary needs glibc 2.34 or newer (GLIBC_2.34), the image has glibc 2.31",
            "not found (required by ping)",
            "musl, step 06",
        ],
    );
}

/// Chapter 05's exercise: the source copied before the build meant for the dependencies.
/// It builds and answers; after a source-only change that build runs again.
#[tokio::test(flavor = "multi_thread")]
async fn chapter_05s_exercise_rebuilds_the_dependencies_after_a_source_change() {
    let report = exercise("05-dependency-cache", "source-first.Dockerfile")
        .check("05-dependency-cache")
        .await;
    assert_eq!(report.failed(), ["reuses_the_dependency_layer"], "{report}");
    assert_says(
        &failure_of(&report, "reuses_the_dependency_layer"),
        &[
            "after a source-only change, the dependency build ran again: RUN cargo build \
             --release --locked",
        ],
    );
}

/// Chapter 10's exercise: the Rust target from `uname -m` in a build stage on
/// $BUILDPLATFORM. Both builds succeed; the arm64 image holds the build machine's binary
/// (on an arm64 machine that one is right, and the amd64 image, not built here, wrong).
/// Built for both platforms under one tag, the index's arm64 image holds it too.
#[tokio::test(flavor = "multi_thread")]
async fn chapter_10s_exercise_puts_this_machines_binary_in_the_arm64_image() {
    let yours = exercise("10-cross-platform", "target-from-uname.Dockerfile");
    let report = yours
        .check_through("10-cross-platform", "builds_a_static_arm64_image")
        .await;
    let multi = yours
        .check_only("10-cross-platform", &["builds_one_multi_platform_image"])
        .await;
    let wrong = if cfg!(target_arch = "aarch64") {
        assert!(report.passed(), "built on arm64, for arm64:\n{report}");
        "linux/amd64 image is a binary for AARCH64, not x86-64"
    } else {
        assert_eq!(report.failed(), ["builds_a_static_arm64_image"], "{report}");
        assert_says(
            &failure_of(&report, "builds_a_static_arm64_image"),
            &["/ping in the image built for linux/arm64 is a binary for X86_64, not AArch64"],
        );
        "linux/arm64 image is a binary for X86_64, not AArch64"
    };
    assert_eq!(
        multi.failed(),
        ["builds_one_multi_platform_image"],
        "{multi}"
    );
    assert_says(
        &failure_of(&multi, "builds_one_multi_platform_image"),
        &[wrong, "TARGETARCH"],
    );
}

/// Step 13 with chapter 10's mistake: the Rust target from `uname -m`. Pushed as one
/// index, the arm64 image holds this machine's binary, and the index check reads it from
/// the registry. (On an arm64 machine the amd64 image would hold the arm64 binary.)
#[tokio::test(flavor = "multi_thread")]
async fn an_index_whose_arm64_image_holds_this_machines_binary_is_caught() {
    let yours = Yours::of("13-publish", "index-uname", "Dockerfile", |text| {
        text.replacen(
            "target=\"$arch-unknown-linux-musl\"",
            "target=\"$(uname -m)-unknown-linux-musl\"",
            1,
        )
    });
    let report = yours
        .check_only("13-publish", &["pushes_one_multi_platform_index"])
        .await;
    assert_eq!(
        report.failed(),
        ["pushes_one_multi_platform_index"],
        "{report}"
    );
    let wrong = if cfg!(target_arch = "aarch64") {
        "/ping in the pushed linux/amd64 image is a binary for AARCH64, not x86-64"
    } else {
        "/ping in the pushed linux/arm64 image is a binary for X86_64, not AArch64"
    };
    assert_says(
        &failure_of(&report, "pushes_one_multi_platform_index"),
        &[wrong, "TARGETARCH"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_the_dockerignore_keeps_out_is_explained() {
    let yours = Yours::of("04-multi-stage", "ignored-file", "Dockerfile", |text| {
        text.replace("COPY . .", "COPY README.md ./\nCOPY . .")
    });
    let report = yours.check("04-multi-stage").await;
    let failure = report.build.as_ref().expect_err("the build must fail");
    assert_says(&failure.report, &["README.md", "Dockerfile.dockerignore"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_stage_name_passes() {
    let yours = Yours::of("04-multi-stage", "stage-name", "Dockerfile", |text| {
        text.replace("AS build", "AS builder")
            .replace("--from=build", "--from=builder")
    });
    let report = yours.check("04-multi-stage").await;
    assert!(report.passed(), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn windows_line_endings_pass() {
    let yours = Yours::of("06-static-scratch", "crlf", "Dockerfile", |text| {
        text.replace('\n', "\r\n")
    });
    let report = yours.check("06-static-scratch").await;
    assert!(report.passed(), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn size_settings_as_environment_variables_pass() {
    // What the book's "Your turn" suggests: the profile in the learner's own Dockerfile.
    let yours = Yours::of("07-size-profile", "profile-env", "Dockerfile", |text| {
        text.replace(
            "WORKDIR /app\n",
            "WORKDIR /app\nENV CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=true \\\n    \
             CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort \\\n    \
             CARGO_PROFILE_RELEASE_STRIP=true\n",
        )
        .replace("--profile dist", "--release")
        .replace("/dist/ping", "/release/ping")
    });
    let report = yours.check("07-size-profile").await;
    assert!(report.passed(), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_stage_pinned_to_one_platform_is_named() {
    let yours = Yours::of(
        "10-cross-platform",
        "pinned-platform",
        "Dockerfile",
        |text| {
            text.replace(
                "FROM --platform=$BUILDPLATFORM",
                "FROM --platform=linux/amd64",
            )
        },
    );
    // Through the arm64 checks: the locked-down run and the limits after them are the
    // native image's, which this edit does not touch.
    let report = yours
        .check_through(
            "10-cross-platform",
            "arm64_image_answers_pong_under_emulation",
        )
        .await;
    assert_says(
        &failure_of(&report, "builds_a_static_arm64_image"),
        &[
            "no build stage starts FROM --platform=$BUILDPLATFORM",
            "hint: let the build stage run where you build",
        ],
    );
    assert_eq!(report.failed(), ["builds_a_static_arm64_image"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_copied_in_another_run_than_the_cache_mount_is_explained() {
    let yours = Yours::of(
        "09-cache-mounts",
        "copy-outside-mount",
        "Dockerfile",
        |text| {
            text.replace(
                "    cargo build --profile dist --locked \\\n && cp",
                "    cargo build --profile dist --locked\nRUN cp",
            )
        },
    );
    let report = yours.check("09-cache-mounts").await;
    let build = report.build.as_ref().expect_err("the build fails");
    assert_says(
        &format!("{}\n{}", build.error, build.hint),
        &[
            "cannot stat",
            "a cache mount exists only during the RUN that mounts it",
        ],
    );
}

/// A learner's folder for the tool's own tests: `PING_WORKSHOP_YOURS` points the tool
/// there, never at the learner's real yours/.
struct TempYours(PathBuf);

impl TempYours {
    fn new(case: &str) -> TempYours {
        let path =
            std::env::temp_dir().join(format!("ping-workshop-yours-{case}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempYours(path)
    }

    fn tool(&self) -> assert_cmd::Command {
        let mut tool = workshop_tool();
        tool.env("PING_WORKSHOP_YOURS", &self.0);
        tool
    }
}

impl Drop for TempYours {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `hint NN` gives a step's hints one at a time, in order, says which it is, and says
/// when they are all seen.
#[test]
fn hints_come_one_at_a_time_then_point_to_the_solution() {
    let yours = TempYours::new("hints");
    let step = Step::get("12-allocator");
    let hints = step.facts.hints.len();
    assert!((2..=4).contains(&hints), "step 12 has {hints} hints");
    let mut seen = Vec::new();
    for number in 1..=hints {
        let printed = run_tool(yours.tool().args(["hint", "12"]), 0);
        assert_says(&printed, &[&format!("Hint {number} of {hints} (for ")]);
        assert!(!seen.contains(&printed), "the same hint twice:\n{printed}");
        seen.push(printed);
    }
    let printed = run_tool(yours.tool().args(["hint", "12"]), 0);
    assert_says(
        &printed,
        &[
            &format!("You have seen all {hints} hints for step 12"),
            "cargo workshop solution 12 --give-up",
        ],
    );
    // Every step has two to four, each for a check new in it (step 01: one of its own).
    for step in Step::all().must() {
        let count = step.facts.hints.len();
        assert!(
            (2..=4).contains(&count),
            "step {} has {count} hints",
            step.slug
        );
        for hint in &step.facts.hints {
            let ok = step.facts.new.contains(&hint.check)
                || (step.facts.new.is_empty() && step.facts.checks.contains(&hint.check));
            assert!(
                ok,
                "step {}: a hint for {}, which is not new in it",
                step.slug,
                hint.check.name()
            );
        }
    }
}

/// `reset NN` puts the step's starting files back and keeps the learner's beside them.
#[test]
fn a_reset_puts_the_starting_files_back_and_keeps_yours() {
    let yours = TempYours::new("reset");
    let folder = yours.0.join("05-dependency-cache");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("Dockerfile"), "FROM my-own-work\n").unwrap();
    let printed = run_tool(yours.tool().args(["reset", "5"]), 0);
    assert_says(
        &printed,
        &[
            "Your files are kept in",
            "starting files again: Dockerfile, Dockerfile.dockerignore",
        ],
    );
    let previous = Step::get("04-multi-stage");
    assert_eq!(
        std::fs::read_to_string(folder.join("Dockerfile")).unwrap(),
        std::fs::read_to_string(previous.dir.join("Dockerfile")).unwrap()
    );
    let kept: Vec<PathBuf> = std::fs::read_dir(&yours.0)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.to_string_lossy()
                .contains("05-dependency-cache.before-reset-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        std::fs::read_to_string(kept[0].join("Dockerfile")).unwrap(),
        "FROM my-own-work\n"
    );
}

/// `solution NN` waits until the learner's files pass (or `--give-up`), then shows the
/// reference and how theirs differ.
#[test]
fn the_solution_waits_for_a_pass_or_giving_up() {
    let yours = TempYours::new("solution");
    let printed = run_tool(yours.tool().args(["solution", "4"]), 1);
    assert_says(
        &printed,
        &["your step 04 has not been checked yet", "--give-up"],
    );
    run_tool(yours.tool().args(["reset", "4"]), 0);
    let record = |failed: bool| record_a_check(&yours.0, "04-multi-stage", failed);
    record(true);
    let printed = run_tool(yours.tool().args(["solution", "4"]), 1);
    assert_says(
        &printed,
        &["your step 04 does not pass yet: it fails copies_from_a_build_stage"],
    );
    let printed = run_tool(yours.tool().args(["solution", "4", "--give-up"]), 0);
    assert_says(
        &printed,
        &[
            "steps/04-multi-stage/Dockerfile (the reference)",
            "(- yours, + the reference)",
            "+COPY --from=build /app/target/release/ping /usr/local/bin/ping",
        ],
    );
    record(false);
    let printed = run_tool(yours.tool().args(["solution", "4"]), 0);
    assert_says(
        &printed,
        &["steps/04-multi-stage/Dockerfile (the reference)"],
    );
}

/// Waits until `done` holds, polling every 100 ms; after `within`, fails with `failed()`.
fn eventually(within: Duration, done: impl Fn() -> bool, failed: impl Fn() -> String) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{}", failed());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A terminal a learner types in: a tmux session of two windows, the tool in window 0 and
/// a shell in window 1, killed when dropped.
struct Terminal {
    session: String,
}

impl Terminal {
    /// `command` in window 0 of a new session: the tool as a learner runs it, then
    /// `EXITED <status>` once it ends.
    fn open(name: &str, command: &str) -> Terminal {
        docker::ready().must();
        assert!(
            docker::which("tmux").is_some(),
            "this test drives the tool in tmux: install it (`sudo apt-get install tmux`; \
             setup.sh does)"
        );
        let session = format!("ping-{name}-{}", std::process::id());
        let shell = format!("{command}; echo \"EXITED $?\"; sleep 600");
        let terminal = Terminal { session };
        terminal.tmux_ok(&[
            "new-session",
            "-d",
            "-s",
            &terminal.session,
            "-x",
            "200",
            "-y",
            "50",
            &shell,
        ]);
        terminal.tmux_ok(&["new-window", "-t", &terminal.session, "-d"]);
        terminal
    }

    /// tmux, on a server of this terminal's own (`-L`): tests run side by side, and one
    /// server shared by their sessions exits when the last of them ends, under another
    /// test's `new-session`.
    fn tmux(&self, args: &[&str]) -> String {
        let output = self.tmux_output(args);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn tmux_output(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("tmux")
            .args(["-L", &self.session])
            .args(args)
            .output()
            .expect("tmux")
    }

    /// `tmux`, failing with what tmux said if it fails.
    fn tmux_ok(&self, args: &[&str]) {
        let output = self.tmux_output(args);
        assert!(
            output.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Everything window 0 has shown.
    fn screen(&self) -> String {
        self.tmux(&[
            "capture-pane",
            "-p",
            "-J",
            "-S",
            "-",
            "-t",
            &format!("{}:0", self.session),
        ])
    }

    /// Window 0's text once it shows `what` `times` times, failing after `within`.
    fn wait_for(&self, what: &str, times: usize, within: Duration) -> String {
        self.wait_until(&format!("{what:?} ({times}x)"), within, |text| {
            text.matches(what).count() >= times
        })
    }

    /// Window 0's text once `done` holds (of it), failing after `within`.
    fn wait_until(&self, what: &str, within: Duration, done: impl Fn(&str) -> bool) -> String {
        let started = std::time::Instant::now();
        loop {
            let text = self.screen();
            if done(&text) {
                return text;
            }
            assert!(
                started.elapsed() < within,
                "waited {within:?} for {what}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A command typed into window 1, as a learner saves from an editor.
    fn type_in(&self, command: &str) {
        self.tmux(&[
            "send-keys",
            "-t",
            &format!("{}:1", self.session),
            command,
            "Enter",
        ]);
    }

    /// Ctrl-C in the tool's window.
    fn interrupt(&self) {
        self.tmux(&["send-keys", "-t", &format!("{}:0", self.session), "C-c"]);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux_output(&["kill-server"]);
    }
}

/// `cargo workshop watch` in a real terminal (tmux): it checks, checks again when a file
/// is saved from another terminal, stops a check that a newer save makes stale, and on
/// Ctrl-C exits 130 and leaves no container behind.
#[test]
fn watch_in_a_terminal_checks_each_save_and_stops_cleanly() {
    let yours = TempYours::new("watch");
    let folder = yours.0.join("04-multi-stage");
    std::fs::create_dir_all(&folder).unwrap();
    let reference = Step::get("04-multi-stage");
    for name in ["Dockerfile", "Dockerfile.dockerignore"] {
        std::fs::copy(reference.dir.join(name), folder.join(name)).unwrap();
    }
    let tool = env!("CARGO_BIN_EXE_workshop");
    let terminal = Terminal::open(
        "watch",
        &format!(
            "env PING_WORKSHOP_YOURS='{}' '{tool}' watch 04",
            yours.0.display()
        ),
    );
    let dockerfile = folder.join("Dockerfile").display().to_string();
    let passes = "5 of 5 checks pass.";
    terminal.wait_for(passes, 1, Duration::from_secs(900));
    // A save that makes the build slow, and a newer one while it runs: the first check
    // is stopped, and the second one checked.
    terminal.type_in(&format!(
        "sed -i 's|^FROM debian:trixie-slim$|FROM debian:trixie-slim\\nRUN sleep 20|' '{dockerfile}'"
    ));
    terminal.wait_for("Building with", 2, Duration::from_secs(30));
    terminal.type_in(&format!("sed -i '/^RUN sleep 20$/d' '{dockerfile}'"));
    terminal.wait_for(
        "a file changed while checking: the check is stopped.",
        1,
        Duration::from_secs(30),
    );
    terminal.wait_for(passes, 2, Duration::from_secs(300));
    // A save that breaks it: the report says what fails.
    terminal.type_in(&format!("sed -i '/^COPY --from=build/d' '{dockerfile}'"));
    let text = terminal.wait_for(
        "work on the first ✗, then check again.",
        1,
        Duration::from_secs(300),
    );
    assert_says(
        &text,
        &["✗ one Dockerfile: the final stage copies the binary --from a build stage"],
    );
    terminal.interrupt();
    let text = terminal.wait_for("EXITED 130", 1, Duration::from_secs(60));
    assert_says(&text, &["Stopped: removing what the check had under way"]);
    assert_eq!(containers_of("ping:04-multi-stage-yours"), 0, "{text}");
}

/// `cargo workshop check` stopped by Ctrl-C in a real terminal, once while its build runs
/// and once while a check rebuilds in a private copy of the context with a container of
/// its own to come, and by SIGTERM while its build runs: it exits 130 (143 for SIGTERM),
/// and nothing it started is left (the build's process, the run's containers, its
/// private folders).
#[test]
fn a_check_stopped_by_ctrl_c_or_sigterm_mid_build_or_mid_check_leaves_nothing_behind() {
    let _alone = step_05_through_the_tool();
    let yours = TempYours::new("interrupted");
    let folder = yours.0.join("05-dependency-cache");
    std::fs::create_dir_all(&folder).unwrap();
    let reference = Step::get("05-dependency-cache");
    for name in ["Dockerfile", "Dockerfile.dockerignore"] {
        std::fs::copy(reference.dir.join(name), folder.join(name)).unwrap();
    }
    let dockerfile = folder.join("Dockerfile");
    let original = std::fs::read_to_string(&dockerfile).unwrap();
    let tool = env!("CARGO_BIN_EXE_workshop");
    // `exec`: the shell's process id is the tool's, the value of its containers' label and
    // of its private folders' names.
    let check = format!(
        "env PING_WORKSHOP_YOURS='{}' sh -c 'echo \"TOOL $$\"; exec \"$0\" check 05' '{tool}'",
        yours.0.display()
    );
    let pid_of = |text: &str| -> String {
        text.lines()
            .find_map(|line| line.strip_prefix("TOOL "))
            .expect("the tool's process id")
            .trim()
            .to_string()
    };
    let sleeping = || {
        let listed = std::process::Command::new("pgrep")
            .args(["-f", "sleep 317"])
            .output()
            .expect("pgrep");
        !String::from_utf8_lossy(&listed.stdout).trim().is_empty()
    };
    let containers_of_run = |pid: &str| {
        let listed = docker::run(&[
            "ps",
            "--all",
            "--quiet",
            "--filter",
            &format!("label={}={pid}", docker::RUN_LABEL),
        ]);
        String::from_utf8_lossy(&listed.stdout)
            .split_whitespace()
            .count()
    };
    let folders_of_run = |pid: &str| -> Vec<String> {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("ping-workshop-") && name.contains(&format!("-{pid}-")))
            .collect()
    };
    let gone_within = |what: &str, left: &dyn Fn() -> bool| {
        eventually(
            Duration::from_secs(30),
            || !left(),
            || format!("{what} still there 30 s after the tool exited"),
        );
    };

    // Mid-build: the final stage sleeps, and Ctrl-C comes while it does; then SIGTERM (a
    // terminal closed, `kill`, a service manager), which stops it the same way and exits
    // as a shell says a process SIGTERM stopped.
    std::fs::write(
        &dockerfile,
        original.replacen(
            "FROM debian:trixie-slim\n",
            "FROM debian:trixie-slim\nRUN sleep 317\n",
            1,
        ),
    )
    .unwrap();
    for (name, sigterm, exited) in [
        ("interrupted-build", false, "EXITED 130"),
        ("terminated-build", true, "EXITED 143"),
    ] {
        let terminal = Terminal::open(name, &check);
        let text = terminal.wait_for("TOOL ", 1, Duration::from_secs(30));
        let pid = pid_of(&text);
        eventually(Duration::from_secs(600), sleeping, || {
            format!(
                "the build never reached `RUN sleep 317`:\n{}",
                terminal.screen()
            )
        });
        if sigterm {
            let killed = std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill");
            assert!(killed.success(), "kill -TERM {pid}");
        } else {
            terminal.interrupt();
        }
        let text = terminal.wait_for(exited, 1, Duration::from_secs(60));
        assert_says(&text, &["Stopped: removing what the check had under way"]);
        gone_within("the build's `RUN sleep 317`", &sleeping);
        assert_eq!(containers_of_run(&pid), 0, "{text}");
        assert_eq!(folders_of_run(&pid), Vec::<String>::new(), "{text}");
    }

    // Mid-check: the reference passes its first checks, and Ctrl-C comes once the
    // dependency-layer check (which starts beside them) has made its private copy of the
    // context to rebuild in.
    std::fs::write(&dockerfile, &original).unwrap();
    let terminal = Terminal::open("interrupted-check", &check);
    let text = terminal.wait_for("TOOL ", 1, Duration::from_secs(30));
    let pid = pid_of(&text);
    eventually(
        Duration::from_secs(900),
        || terminal.screen().contains('✓') && !folders_of_run(&pid).is_empty(),
        || {
            format!(
                "no check passed beside a rebuild's private folder:\n{}",
                terminal.screen()
            )
        },
    );
    terminal.interrupt();
    let text = terminal.wait_for("EXITED 130", 1, Duration::from_secs(60));
    assert_says(
        &text,
        &["✓", "Stopped: removing what the check had under way"],
    );
    // Ctrl-C reaches the commands of a check under way too: what they then say is
    // about the interruption, not a verdict on the image.
    let after = text.split("Stopped:").nth(1).unwrap_or_default();
    assert!(
        !after.contains('✗'),
        "a check's failure was reported after the stop:\n{text}"
    );
    gone_within("a private folder of the run", &|| {
        !folders_of_run(&pid).is_empty()
    });
    gone_within("a container of the run", &|| containers_of_run(&pid) > 0);
}

/// What a run that died left behind (a container labelled with its process id, a private
/// folder named after it) is removed by the next run; what a live run has
/// is left alone.
#[test]
fn a_dead_runs_leftovers_are_removed_by_the_next_run() {
    docker::ready().must();
    // A process id that ran and has ended.
    let mut ended = std::process::Command::new("true").spawn().unwrap();
    ended.wait().unwrap();
    let dead = ended.id().to_string();
    let folder =
        std::env::temp_dir().join(format!("ping-workshop-check-{dead}-{:016x}", 0x5eed_u64));
    std::fs::create_dir_all(folder.join("registry")).unwrap();
    let label = |run: &str| format!("{}={run}", docker::RUN_LABEL);
    let create = |run: &str| {
        docker::ok(&[
            "create",
            "--label",
            &label(run),
            docker::HELPER_IMAGE,
            "true",
        ])
        .must()
    };
    let left = create(&dead);
    let alive = create(&std::process::id().to_string());
    let said = workshop::cleanup::leftovers().join("\n");
    let exists = |id: &str| docker::run(&["container", "inspect", id]).status.success();
    let alive_kept = exists(&alive);
    let _ = docker::run(&["rm", "--force", &alive]);
    assert!(
        !folder.exists(),
        "the dead run's folder is still there:\n{said}"
    );
    assert!(
        !exists(&left),
        "the dead run's container is still there:\n{said}"
    );
    assert!(alive_kept, "a live run's container was removed:\n{said}");
    // Another run on this machine (a tool a test started) may have removed them first:
    // what this run says is shown, what is left is asserted.
    println!("{said}");
}

/// A learner's Dockerfile that names a frontend of its own (`# syntax=`) is refused
/// before anything is built: the line, and why.
#[test]
fn a_dockerfile_frontend_of_the_files_choosing_is_refused_before_the_build() {
    let yours = Yours::of("04-multi-stage", "frontend", "Dockerfile", |text| {
        format!("# syntax=docker/dockerfile:1\n{text}")
    });
    // Refused before any check: what the tool was given, not what a check found (2).
    let printed = run_tool(workshop_tool().args(["check", "04"]).arg(&yours.file), 2);
    assert_says(
        &printed,
        &[
            "starts with `# syntax=docker/dockerfile:1`: a Dockerfile frontend of its own",
            "remove the line",
        ],
    );
    assert_never_says(&printed, &["Building with"]);
}

/// A check of step `slug` recorded in `yours` as the tool records one: every check
/// passed, or the step's first new one failed.
fn record_a_check(yours: &std::path::Path, slug: &str, failed: bool) {
    let step = Step::get(slug);
    let report = Report {
        subject: format!("yours/{slug}/Dockerfile"),
        build: Ok(Built {
            tag: "ping:x".into(),
            took: Duration::ZERO,
            size_bytes: 1,
            no_ignore_file: false,
            build_checks: Vec::new(),
        }),
        outcomes: step
            .facts
            .checks
            .iter()
            .map(|&check| workshop::checks::Outcome {
                check,
                took: Duration::ZERO,
                result: if failed && check == step.facts.new[0] {
                    workshop::error::found("found", "hint")
                } else {
                    Ok(None)
                },
            })
            .collect(),
        shown: Vec::new(),
        step,
    };
    Progress::record(yours, &report).unwrap();
}

/// The tests that run `cargo workshop check 05`, one at a time: the tool tags what it
/// builds `ping:05-dependency-cache-yours`, and one's cleanup would take the other's image.
fn step_05_through_the_tool() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The tool's report as a learner watches it arrive: each check's line printed as the
/// check ends, in run order (what reads the image and its build log, then the
/// container's checks, then the rebuild), so the first verdicts are on screen while the
/// rebuild still compiles.
#[test]
fn the_report_arrives_in_run_order_each_line_as_its_check_ends() {
    use std::io::BufRead;
    use workshop::check::{Check, Cost};
    docker::ready().must();
    let _alone = step_05_through_the_tool();
    let step = Step::get("05-dependency-cache");
    let started = std::time::Instant::now();
    let mut tool = std::process::Command::new(env!("CARGO_BIN_EXE_workshop"))
        .current_dir(repo_root())
        .args(["check", "05"])
        .arg(step.dir.join("Dockerfile"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("run the workshop tool");
    let lines: Vec<(Duration, String)> =
        std::io::BufReader::new(tool.stdout.take().expect("the tool's output"))
            .lines()
            .map(|line| (started.elapsed(), line.expect("a line of the report")))
            .collect();
    let status = tool.wait().expect("the tool's exit");
    let printed: Vec<&str> = lines.iter().map(|(_, line)| line.as_str()).collect();
    let printed = printed.join("\n");
    println!("{printed}");
    assert!(
        status.success(),
        "the reference fails its checks:\n{printed}"
    );
    let line_of = |check: Check| -> (usize, Duration) {
        lines
            .iter()
            .position(|(_, line)| {
                // The terminal report drops the Markdown backticks.
                line.trim_start()
                    .starts_with(&format!("✓ {}", check.says().replace('`', "")))
            })
            .map(|at| (at, lines[at].0))
            .unwrap_or_else(|| panic!("no line for {}:\n{printed}", check.name()))
    };
    let checks = &step.facts.checks;
    for cost in [Cost::Reads, Cost::Runs, Cost::Builds] {
        assert!(
            checks.iter().any(|check| check.cost() == cost),
            "step 05 no longer has a check that {cost:?}: pick a step that has all three"
        );
    }
    for earlier in checks {
        for later in checks.iter().filter(|later| later.cost() > earlier.cost()) {
            assert!(
                line_of(*earlier).0 < line_of(*later).0,
                "{} ({:?}) should be reported before {} ({:?}):\n{printed}",
                earlier.name(),
                earlier.cost(),
                later.name(),
                later.cost()
            );
        }
    }
    // The rebuild compiles the service for seconds: a report printed at the end would
    // bring every line at once.
    let rebuild = checks
        .iter()
        .find(|check| check.cost() == Cost::Builds)
        .copied()
        .unwrap();
    for read in checks.iter().filter(|check| check.cost() == Cost::Reads) {
        let (read_at, rebuilt_at) = (line_of(*read).1, line_of(rebuild).1);
        assert!(
            rebuilt_at >= read_at + Duration::from_secs(2),
            "{} was printed {:.1} s in, {} at {:.1} s: the lines came together, not as \
             each check ended",
            read.name(),
            read_at.as_secs_f64(),
            rebuild.name(),
            rebuilt_at.as_secs_f64()
        );
    }
}

/// A container that prints megabytes before it dies is reported with the end of what it
/// printed, bounded: a line longer than the harness keeps (64 KiB) is cut from its start,
/// so its last words stay, and the report does not grow with the output.
#[tokio::test(flavor = "multi_thread")]
async fn a_chatty_container_that_dies_is_reported_with_its_last_words_bounded() {
    use testcontainers::ImageExt as _;
    docker::ready().must();
    // A container beside a check would be in its numbers (`locks::check`).
    let _alone = workshop::locks::check().await.must();
    let chatty = "head -c 4000000 /dev/zero | tr '\\0' x; echo ' LAST WORDS'; exit 3";
    let request = workshop::running::request(docker::HELPER_IMAGE).with_cmd(["sh", "-c", chatty]);
    let error = match workshop::running::Running::try_start(request).await {
        Ok(_) => panic!("a container that exits at once was reported running"),
        Err(error) => error.to_string(),
    };
    let head: String = error.chars().take(300).collect();
    assert_says(
        &head,
        &["the container of debian:trixie-slim exited (code 3) before answering GET /ping"],
    );
    assert!(
        error.contains("x LAST WORDS"),
        "the one long line should keep its end: {head}…"
    );
    assert!(
        error.len() < (64 << 10) + 4096,
        "the report holds {} bytes of what the container printed: it should be bounded",
        error.len()
    );
}

/// `docker cp` of a path a learner's ENTRYPOINT could name (a folder of gigabytes) stops
/// at the harness's limit instead of reading it whole into memory, and says why.
#[test]
fn a_path_of_gigabytes_is_not_read_whole_out_of_an_image() {
    docker::ready().must();
    let image = workshop::rust_image();
    let container = docker::CreatedContainer::create(&image).must();
    let error = match container.copy_out("/usr/local/rustup") {
        Ok(bytes) => panic!("read {} bytes of the Rust toolchain whole", bytes.len()),
        Err(error) => error.to_string(),
    };
    assert_says(
        &error,
        &[
            "/usr/local/rustup in the image is larger than 268 MB",
            "does the ENTRYPOINT name the service binary itself?",
        ],
    );
}
