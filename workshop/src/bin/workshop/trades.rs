//! `instructor trades`: what two of the book's trade-offs measure, each a step built
//! with one thing changed and measured beside the step as it is. The bytes
//! `panic = "abort"` saves (chapter 07): step 07 built again with `panic = "unwind"`.
//! What `docker stop` does to each form of a command (chapters 01 and 08): step 05's
//! image, whose base has a shell, with its `CMD` written each way. What a CI runner
//! gets from a cache (the next day): step 09 and its cargo-chef alternative, each
//! built on a fresh runner, on one given the cache a previous run exported, and again.

use std::time::Duration;

use crate::measure::compressed_size;
use workshop::build::Change;
use workshop::buildkit::compiled_crates;
use workshop::ci_cache::{self, bytes_under};
use workshop::error::Harness;
use workshop::error::{Error, Result, io};
use workshop::files::PrivateDir;
use workshop::image::Image;
use workshop::results::{CiBuild, CiBuilds, PanicVariant, Results, StopForm, Trades};
use workshop::running::{self, Running};
use workshop::step::shown;
use workshop::tool::TRADES;
use workshop::{Step, docker, repo_root};

/// The step whose dist profile is built both ways.
const PANIC_STEP: &str = "07-size-profile";
/// The step whose command is written each way: its base image has `/bin/sh`.
const STOP_STEP: &str = "05-dependency-cache";
/// Step 05's command, and the same command in the shell forms the book weighs: a lone
/// command, a list ending in it, a list after it. Which of them leaves the shell as
/// PID 1 depends on the image's `/bin/sh`: measured, not assumed.
const STOP_FORMS: [&str; 4] = [
    r#"CMD ["ping"]"#,
    "CMD ping",
    "CMD echo starting && ping",
    "CMD ping; echo ping exited",
];

pub fn run() -> Result<()> {
    run_as(&crate::measure::new_run())
}

/// The trade-offs, recorded as part of the run `run`.
pub fn run_as(run: &str) -> Result<()> {
    docker::ready()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .harness("a tokio runtime")?;

    let mut panic = Vec::new();
    for setting in ["abort", "unwind"] {
        eprintln!("step {PANIC_STEP} with panic = \"{setting}\": build");
        // Before the first cargo command: the dependencies are built with it too.
        let unwind = |text: &str| {
            text.replacen(
                "\nWORKDIR /app\n",
                "\nENV CARGO_PROFILE_DIST_PANIC=unwind\nWORKDIR /app\n",
                1,
            )
        };
        let edit: Option<&dyn Fn(&str) -> String> = (setting == "unwind").then_some(&unwind);
        let (image, _folder) = build_edited(PANIC_STEP, &format!("panic-{setting}"), edit)?;
        let binary = image
            .binary_bytes("/ping")?
            .ok_or_else(|| Error::Harness(format!("{} holds no /ping to weigh", image.tag)))?;
        panic.push(PanicVariant {
            panic: setting.to_string(),
            binary_bytes: binary.len() as u64,
            size_bytes: image.size_bytes(),
            compressed_bytes: compressed_size(&image.tag)?,
        });
        image.remove();
    }

    let mut stops = Vec::new();
    for (index, form) in STOP_FORMS.iter().enumerate() {
        eprintln!("step {STOP_STEP} with `{form}`: build, run, docker stop");
        let rewrite = |text: &str| text.replacen(STOP_FORMS[0], form, 1);
        let edit: Option<&dyn Fn(&str) -> String> = (index > 0).then_some(&rewrite);
        let (image, _folder) = build_edited(STOP_STEP, &format!("stop-{index}"), edit)?;
        stops.push(runtime.block_on(stop_form(form, &image.tag))?);
        image.remove();
    }

    let mut ci = Vec::new();
    for (step, name) in [
        (Step::find("09-cache-mounts")?, "cache-mounts"),
        (ci_cache::chef()?, "cargo-chef"),
    ] {
        ci.push(ci_builds(&step, name)?);
    }

    let mut all = Results::load()?.unwrap_or_default();
    all.trades = Some(Trades {
        run: run.to_string(),
        command: TRADES.to_string(),
        date: crate::measure::today(),
        docker: crate::measure::engine()?,
        panic,
        stops,
        ci,
    });
    all.save()?;
    eprintln!("wrote {}", Results::path().display());
    Ok(())
}

