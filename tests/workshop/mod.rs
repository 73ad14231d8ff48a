//! The root's tests of the workshop run the workshop package's own tests (workshop/tests/)
//! as a process: its harness is compiled once, in a workspace of its own, and never
//! enters the service's build. A file here names what to run; this runs it and shows
//! what it printed. To filter a workshop test file's tests, run it directly:
//! `cargo test --manifest-path workshop/Cargo.toml --test learner -- a_syntax_error`.
//!
//! Plain `cargo test` runs tests/all.rs first (cargo runs test files by name): it runs
//! every workshop test file, in two lanes side by side (`run_all`), and keeps what each
//! printed for this `cargo test`. The files after it (`learner.rs`, `step04_…rs`) then
//! report that outcome instead of running their file a second time. Named alone
//! (`cargo test --test learner`), a file finds no suite of its `cargo test` and runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// Runs `what`: a step (`04-multi-stage`: the tests of workshop/tests/steps.rs named
/// after it, `step04_multi_stage…`) or a test file of the workshop (`learner`:
/// workshop/tests/learner.rs). The flags this test was given that choose what to run
/// and show (`--ignored`, `--nocapture`) are given on. Fails, with what the tests
/// printed, when one of them fails. When this `cargo test` ran it already (tests/all.rs),
/// says so and reports that outcome.
// Each root test file uses one of `run` and `run_all`: the other is unused there.
#[allow(dead_code)]
pub fn run(what: &str) {
    let step = what.starts_with(|c: char| c.is_ascii_digit());
    let (file, filter) = if step {
        ("steps", Some(format!("step{}", what.replace('-', "_"))))
    } else {
        (what, None)
    };
    let shown = format!(
        "workshop/tests/{file}.rs {}",
        filter.clone().unwrap_or_default()
    );
    if let Some(ran) = Suite::of_this_cargo_test().and_then(|suite| suite.outcome(file)) {
        let passed = match &filter {
            None => ran.passed,
            Some(test) => match ran.test(test) {
                Some(passed) => passed,
                None => panic!("{shown}: this cargo test's suite ran {file} without it"),
            },
        };
        println!("{shown}: ran in this cargo test's suite (tests/all.rs), its output above there");
        assert!(
            passed,
            "{shown} failed in this cargo test's suite: see tests/all.rs's output"
        );
        return;
    }
    let given = passed_on();
    let nocapture = given.iter().any(|arg| arg == "--nocapture");
    let mut command = cargo();
    command
        .args(["--test", file, "--"])
        .args(&filter)
        .args(&given)
        // cargo's own progress (what it compiles, which test binary runs) as it happens.
        .stderr(Stdio::inherit());
    if nocapture {
        let status = command
            .status()
            .unwrap_or_else(|error| panic!("cannot run cargo: {error}"));
        assert!(status.success(), "{shown} failed ({status})");
        return;
    }
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run cargo: {error}"));
    print!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "{shown} failed ({}): what it printed is above",
        output.status
    );
}

/// The workshop's test files that need no Docker: seconds, before the lanes.
const FIRST: &[&str] = &["layout", "harness", "book"];

/// The rest, in two lanes run side by side, each file after the one before it in its
/// lane: a build of one lane runs while the other lane's check waits for a timeout,
/// and a check that runs a container still runs alone (the harness's `locks`). The
/// step tests and the files that build the final image in one lane; the learner's
/// tests (shorter than the steps) and the rest in the other.
///
/// Two of the files whose tests are all `#[ignore]`d end the learner's lane: plain `cargo
/// test` starts them and they run nothing; `cargo test -- --include-ignored` (CI) runs them
/// there, in the time the learner's lane would wait for the steps' (CPU the steps' last
/// test, step 13's publishing, leaves idle). ci_cache is in neither lane: it forgets
/// build cache other tests reuse, and run beside step 13's test its cargo-chef rebuild
/// compiled cargo-chef again (a cold CI run: BuildKit hands a step two builds share to
/// the one that ignores the cache; builds from nothing now run alone, `locks::Builds`,
/// yet a layer was also seen rebuilt right after another build from nothing, cause not
/// found). Its root file (tests/ci_cache.rs) runs it after tests/all.rs, so after both
/// lanes.
const LANES: &[&[&str]] = &[
    &["steps", "compose", "kubernetes"],
    &[
        "learner",
        "compare_gin",
        "build_checks",
        "judges",
        "image_stores",
        "browser",
    ],
];

