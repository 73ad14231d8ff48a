//! The Rust version the workshop is written for is written once, in the service's
//! Cargo.toml (`rust-version`): the harness reads it from there at compile time.

fn main() {
    let manifest = "../Cargo.toml";
    println!("cargo::rerun-if-changed={manifest}");
    let text = std::fs::read_to_string(manifest).expect("read the service's Cargo.toml");
    let version = text
        .lines()
        .find_map(|line| line.strip_prefix("rust-version"))
        .and_then(|rest| rest.split('"').nth(1))
        .expect("the service's Cargo.toml names its rust-version");
    println!("cargo::rustc-env=PING_RUST_VERSION={version}");
}