/// `slug`'s files in a folder of their own, its Dockerfile passed through `edit` (which
/// must change it; none: the step as it is), built as `ping:trades-<name>`. The folder
/// lives as long as the image is needed.
fn build_edited(
    slug: &str,
    name: &str,
    edit: Option<&dyn Fn(&str) -> String>,
) -> Result<(Image, PrivateDir)> {
    let step = Step::find(slug)?;
    let folder = PrivateDir::new(&format!("trades-{name}"))?;
    for entry in std::fs::read_dir(&step.dir).map_err(|error| io("read", &step.dir, error))? {
        let path = entry.map_err(|error| io("read", &step.dir, error))?.path();
        if path.is_file() && path.file_name().is_some_and(|file| file != "step.toml") {
            let to = folder.path().join(path.file_name().unwrap_or_default());
            std::fs::copy(&path, &to).map_err(|error| io("copy", &path, error))?;
        }
    }
    let dockerfile = folder.path().join("Dockerfile");
    let original =
        std::fs::read_to_string(&dockerfile).map_err(|error| io("read", &dockerfile, error))?;
    let edited = edit.map_or_else(|| original.clone(), |edit| edit(&original));
    if edit.is_some() && edited == original {
        return Err(Error::Harness(format!(
            "the edit for {name} no longer changes step {slug}'s Dockerfile"
        )));
    }
    std::fs::write(&dockerfile, edited).map_err(|error| io("write", &dockerfile, error))?;
    let image = step
        .yours(&dockerfile, &format!("ping:trades-{name}"))?
        .try_build()?;
    Ok((image, folder))
}

/// `step`'s Dockerfile (step 09's or an alternative of it) built three times, as CI builds
/// it: on a fresh runner, exporting its cache; on a fresh runner given that cache,
/// after a source change; again on the same builder, after a source change.
fn ci_builds(step: &Step, name: &str) -> Result<CiBuilds> {
    let file = step
        .learner_file
        .clone()
        .unwrap_or_else(|| repo_root().join(step.reference_file()));
    let dockerfile = shown(&file).display().to_string();
    let step = step.yours(&file, &format!("ping:trades-ci-{name}"))?;
    let cache = PrivateDir::new("trades-ci")?;
    let exported = cache.path().join("cache");
    let built = |image: Image| {
        let build = CiBuild {
            build_s: image.build_time.as_secs_f64(),
            crates_compiled: compiled_crates(&image.build_log).len(),
        };
        image.remove();
        build
    };

    eprintln!("{dockerfile}: a fresh runner's build, exporting its cache");
    let cold = built(step.first_ci_run(&exported)?);

    eprintln!("{dockerfile}: a fresh runner given that cache, after a source change");
    let imported = built(step.next_ci_run(&exported)?.0);

    eprintln!("{dockerfile}: the same builder again, after a source change");
    let kept = built(step.rebuild_after(Change::SourceOnly)?);
    Ok(CiBuilds {
        dockerfile: dockerfile.to_string(),
        exported_bytes: bytes_under(&exported),
        cold,
        imported,
        kept,
    })
}

/// Starts `tag`, reads what runs as PID 1, and times `docker stop`.
async fn stop_form(form: &str, tag: &str) -> Result<StopForm> {
    let container = Running::try_start(running::request(tag)).await?;
    // Idle first, as in every stop the book measures.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid1 = docker::ok(&["exec", container.id(), "cat", "/proc/1/cmdline"])?
        .replace('\0', " ")
        .trim()
        .to_string();
    let stopped = container.stop().await?;
    Ok(StopForm {
        instruction: form.to_string(),
        pid1,
        stop_s: stopped.took.as_secs_f64(),
        exit_code: stopped.exit_code,
    })
}
