//! Checks of what an image says about what it is built from: the dependency list
//! embedded in its binary, and the SBOM its build exports.

use std::collections::BTreeSet;
use std::process::Command;

use auditable_serde::DependencyKind;

use super::Passed;
use crate::error::Harness;
use crate::error::{Error, Result, found};
use crate::files::PrivateDir;
use crate::image::Image;
use crate::repo_root;

/// The stage a step's build exports its SBOM from.
pub const SBOM_STAGE: &str = "sbom";

/// Step 11: the service binary carries its dependency list (`cargo auditable`): every
/// crate the service is built from, at Cargo.lock's version, and nothing Cargo.lock
/// does not have.
pub fn embeds_its_dependency_list(image: &Image) -> Result<Passed> {
    let (path, bytes) = super::the_service_binary(image)?;
    let info = match dependency_list(&bytes) {
        Ok(info) => info,
        Err(error) => {
            return found(
                format!("{path} carries no dependency list ({error})"),
                "build it with `cargo auditable build` (cargo install cargo-auditable): it is \
                 `cargo build` that also writes the crates and versions into the binary",
            );
        }
    };
    let embedded_bytes = auditable_extract::raw_auditable_data(&bytes).map_or(0, <[u8]>::len);
    let embedded: BTreeSet<String> = info
        .packages
        .iter()
        .filter(|package| package.kind == DependencyKind::Runtime)
        .map(|package| format!("{} v{}", package.name, package.version))
        .collect();
    let triple = target_triple(&bytes)?;
    let features = features_of(&info)?;
    let built = runtime_crates_with(&triple, &features)?;
    let locked = locked_crates()?;
    let missing: Vec<&String> = built.difference(&embedded).collect();
    let invented: Vec<&String> = embedded.difference(&locked).collect();
    if !missing.is_empty() || !invented.is_empty() {
        return found(
            format!(
                "the dependency list in {path} does not match Cargo.lock: the service is built \
                 from {missing:?}, which it does not list, and it lists {invented:?}, which \
                 Cargo.lock does not have"
            ),
            "build the binary from this repository's Cargo.toml and Cargo.lock, with --locked",
        );
    }
    // cargo-auditable reads `cargo metadata`, which unifies features with the
    // dev-dependencies': it may list crates of Cargo.lock that this build left out.
    let unbuilt: Vec<&str> = embedded.difference(&built).map(String::as_str).collect();
    let unbuilt = if unbuilt.is_empty() {
        String::new()
    } else {
        format!(
            ", and {} more that only dev-dependencies' features bring in ({})",
            unbuilt.len(),
            unbuilt.join(", ")
        )
    };
    Ok(Some(format!(
        "all {} crates it is built from for {triple}, at Cargo.lock's versions{unbuilt}; \
         {embedded_bytes} bytes in the binary",
        built.len()
    )))
}

/// The runtime crates (`name vX.Y.Z`) a binary's embedded dependency list names.
pub fn embedded_crates(binary: &[u8]) -> Result<BTreeSet<String>> {
    let info = dependency_list(binary).map_err(|error| Error::Found {
        found: format!("the binary carries no dependency list ({error})"),
        hint: "build it with `cargo auditable build`".into(),
    })?;
    Ok(info
        .packages
        .iter()
        .filter(|package| package.kind == DependencyKind::Runtime)
        .map(|package| format!("{} v{}", package.name, package.version))
        .collect())
}

/// Every crate in Cargo.lock, as `name vX.Y.Z`.
fn locked_crates() -> Result<BTreeSet<String>> {
    #[derive(serde::Deserialize)]
    struct Lock {
        package: Vec<Package>,
    }
    #[derive(serde::Deserialize)]
    struct Package {
        name: String,
        version: String,
    }
    let path = repo_root().join("Cargo.lock");
    let text = std::fs::read_to_string(&path)
        .harness_with(|| format!("cannot read {}", path.display()))?;
    let lock: Lock =
        toml::from_str(&text).harness_with(|| format!("{} is not valid", path.display()))?;
    Ok(lock
        .package
        .into_iter()
        .map(|package| format!("{} v{}", package.name, package.version))
        .collect())
}

/// The Rust target a binary was built for, from its ELF header.
fn target_triple(binary: &[u8]) -> Result<String> {
    let elf = goblin::elf::Elf::parse(binary).harness("the service binary is not ELF")?;
    let arch = match elf.header.e_machine {
        goblin::elf::header::EM_X86_64 => "x86_64",
        goblin::elf::header::EM_AARCH64 => "aarch64",
        other => {
            return Err(Error::Harness(format!(
                "no Rust target known for ELF machine {}",
                goblin::elf::header::machine_to_str(other)
            )));
        }
    };
    Ok(format!("{arch}-unknown-linux-musl"))
}

