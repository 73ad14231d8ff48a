//! The workshop's own tool, built on the same harness as the step tests. Learners run
//! it through the cargo alias in .cargo/config.toml (`cargo workshop doctor | check NN
//! [FILE] | progress`); instructors run `instructor generate`, `measure`, `compare` and `trades`
//! (`--help` says how). An example, not a binary: it is never part of the service's build.

#[path = "../../tests/support/mod.rs"]
mod support;

mod compare;
mod measure;
mod trades;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use support::doctor::Doctor;
use support::learner::{self, Report};
use support::progress::Progress;
use support::tool::{DOCTOR, PROGRESS};
use support::{Result, Step, StepNumber, docker, repo_root};

/// The hands-on workshop: ship a Rust service in a Docker image, step by step.
#[derive(Parser)]
#[command(name = "cargo workshop", bin_name = "cargo workshop")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Is this machine ready for the workshop? Each ✗ line says what to do.
    Doctor,
    /// Build your file as step NN's image and run the step's checks on it.
    Check {
        /// The step: 5, 05 or 05-dependency-cache.
        #[arg(value_parser = step_number)]
        step: StepNumber,
        /// Your Dockerfile (step 03: build.sh), or its folder
        /// [default: yours/NN-slug/Dockerfile]
        file: Option<PathBuf>,
    },
    /// Which of your steps pass, and what to do next.
    Progress,
    /// For instructors: regenerate the book's numbers and measure the steps.
    #[command(subcommand)]
    Instructor(Instructor),
}

#[derive(Subcommand)]
enum Instructor {
    /// Regenerate book/src/generated/ from the steps and results.json.
    Generate,
    /// Measure the steps into results.json (build with --release), then regenerate.
    Measure(measure::Options),
    /// Measure our final image beside the article's Go service in one run (needs wrk),
    /// into results.json, then regenerate.
    Compare(compare::Options),
    /// Measure what the book's trade-offs cost (step 07 with panic = "unwind", step
    /// 05's command in each form under docker stop, step 09 and cargo-chef on a fresh CI
    /// runner), into results.json, then regenerate.
    Trades,
}

/// A step number that names one of the steps; clap shows the error with the usage.
fn step_number(text: &str) -> std::result::Result<StepNumber, String> {
    Step::find(text)
        .map(|step| step.number)
        .map_err(|error| error.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One endpoint for every door, testcontainers included, which reads only DOCKER_HOST:
    // the current context's, when DOCKER_HOST is unset. Set before any thread starts.
    if std::env::var_os("DOCKER_HOST").is_none() {
        let host = docker::endpoint();
        // SAFETY: no other thread exists yet that could read the environment.
        unsafe { std::env::set_var("DOCKER_HOST", host) };
    }
    let done = match cli.command {
        Command::Doctor => doctor(),
        Command::Check { step, file } => check(step, file),
        Command::Progress => progress(),
        Command::Instructor(Instructor::Generate) => generate(),
        Command::Instructor(Instructor::Measure(options)) => {
            measure::run(&options).and_then(|()| generate())
        }
        Command::Instructor(Instructor::Compare(options)) => {
            compare::run(&options).and_then(|()| generate())
        }
        Command::Instructor(Instructor::Trades) => trades::run().and_then(|()| generate()),
    };
    match done {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

fn doctor() -> Result<bool> {
    println!("Checking this machine for the workshop…");
    let doctor = Doctor::examine(None);
    println!("{doctor}");
    Ok(doctor.failures() == 0)
}

fn progress() -> Result<bool> {
    let yours = Progress::folder();
    println!("{}", Progress::load(&yours).render(&yours)?);
    Ok(true)
}

/// `check NN [FILE]`: build the learner's file as step NN's image and run its checks.
fn check(number: StepNumber, file: Option<PathBuf>) -> Result<bool> {
    let step = Step::find(&number.to_string())?;
    let file = file.unwrap_or_else(|| repo_root().join(step.yours_default_file()));
    // The file first: a learner without Docker still learns where their file should be.
    let tag = format!("{}-yours", step.image);
    let mut yours = step.learners(&file, &tag)?;
    docker::ready().map_err(|error| {
        support::Error::Harness(format!("{error}\n(`{DOCTOR}` checks the whole setup.)"))
    })?;
    println!(
        "Building with `{}` (the first build of a step takes minutes; later ones reuse the cache)…",
        yours.build_command()
    );
    yours.echo_build = true;
    let folder = yours.dir.clone();
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| support::Error::Harness(format!("a tokio runtime: {error}")))?;
    let report: Report = runtime.block_on(learner::check(&step, yours));
    println!("{report}");
    if report.build.is_ok() {
        println!(
            "Try it yourself: docker run --rm -p 8080:8080 {tag}, then curl localhost:8080/ping"
        );
    }
    // Only the learner's own step folder counts as progress, not a file elsewhere.
    if folder == Progress::folder().join(&step.slug) {
        match Progress::record(&Progress::folder(), &report) {
            Ok(()) => println!("Recorded; `{PROGRESS}` shows all your steps."),
            Err(error) => eprintln!("could not record your progress: {error}"),
        }
    }
    Ok(report.passed())
}

/// Writes every generated file of the book; says which ones changed.
fn generate() -> Result<bool> {
    let root = repo_root();
    for file in support::book::render_all()? {
        let path = root.join(&file.path);
        let old = std::fs::read_to_string(&path).ok();
        if old.as_deref() != Some(file.content.as_str()) {
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder)
                    .map_err(|error| support::error::io("create", folder, error))?;
            }
            std::fs::write(&path, &file.content)
                .map_err(|error| support::error::io("write", &path, error))?;
            println!("wrote {}", file.path.display());
        }
    }
    println!("book/src/generated is up to date");
    Ok(true)
}
