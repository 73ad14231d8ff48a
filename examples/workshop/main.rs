//! The workshop's own tools, built on the same harness as the step tests.
//! Learners run it through the cargo alias in .cargo/config.toml:
//!
//!   cargo workshop doctor             is this machine ready for the workshop?
//!   cargo workshop check NN [FILE]    run step NN's checks on your Dockerfile
//!                                     (default yours/NN-slug/Dockerfile; step 03: build.sh)
//!   cargo workshop progress           which of your steps pass
//!
//! and the instructors' tools:
//!
//!   cargo run --example workshop -- generate            regenerate book/src/generated/
//!   cargo run --release --example workshop -- measure   measure every step, then regenerate
//!       [--quick] [--steps 01,06]                       sizes and counts only / some steps
//!
//! An example, not a binary: it is never part of the service's build.

#[path = "../../tests/support/mod.rs"]
mod support;

mod measure;

use std::path::PathBuf;
use std::process::ExitCode;

use support::learner::{self, Progress};
use support::{Step, docker, doctor::Doctor, repo_root};

fn main() -> ExitCode {
    // A learner reads messages, not backtraces: a panic prints its message only.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("{}", support::checks::panic_message(info.payload()));
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("doctor") => {
            println!("Checking this machine for the workshop…");
            let doctor = Doctor::examine(None);
            println!("{doctor}");
            if doctor.failures() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Some("check") => check(&args[1..]),
        Some("progress") => {
            let yours = Progress::folder();
            println!("{}", Progress::load(&yours).render(&yours));
            ExitCode::SUCCESS
        }
        Some("generate") => generate(),
        Some("measure") => match measure::Options::parse(&args[1..]) {
            Ok(options) => {
                measure::run(&options);
                generate()
            }
            Err(message) => usage(&message),
        },
        _ => usage("which tool?"),
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!(
        "{message}\nusage: {} NN [FILE]   run step NN's checks on your Dockerfile\n       \
         {}           which of your steps pass\n       \
         {}             is this machine ready?\n       \
         cargo run --example workshop -- generate\n       \
         cargo run --release --example workshop -- measure [--quick] [--steps 01,06]",
        learner::CHECK,
        learner::PROGRESS,
        learner::DOCTOR
    );
    ExitCode::from(2)
}

/// `check NN [FILE]`: build the learner's file as step NN's image and run its checks.
fn check(args: &[String]) -> ExitCode {
    let slugs = support::book::step_slugs();
    let Some(wanted) = args.first() else {
        return usage("which step? e.g. `cargo workshop check 05`");
    };
    let number = format!("{:0>2}", wanted.trim_start_matches("step"));
    let Some(slug) = slugs.iter().find(|slug| {
        slug.starts_with(&format!("{}-", &number[..2.min(number.len())])) || *slug == wanted
    }) else {
        return usage(&format!(
            "there is no step {wanted:?}; the steps are {}",
            slugs.join(", ")
        ));
    };
    let step = Step::get(slug);
    let file = match args.get(1) {
        Some(file) => PathBuf::from(file),
        None => repo_root().join(step.yours_default_file()),
    };
    // The file first: a learner without Docker still learns where their file should be.
    let tag = format!("{}-yours", step.facts.image);
    let mut yours = match step.yours(&file, &tag) {
        Ok(yours) => yours,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(message) = docker::check_ready() {
        eprintln!("{message}\n(`{}` checks the whole setup.)", learner::DOCTOR);
        return ExitCode::FAILURE;
    }
    println!(
        "Building with `{}` (the first build of a step takes minutes; later ones reuse the cache)…",
        yours.facts.build
    );
    yours.echo_build = true;
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let folder = yours.dir.clone();
    let report = match runtime.block_on(learner::check(&step, yours)) {
        Ok(report) => report,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    println!("{report}");
    if report.build.is_ok() {
        println!(
            "Try it yourself: docker run --rm -p 8080:8080 {tag}, then curl localhost:8080/ping"
        );
    }
    // Only the learner's own step folder counts as progress, not a file elsewhere.
    if folder == Progress::folder().join(&step.slug) {
        match Progress::record(&Progress::folder(), &report) {
            Ok(()) => println!("Recorded; `{}` shows all your steps.", learner::PROGRESS),
            Err(error) => eprintln!("could not record your progress: {error}"),
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Writes every generated file of the book; says which ones changed.
fn generate() -> ExitCode {
    let root = support::repo_root();
    for file in support::book::render_all() {
        let path = root.join(&file.path);
        let old = std::fs::read_to_string(&path).ok();
        if old.as_deref() != Some(file.content.as_str()) {
            std::fs::create_dir_all(path.parent().expect("a parent folder"))
                .expect("create book/src/generated");
            std::fs::write(&path, &file.content).expect("write a generated file");
            println!("wrote {}", file.path.display());
        }
    }
    println!("book/src/generated is up to date");
    ExitCode::SUCCESS
}
