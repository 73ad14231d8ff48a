//! The workshop's own tool, built on the same harness as the step tests. Learners run
//! it through the cargo alias in .cargo/config.toml (`cargo workshop doctor | check NN
//! [FILE] | progress`); instructors run `instructor generate`, `measure`, `compare` and
//! `trades` (`--help` says how). Its package (workshop/) is apart from the service's: it
//! is never part of the service's build, and its build needs only what the tool uses.

mod compare;
mod learning;
mod measure;
mod trades;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use workshop::doctor::Doctor;
use workshop::{Result, Step, StepNumber, docker, repo_root};

/// The hands-on workshop: ship a Rust service in a Docker image, step by step. Without a
/// command: watch the step you are at (`watch`).
#[derive(Parser)]
#[command(
    name = "cargo workshop",
    bin_name = "cargo workshop",
    after_help = "Exit status: 0 every check passes, 1 a check failed, 2 a usage or machine \
                  problem (the message says which)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
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
        /// Also run a check a faster one shows cannot pass (an arm64 build that would
        /// compile under emulation, ten minutes or more).
        #[arg(long)]
        slow: bool,
    },
    /// Check step NN again each time you save a file of yours/NN-slug/ [default: the step
    /// you are at]. Ctrl-C stops it, and everything it started.
    Watch {
        /// The step: 5, 05 or 05-dependency-cache.
        #[arg(value_parser = step_number)]
        step: Option<StepNumber>,
        /// Your Dockerfile, or its folder [default: yours/NN-slug/Dockerfile]
        file: Option<PathBuf>,
        /// As `check --slow`.
        #[arg(long)]
        slow: bool,
    },
    /// The next hint for step NN [default: the step you are at]: the first points at the
    /// idea, the last at the instruction.
    Hint {
        #[arg(value_parser = step_number)]
        step: Option<StepNumber>,
    },
    /// Put step NN's starting files back in yours/NN-slug/; your files are kept beside it.
    Reset {
        #[arg(value_parser = step_number)]
        step: StepNumber,
    },
    /// The reference files of step NN and how yours differ, once yours pass.
    Solution {
        #[arg(value_parser = step_number)]
        step: StepNumber,
        /// Show it before your files pass.
        #[arg(long)]
        give_up: bool,
    },
    /// Which of your steps pass, what comes next, what it needs, and how long is left.
    Progress,
    /// For instructors: regenerate the book's numbers and measure the steps.
    #[command(subcommand)]
    Instructor(Instructor),
}

#[derive(Subcommand)]
enum Instructor {
    /// Regenerate book/src/generated/ from the steps and results.json.
    Generate,
    /// Measure the steps into results.json, then regenerate.
    Measure(measure::Options),
    /// Measure our final image beside the article's Go service in one run (needs wrk),
    /// into results.json, then regenerate.
    Compare(compare::Options),
    /// Measure what the book's trade-offs cost (step 07 with panic = "unwind", step
    /// 05's command in each form under docker stop, step 09 and cargo-chef on a fresh CI
    /// runner), into results.json, then regenerate.
    Trades,
}

/// How a command ended: its exit status.
pub enum Done {
    /// Every check passed (or the command did what it was asked): 0.
    Pass,
    /// A check failed: 1.
    Fail,
    /// The machine is not ready, or the command cannot be done as asked: 2.
    Unfit,
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
        None => learning::watch(None, None, false),
        Some(Command::Doctor) => doctor(),
        Some(Command::Check { step, file, slow }) => learning::check(step, file, slow),
        Some(Command::Watch { step, file, slow }) => learning::watch(step, file, slow),
        Some(Command::Hint { step }) => learning::hint(step),
        Some(Command::Reset { step }) => learning::reset(step),
        Some(Command::Solution { step, give_up }) => learning::solution(step, give_up),
        Some(Command::Progress) => learning::progress(),
        Some(Command::Instructor(Instructor::Generate)) => generate(),
        Some(Command::Instructor(Instructor::Measure(options))) => {
            measure::run(&options).and_then(|()| generate())
        }
        Some(Command::Instructor(Instructor::Compare(options))) => {
            compare::run(&options).and_then(|()| generate())
        }
        Some(Command::Instructor(Instructor::Trades)) => trades::run().and_then(|()| generate()),
    };
    match done {
        Ok(Done::Pass) => ExitCode::SUCCESS,
        Ok(Done::Fail) => ExitCode::from(1),
        Ok(Done::Unfit) => ExitCode::from(2),
        Err(workshop::Error::Found { found, hint }) if is_a_learners_miss(&found) => {
            eprintln!("{found}\n  hint: {hint}");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(2)
        }
    }
}

/// A refusal that is the learner's to fix by working on the step (a solution asked for
/// before the step passes): a failed check's status, not a usage problem.
fn is_a_learners_miss(found: &str) -> bool {
    [
        "does not pass yet",
        "changed since it last passed",
        "has not been checked yet",
    ]
    .iter()
    .any(|miss| found.contains(miss))
}

fn doctor() -> Result<Done> {
    println!("Checking this machine for the workshop…");
    let doctor = Doctor::examine(None);
    println!("{doctor}");
    Ok(if doctor.failures() == 0 {
        Done::Pass
    } else {
        Done::Unfit
    })
}

/// Writes every generated file of the book; says which ones changed.
fn generate() -> Result<Done> {
    let root = repo_root();
    for file in workshop::book::render_all()? {
        let path = root.join(&file.path);
        let old = std::fs::read_to_string(&path).ok();
        if old.as_deref() != Some(file.content.as_str()) {
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder)
                    .map_err(|error| workshop::error::io("create", folder, error))?;
            }
            std::fs::write(&path, &file.content)
                .map_err(|error| workshop::error::io("write", &path, error))?;
            println!("wrote {}", file.path.display());
        }
    }
    println!("book/src/generated is up to date");
    Ok(Done::Pass)
}