/// Every workshop test file: compiled once, the ones without Docker first, then the
/// lanes side by side. Each file's output is shown when it ends, with its time, and
/// kept for the root files after this one (`run`); fails naming every file that failed.
#[allow(dead_code)]
pub fn run_all() {
    let started = Instant::now();
    let suite = Suite::start();
    let compiled = cargo()
        .arg("--no-run")
        .stderr(Stdio::inherit())
        .status()
        .unwrap_or_else(|error| panic!("cannot run cargo: {error}"));
    assert!(
        compiled.success(),
        "the workshop's tests do not compile ({compiled})"
    );
    let run_file = |file: &str| -> bool {
        let began = Instant::now();
        let output = cargo()
            .args(["--test", file, "--"])
            .args(passed_on())
            .output()
            .unwrap_or_else(|error| panic!("cannot run cargo: {error}"));
        let passed = output.status.success();
        println!(
            "==> workshop/tests/{file}.rs: {} in {:.0} s (at {:.0} s)\n{}{}",
            if passed { "passed" } else { "FAILED" },
            began.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        if let Some(suite) = &suite {
            suite.keep(file, &output);
        }
        passed
    };
    let mut failed: Vec<&str> = FIRST
        .iter()
        .copied()
        .filter(|file| !run_file(file))
        .collect();
    let lanes: Vec<Vec<&str>> = std::thread::scope(|scope| {
        let running: Vec<_> = LANES
            .iter()
            .map(|lane| {
                scope.spawn(|| {
                    lane.iter()
                        .copied()
                        .filter(|file| !run_file(file))
                        .collect::<Vec<&str>>()
                })
            })
            .collect();
        running
            .into_iter()
            .map(|lane| lane.join().expect("a lane of the workshop's tests"))
            .collect()
    });
    failed.extend(lanes.into_iter().flatten());
    assert!(
        failed.is_empty(),
        "workshop/tests/ files that failed: {failed:?} (what each printed is above); run one \
         alone with `cargo test --test <file>`"
    );
}

/// `cargo test --manifest-path workshop/Cargo.toml`, from the repository root.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["test", "--manifest-path", "workshop/Cargo.toml"]);
    command
}

/// The flags this test was given that choose what to run and show, to give on.
fn passed_on() -> Vec<String> {
    std::env::args()
        .filter(|arg| ["--ignored", "--include-ignored", "--nocapture"].contains(&arg.as_str()))
        .collect()
}

/// What tests/all.rs ran for one `cargo test`: a folder under cargo's scratch folder
/// named after that cargo process (its id and start time, read from /proc: the test
/// files of one `cargo test` are its children), holding each workshop file's outcome.
/// The flags given on are part of the name: a file run with `--ignored` never reports
/// a suite run without.
struct Suite {
    dir: PathBuf,
}

/// A workshop file as the suite ran it.
struct Ran {
    passed: bool,
    output: String,
}

impl Ran {
    /// Whether the test `name` of the file passed, from the test harness's own lines.
    fn test(&self, name: &str) -> Option<bool> {
        let line = self
            .output
            .lines()
            .find(|line| line.starts_with(&format!("test {name} ... ")))?;
        Some(line.ends_with(" ok"))
    }
}

impl Suite {
    fn of_this_cargo_test() -> Option<Suite> {
        let parent = std::os::unix::process::parent_id();
        let stat = std::fs::read_to_string(format!("/proc/{parent}/stat")).ok()?;
        // The start time is field 22; the command name (field 2) may hold spaces.
        let started = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(19)?
            .to_string();
        let flags = passed_on().join("").replace('-', "");
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("suite-{parent}-{started}{flags}"));
        Some(Suite { dir })
    }

    /// A new suite for this `cargo test` (suites of earlier ones removed).
    fn start() -> Option<Suite> {
        let suite = Suite::of_this_cargo_test()?;
        if let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with("suite-") {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        std::fs::create_dir_all(&suite.dir).ok()?;
        Some(suite)
    }

    fn keep(&self, file: &str, output: &Output) {
        let verdict = if output.status.success() {
            "passed"
        } else {
            "failed"
        };
        let _ = std::fs::write(self.dir.join(format!("{file}.out")), &output.stdout);
        // Last: a verdict there means the output is whole.
        let _ = std::fs::write(self.dir.join(format!("{file}.verdict")), verdict);
    }

    fn outcome(&self, file: &str) -> Option<Ran> {
        let verdict = std::fs::read_to_string(self.dir.join(format!("{file}.verdict"))).ok()?;
        let output = std::fs::read_to_string(self.dir.join(format!("{file}.out"))).ok()?;
        Some(Ran {
            passed: verdict == "passed",
            output,
        })
    }
}
