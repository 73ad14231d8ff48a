//! The learner's commands: `check` (a verdict as the checks finish), `watch` (check again
//! on every save), `hint`, `reset`, `solution` and `progress`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use workshop::coach;
use workshop::error::Harness;
use workshop::learner::{self, Report};
use workshop::progress::Progress;
use workshop::tool::{CHECK, DOCTOR, HINT, PROGRESS, SOLUTION, WATCH};
use workshop::{Error, Result, Step, StepNumber, cleanup, docker};

use crate::Done;

/// `check NN [FILE]`: build the learner's file as step NN's image and run its checks,
/// each line printed as its check finishes.
pub fn check(number: StepNumber, file: Option<PathBuf>, slow: bool) -> Result<Done> {
    let (step, yours) = prepare(number, file, slow)?;
    let runtime = tokio::runtime::Runtime::new().harness("a tokio runtime")?;
    stop_on_signal(&runtime);
    let report = match runtime.block_on(until_interrupted(checked(&step, yours.clone()))) {
        Ok(report) => report,
        Err(signal) => stop_everything(signal),
    };
    finish(&step, &yours, &report);
    Ok(if report.passed() {
        Done::Pass
    } else {
        Done::Fail
    })
}

/// `watch [NN] [FILE]`: checks the step, then again whenever a file in the learner's
/// step folder changes; a check still running when a file changes is stopped (its build
/// and containers removed) and started afresh. Ctrl-C ends it, and what it started.
pub fn watch(number: Option<StepNumber>, file: Option<PathBuf>, slow: bool) -> Result<Done> {
    let number = match number {
        Some(number) => number,
        None => at()?,
    };
    let (step, yours) = prepare(number, file, slow)?;
    let folder = yours.dir.clone();
    let runtime = tokio::runtime::Runtime::new().harness("a tokio runtime")?;
    stop_on_signal(&runtime);
    runtime.block_on(async {
        loop {
            let seen = Progress::fingerprint_of(&folder);
            println!(
                "\n── {WATCH} {}: checking {} (save a file in {} to check again; Ctrl-C to stop)",
                step.number,
                shown(yours.learner_file.as_deref().unwrap_or(&folder)),
                shown(&folder)
            );
            let check = checked(&step, yours.clone());
            tokio::select! {
                report = check => {
                    finish(&step, &yours, &report);
                    println!("── waiting for your next save…");
                    tokio::select! {
                        () = changed(&folder, &seen) => {},
                        signal = interrupted() => stop_everything(signal),
                    }
                }
                () = changed(&folder, &seen) => {
                    // The check under way is stale: its build and containers go now.
                    for removed in cleanup::interrupted() {
                        println!("   ({removed})");
                    }
                    println!("── a file changed while checking: the check is stopped.");
                }
                signal = interrupted() => stop_everything(signal),
            }
        }
    })
}

/// `hint [NN]`: the next hint for the step.
pub fn hint(number: Option<StepNumber>) -> Result<Done> {
    let number = match number {
        Some(number) => number,
        None => at()?,
    };
    let step = Step::find(&number.to_string())?;
    let Some(shown) = coach::next_hint(&step, &Progress::folder())? else {
        println!(
            "You have seen all {} hints for step {}. The chapter's folded answer, or `{SOLUTION} \
             {} --give-up`, shows the reference and how yours differs.",
            step.facts.hints.len(),
            step.number,
            step.number
        );
        return Ok(Done::Pass);
    };
    if shown.skipped > 0 {
        println!(
            "(skipped {} hint(s) for checks your files already pass)",
            shown.skipped
        );
    }
    println!("{shown}");
    if shown.number < shown.of {
        println!("`{HINT} {}` again for the next one.", step.number);
    } else {
        println!(
            "That was the last hint. The chapter's folded answer, or `{SOLUTION} {} --give-up`, \
             shows the reference.",
            step.number
        );
    }
    Ok(Done::Pass)
}

/// `reset NN`: the step's starting files back, the learner's kept beside.
pub fn reset(number: StepNumber) -> Result<Done> {
    let step = Step::find(&number.to_string())?;
    let reset = coach::reset(&step, &Progress::folder())?;
    if let Some(kept) = &reset.kept {
        println!("Your files are kept in {}", shown(kept));
    }
    if reset.written.is_empty() {
        println!(
            "{} is empty again: step {} starts from nothing.",
            shown(&Progress::folder().join(&step.slug)),
            step.number
        );
    } else {
        println!(
            "{} holds step {}'s starting files again: {}",
            shown(&Progress::folder().join(&step.slug)),
            step.number,
            reset.written.join(", ")
        );
    }
    Ok(Done::Pass)
}

/// `solution NN [--give-up]`: the reference, and how the learner's files differ.
pub fn solution(number: StepNumber, give_up: bool) -> Result<Done> {
    let step = Step::find(&number.to_string())?;
    println!("{}", coach::solution(&step, &Progress::folder(), give_up)?);
    Ok(Done::Pass)
}

/// `progress`: what is done, what is next, what this machine lacks for it, time left.
pub fn progress() -> Result<Done> {
    let yours = Progress::folder();
    let progress = Progress::load(&yours);
    println!("{}", progress.render(&yours)?);
    let Some(next) = progress.next_step(&yours)? else {
        return Ok(Done::Pass);
    };
    let results = workshop::results::Results::load().ok().flatten();
    let result = |step: &Step| {
        results
            .as_ref()
            .and_then(|results| results.step(&step.slug))
    };
    let left: u32 = Step::all()?
        .iter()
        .filter(|step| step.number >= next.number)
        .map(|step| workshop::results::minutes_for(step, result(step)))
        .sum();
    println!(
        "Step {} takes about {} minutes; the steps left, about {} h {:02} min (the book's \
         estimates: reading, the measured builds and checks on a two-core laptop, and time to \
         write).",
        next.number,
        workshop::results::minutes_for(&next, result(&next)),
        left / 60,
        left % 60
    );
    let doctor = workshop::doctor::Doctor::examine(None);
    let lacking = doctor.failing_for(next.number.get());
    if lacking.is_empty() {
        println!("This machine has what step {} needs.", next.number);
        return Ok(Done::Pass);
    }
    println!("Step {} needs what this machine lacks:", next.number);
    for line in lacking {
        println!("  ✗ {}: {}", line.what, line.detail);
    }
    Ok(Done::Unfit)
}

