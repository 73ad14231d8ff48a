//! BuildKit's own build checks (`docker build --check`, Dockerfile frontend 1.8 and
//! later) find nothing in any step's Dockerfile, the top-level one or the Go one: the
//! reference is what a learner's file is measured against, and a warning there would
//! teach ignoring warnings. Nothing is built; the checks only read the Dockerfiles.

use workshop::{Step, docker, repo_root};

#[test]
fn buildkits_build_checks_find_nothing_in_the_reference_dockerfiles() {
    docker::ready().unwrap_or_else(|error| panic!("{error}"));
    let mut dockerfiles = vec![
        repo_root().join("Dockerfile"),
        repo_root().join("compare/gin/Dockerfile"),
    ];
    for step in Step::all().unwrap_or_else(|error| panic!("{error}")) {
        dockerfiles.extend(step.dockerfiles());
    }
    let mut findings = Vec::new();
    for dockerfile in &dockerfiles {
        let path = dockerfile.display().to_string();
        let context = dockerfile
            .parent()
            .unwrap_or(repo_root())
            .display()
            .to_string();
        let output = docker::run(&["build", "--check", "-f", &path, &context]);
        let said = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        let verdict = said.lines().rev().find(|line| line.contains("warning"));
        println!("{path}: {}", verdict.unwrap_or("(no verdict)").trim());
        if !output.status.success() || !said.contains("no warnings found") {
            findings.push(format!("{path}:\n{said}"));
        }
    }
    assert!(dockerfiles.len() > 12, "found only {dockerfiles:?}");
    assert!(
        findings.is_empty(),
        "build checks found:\n{}",
        findings.join("\n")
    );
}
