//! Checks of what an image says about what it is built from: the dependency list
//! embedded in its binary, and the SBOM its build exports.

use std::collections::BTreeSet;
use std::process::Command;

use auditable_serde::DependencyKind;

use super::super::error::{Error, Result, found};
use super::super::files::PrivateDir;
use super::super::image::Image;
use super::super::repo_root;
use super::Passed;

/// The stage a step's build exports its SBOM from.
pub const SBOM_STAGE: &str = "sbom";

/// Step 11: the service binary carries its dependency list (`cargo auditable`): every
/// crate the service is built from, at Cargo.lock's version, and nothing Cargo.lock
/// does not have.
pub fn embeds_its_dependency_list(image: &Image) -> Result<Passed> {
    let (path, bytes) = super::the_service_binary(image)?;
    let info = match auditable_info::audit_info_from_slice(&bytes, 8 << 20) {
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
    let built = runtime_crates(&triple)?;
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
        .map_err(|error| Error::Harness(format!("cannot read {}: {error}", path.display())))?;
    let lock: Lock = toml::from_str(&text)
        .map_err(|error| Error::Harness(format!("{} is not valid: {error}", path.display())))?;
    Ok(lock
        .package
        .into_iter()
        .map(|package| format!("{} v{}", package.name, package.version))
        .collect())
}

/// The Rust target a binary was built for, from its ELF header.
fn target_triple(binary: &[u8]) -> Result<String> {
    let elf = goblin::elf::Elf::parse(binary)
        .map_err(|error| Error::Harness(format!("the service binary is not ELF: {error}")))?;
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
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .current_dir(repo_root())
        .args(["tree", "--locked", "--target", triple])
        .args([
            "-e",
            "normal,no-proc-macro",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .map_err(|error| Error::Harness(format!("cannot run `cargo tree`: {error}")))?;
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
    let exported = image.step.export_stage(SBOM_STAGE, &dest);
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
fn read_sbom(dir: &std::path::Path) -> Result<BTreeSet<String>> {
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