/// The crates (`name vX.Y.Z`) the service runs with on `triple`: Cargo.lock's, as
/// `cargo tree` resolves them, without build-only ones (proc-macros and their own).
pub fn runtime_crates(triple: &str) -> Result<BTreeSet<String>> {
    runtime_crates_with(triple, &[])
}

/// The dependency list `cargo auditable` wrote into a binary, read with a bound on its
/// decompressed size.
fn dependency_list(
    binary: &[u8],
) -> std::result::Result<auditable_serde::VersionInfo, auditable_info::Error> {
    auditable_info::audit_info_from_slice(binary, 8 << 20)
}

/// The service's features (Cargo.toml's `[features]`) whose optional dependencies are all
/// in a binary's dependency list: the ones the binary was built with.
fn features_of(info: &auditable_serde::VersionInfo) -> Result<Vec<String>> {
    let crates: BTreeSet<&str> = info
        .packages
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    let path = repo_root().join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .harness_with(|| format!("cannot read {}", path.display()))?;
    let manifest: toml::Table =
        toml::from_str(&text).harness_with(|| format!("{} is not valid", path.display()))?;
    let features = manifest.get("features").and_then(toml::Value::as_table);
    Ok(features
        .into_iter()
        .flatten()
        .filter(|(_, enables)| {
            let deps: Vec<&str> = enables
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item.as_str()?.strip_prefix("dep:"))
                .collect();
            !deps.is_empty() && deps.iter().all(|dep| crates.contains(dep))
        })
        .map(|(name, _)| name.clone())
        .collect())
}