/// The step the learner is at: the first that does not pass.
fn at() -> Result<StepNumber> {
    Progress::load(&Progress::folder())
        .next_step(&Progress::folder())?
        .map(|step| step.number)
        .ok_or_else(|| Error::Found {
            found: "every step passes".into(),
            hint: format!("name a step to watch again: `{WATCH} 13`"),
        })
}

/// The step, and the step made from the learner's file, ready to check.
fn prepare(number: StepNumber, file: Option<PathBuf>, slow: bool) -> Result<(Step, Step)> {
    let step = Step::find(&number.to_string())?;
    let file = file.unwrap_or_else(|| {
        let name = step.reference_file();
        Progress::folder()
            .join(&step.slug)
            .join(name.file_name().unwrap_or_default())
    });
    // The file first: a learner without Docker still learns where their file should be.
    let tag = format!("{}-yours", step.image);
    let mut yours = step.learners(&file, &tag)?;
    docker::ready().map_err(|error| {
        Error::Harness(format!("{error}\n(`{DOCTOR}` checks the whole setup.)"))
    })?;
    for removed in cleanup::leftovers() {
        println!("(a check that died earlier left this behind: {removed})");
    }
    println!("{}", learner::on_this_machine(&yours));
    yours.echo_build = true;
    yours.try_slow = slow;
    Ok((step, yours))
}

/// Builds and checks, printing the report's parts as they come.
async fn checked(step: &Step, yours: Step) -> Report {
    println!(
        "Building with `{}` (the first build of a step takes minutes; later ones reuse the cache)…",
        yours.build_command()
    );
    let built = learner::build(yours).await;
    learner::report_telling(step, built, &mut |part| {
        // Ctrl-C reaches the checks' own commands too (`docker save` fails on SIGINT):
        // a check that ends that way says nothing about the image.
        if STOPPING.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        print!("{part}");
        let _ = std::io::stdout().flush();
    })
    .await
}

/// The report's last lines, and the learner's progress recorded.
fn finish(step: &Step, yours: &Step, report: &Report) {
    println!("{}", report.footer());
    if report.build.is_ok() {
        println!(
            "Try it yourself: docker run --rm -p 8080:8080 {}, then curl localhost:8080/ping",
            yours.image
        );
    }
    if !report.passed() {
        println!("Stuck? `{HINT} {}` gives a hint.", step.number);
    }
    // Only the learner's own step folder counts as progress, not a file elsewhere.
    if yours.dir == Progress::folder().join(&step.slug) {
        match Progress::record(&Progress::folder(), report) {
            Ok(()) => println!("Recorded; `{PROGRESS}` shows all your steps."),
            Err(error) => eprintln!("could not record your progress: {error}"),
        }
    } else {
        println!(
            "(a file outside yours/ is not recorded as your progress: `{CHECK} {}` checks \
             yours/{})",
            step.number, step.slug
        );
    }
}

/// Resolves once the folder's files differ from the fingerprint `seen`.
async fn changed(folder: &Path, seen: &str) {
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if Progress::fingerprint_of(folder) != seen {
            return;
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, with its number.
async fn interrupted() -> i32 {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut interrupt), Ok(mut terminate)) => {
            tokio::select! {
                _ = interrupt.recv() => libc_signal::SIGINT,
                _ = terminate.recv() => libc_signal::SIGTERM,
            }
        }
        _ => std::future::pending().await,
    }
}

/// The two signals' numbers on Linux: a process they stop exits 128 + the number.
mod libc_signal {
    pub const SIGINT: i32 = 2;
    pub const SIGTERM: i32 = 15;
}

/// Ctrl-C or SIGTERM stops the run at once, from a task of its own on another thread: a
/// check that blocks the thread it runs on (a rebuild waiting for docker) would otherwise
/// hold the signal until it ended, and its failed line would come first, then exit 1
/// (seen in the Ctrl-C test mid-rebuild).
fn stop_on_signal(runtime: &tokio::runtime::Runtime) {
    runtime.spawn(async {
        let signal = interrupted().await;
        stop_everything(signal);
    });
}

/// `work`, or the signal's number as soon as the process gets SIGINT (Ctrl-C) or
/// SIGTERM.
async fn until_interrupted<T>(
    work: impl std::future::Future<Output = T>,
) -> std::result::Result<T, i32> {
    tokio::select! {
        done = work => Ok(done),
        signal = interrupted() => Err(signal),
    }
}

/// Set once Ctrl-C or SIGTERM stops the run (not when watch stops a stale check): what a
/// check under way says after it is about its own interruption, not about the image.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Ctrl-C or SIGTERM: nothing the check started outlives it. Exits as a shell reports a
/// process the signal stopped: 130 for Ctrl-C, 143 for SIGTERM.
fn stop_everything(signal: i32) -> ! {
    STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
    eprintln!("\nStopped: removing what the check had under way…");
    for removed in cleanup::interrupted() {
        eprintln!("  {removed}");
    }
    std::process::exit(128 + signal);
}

/// A path as a learner reads it: relative to the repository when it is inside.
fn shown(path: &Path) -> String {
    workshop::step::shown(path).display().to_string()
}