/// `runtime_crates`, with the service's `features` on.
fn runtime_crates_with(triple: &str, features: &[String]) -> Result<BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command.args(["tree", "--locked", "--target", triple]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command
        .current_dir(repo_root())
        .args([
            "-e",
            "normal,no-proc-macro",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .harness("cannot run `cargo tree`")?;
    if !output.status.success() {
        return Err(Error::Harness(format!(
            "`cargo tree` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect())
}

/// Step 11: `docker build --target sbom --output type=local,dest=…` exports a CycloneDX
/// SBOM that names the service's runtime crates.
pub fn exports_an_sbom(image: &Image) -> Result<Passed> {
    let folder = PrivateDir::new("sbom")?;
    let dest = folder.path().join("sbom");
    let exported = image.step.export_stage(Some(SBOM_STAGE), &dest);
    let sbom = exported.and_then(|_| read_sbom(&dest));
    drop(folder);
    let components = sbom.map_err(|error| Error::Found {
        found: format!("no SBOM from the `{SBOM_STAGE}` stage: {}", error.found()),
        hint: format!(
            "add a stage named {SBOM_STAGE} holding a CycloneDX JSON file (cargo cyclonedx \
             --format json), FROM scratch, so `--output` exports just that file"
        ),
    })?;
    let expected = runtime_crates(&format!("{}-unknown-linux-musl", std::env::consts::ARCH))?;
    let named: Vec<&String> = expected
        .iter()
        .filter(|name| !name.starts_with("ping "))
        .filter(|name| !components.contains(*name))
        .collect();
    if !named.is_empty() {
        return found(
            format!(
                "the SBOM does not name {} of the service's crates: {named:?}",
                named.len()
            ),
            "generate it from this repository's Cargo.lock, for the target the image is for",
        );
    }
    Ok(Some(format!("CycloneDX, {} components", components.len())))
}

/// The components (`name vX.Y.Z`) of the CycloneDX JSON files exported into `dir`.
pub fn read_sbom(dir: &std::path::Path) -> Result<BTreeSet<String>> {
    let mut components = BTreeSet::new();
    let mut files = 0;
    for entry in std::fs::read_dir(dir).map_err(|error| Error::Harness(format!("{error}")))? {
        let path = entry
            .map_err(|error| Error::Harness(format!("{error}")))?
            .path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if json["bomFormat"] != "CycloneDX" {
            continue;
        }
        files += 1;
        for component in json["components"].as_array().into_iter().flatten() {
            if let (Some(name), Some(version)) =
                (component["name"].as_str(), component["version"].as_str())
            {
                components.insert(format!("{name} v{version}"));
            }
        }
    }
    if files == 0 {
        return Err(Error::Harness(format!(
            "the exported files hold no CycloneDX JSON ({})",
            dir.display()
        )));
    }
    Ok(components)
}

/// The advisories the scan check writes, in a database of its own (no public one is
/// reachable from the machines the workshop is tested on): ids of their own kind, so
/// no one mistakes them for RustSec's.
const AGAINST_TOKIO: &str = "PING-2026-0001";
const TOKIO_IS_PATCHED: &str = "PING-2026-0002";
const AGAINST_AN_UNSEEN_CRATE: &str = "PING-2026-0003";
/// A crate the service cannot be built without, and whose panic messages name it.
const SCANNED_CRATE: &str = "tokio";
/// The folder the book and the scan check export the image's files into.
pub const IMAGE_FILES: &str = "image";
/// A scan of a 2 MB binary takes well under a second; this only catches a hang.
const SCAN_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Step 11: a scanner sees every crate in the binary. `cargo audit bin` is given an
/// advisory database the check writes: one advisory against Cargo.lock's tokio, one that
/// version is patched against, and one against a crate whose name the binary holds
/// nowhere but in its dependency list. Without that list cargo-audit recovers crates
/// from the paths in panic messages (tokio's are there): it must report the first and
/// the third advisory, and not the second.
pub fn cargo_audit_reads_the_binary(image: &Image) -> Result<Passed> {
    let Some(cargo_audit) = crate::docker::which("cargo-audit") else {
        return Err(Error::Harness(
            "cargo-audit is not installed: `cargo install cargo-audit --locked` \
             (`cargo workshop doctor` checks it)"
                .into(),
        ));
    };
    let (path, _) = super::the_service_binary(image)?;
    let folder = PrivateDir::new("scan")?;
    // The binary as the book gets it: the image's files exported by the step's build.
    let files = folder.path().join(IMAGE_FILES);
    image.step.export_stage(None, &files)?;
    let binary = files.join(path.trim_start_matches('/'));
    let bytes =
        std::fs::read(&binary).harness_with(|| format!("cannot read {}", binary.display()))?;
    let features = match dependency_list(&bytes) {
        Ok(info) => features_of(&info)?,
        Err(_) => Vec::new(),
    };
    let crates: Vec<(String, String)> = runtime_crates_with(&target_triple(&bytes)?, &features)?
        .into_iter()
        .filter_map(|built| {
            let (name, version) = built.split_once(" v")?;
            (name != "ping").then(|| (name.to_string(), version.to_string()))
        })
        .collect();
    let named = |name: &str| crates.iter().find(|(crate_name, _)| crate_name == name);
    let (_, tokio) = named(SCANNED_CRATE)
        .ok_or_else(|| Error::Harness(format!("the service is built without {SCANNED_CRATE}")))?;
    // Panic messages name their source file: `…/registry/src/…/tokio-1.54.1/src/…`.
    let in_the_bytes = |needle: &str| {
        bytes
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
    };
    let unseen = crates
        .iter()
        .find(|(name, version)| !in_the_bytes(&format!("{name}-{version}/")))
        .ok_or_else(|| {
            Error::Harness("every crate of the binary is named in its panic messages".into())
        })?;
    let db = folder.path().join("advisory-db");
    for (id, name, patched, title) in [
        (
            AGAINST_TOKIO,
            SCANNED_CRATE,
            format!("> {tokio}"),
            format!("{SCANNED_CRATE} {tokio} and older"),
        ),
        (
            TOKIO_IS_PATCHED,
            SCANNED_CRATE,
            format!(">= {tokio}"),
            format!("{SCANNED_CRATE} before {tokio}"),
        ),
        (
            AGAINST_AN_UNSEEN_CRATE,
            &unseen.0,
            format!("> {}", unseen.1),
            format!("{} {} and older", unseen.0, unseen.1),
        ),
    ] {
        let advisory = format!(
            "```toml\n[advisory]\nid = \"{id}\"\npackage = \"{name}\"\n\
             date = \"2026-12-02\"\n\n[versions]\npatched = [\"{patched}\"]\n```\n\n\
             # A made-up advisory against {title}\n\nWritten by the workshop's scan check, \
             so a scanner has something to find.\n"
        );
        let dir = db.join("crates").join(name);
        let file = dir.join(format!("{id}.md"));
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&file, advisory))
            .harness_with(|| format!("cannot write {}", file.display()))?;
    }
    let report = folder.path().join("report.json");
    let scan = scan_command(&db.display().to_string(), &binary.display().to_string());
    let mut command = Command::new(&cargo_audit);
    // `cargo audit …` is `cargo-audit audit …`.
    command.args(&scan[1..]);
    let run = run_to_file(command, &report, SCAN_LIMIT)?;
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        Error::Harness(format!(
            "`cargo audit bin` printed no JSON report ({error}): {}",
            run.trim()
        ))
    })?;
    let reported: BTreeSet<String> = json["vulnerabilities"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|found| {
            format!(
                "{} ({} {})",
                found["advisory"]["id"].as_str().unwrap_or("?"),
                found["package"]["name"].as_str().unwrap_or("?"),
                found["package"]["version"].as_str().unwrap_or("?")
            )
        })
        .collect();
    let expected: BTreeSet<String> = [
        format!("{AGAINST_TOKIO} ({SCANNED_CRATE} {tokio})"),
        format!("{AGAINST_AN_UNSEEN_CRATE} ({} {})", unseen.0, unseen.1),
    ]
    .into();
    let read = json["lockfile"]["dependency-count"].as_u64().unwrap_or(0);
    if reported != expected {
        let missed: Vec<&String> = expected.difference(&reported).collect();
        let wrong: Vec<&String> = reported.difference(&expected).collect();
        return found(
            format!(
                "`cargo audit bin {path}` found {read} of the {} crates the service is built \
                 from{}; it missed {missed:?}{}",
                crates.len(),
                if read < crates.len() as u64 {
                    " (without a dependency list in the binary, cargo-audit recovers what the \
                     paths in its panic messages name)"
                } else {
                    ""
                },
                if wrong.is_empty() {
                    String::new()
                } else {
                    format!(" and reported {wrong:?}, which does not affect it")
                }
            ),
            "a scanner sees every crate of a Rust binary only if the binary lists them: build \
             it with `cargo auditable build`",
        );
    }
    Ok(Some(format!(
        "cargo-audit read {read} crates from the binary and reports the advisories against \
         {SCANNED_CRATE} {tokio} and {} {} (named nowhere else in the binary), not the one \
         {tokio} is patched against",
        unseen.0, unseen.1
    )))
}

/// How the scan check runs cargo-audit on `binary`, with the advisory database in the
/// folder `db`: nothing fetched (neither the database nor crates.io's index, which the
/// yanked-crate check reads), a JSON report.
pub fn scan_command(db: &str, binary: &str) -> Vec<String> {
    [
        "cargo",
        "audit",
        "--db",
        db,
        "--no-fetch",
        "--no-yanked",
        "--json",
        "bin",
        binary,
    ]
    .map(String::from)
    .to_vec()
}

/// Runs `command` with its standard output written to `stdout` and its standard error
/// returned, stopped at `limit`.
fn run_to_file(
    mut command: Command,
    stdout: &std::path::Path,
    limit: std::time::Duration,
) -> Result<String> {
    let name = command_name(&command);
    let harness =
        |what: &str, error: std::io::Error| Error::Harness(format!("{what} {name}: {error}"));
    let file = std::fs::File::create(stdout)
        .harness_with(|| format!("cannot create {}", stdout.display()))?;
    let errors = stdout.with_extension("stderr");
    let errors_file = std::fs::File::create(&errors)
        .harness_with(|| format!("cannot create {}", errors.display()))?;
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .stderr(errors_file)
        .spawn()
        .map_err(|error| harness("cannot run", error))?;
    let started = std::time::Instant::now();
    while child
        .try_wait()
        .map_err(|error| harness("cannot wait for", error))?
        .is_none()
    {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Harness(format!(
                "{name} did not end within {} s",
                limit.as_secs()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(std::fs::read_to_string(&errors).unwrap_or_default())
}

fn command_name(command: &Command) -> String {
    command.get_program().to_string_lossy().to_string()
}

/// What mimalloc's C code writes before each of its messages: compiled into a binary
/// only with mimalloc itself, and linked only when something calls it (the global
/// allocator does).
const MIMALLOC_MARKER: &str = "mimalloc: ";

/// Step 12: the binary allocates with mimalloc: its code is linked in (its message
/// prefix is in the binary, which only its C code puts there), and where the binary
/// carries a dependency list, the list names the version.
pub fn allocates_with_mimalloc(image: &Image) -> Result<Passed> {
    let (path, bytes) = super::the_service_binary(image)?;
    let marker = MIMALLOC_MARKER.as_bytes();
    if !bytes.windows(marker.len()).any(|window| window == marker) {
        return found(
            format!("{path} holds no mimalloc code: it allocates with musl's malloc"),
            "build with the service's `mimalloc` feature (`cargo build --features mimalloc`), \
             which makes mimalloc the #[global_allocator]; its C code needs a C compiler for the \
             target",
        );
    }
    let listed = dependency_list(&bytes)
        .ok()
        .and_then(|info| {
            info.packages
                .iter()
                .find(|package| package.name == "mimalloc")
                .map(|package| format!(", mimalloc v{} in its dependency list", package.version))
        })
        .unwrap_or_default();
    Ok(Some(format!("mimalloc's code is in {path}{listed}")))
}
