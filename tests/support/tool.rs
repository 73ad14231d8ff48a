//! How the workshop tool (examples/workshop) is typed: the spellings every message,
//! the book and the tool's own help use. Learners' commands go through the cargo
//! alias in .cargo/config.toml; the instructors' are grouped under `instructor`.

pub const CHECK: &str = "cargo workshop check";
pub const PROGRESS: &str = "cargo workshop progress";
pub const DOCTOR: &str = "cargo workshop doctor";
/// Regenerates every generated file of the book, named in every staleness message.
pub const GENERATE: &str = "cargo run --example workshop -- instructor generate";
/// Measures the steps and writes results.json.
pub const MEASURE: &str = "cargo run --release --example workshop -- instructor measure";
/// Measures our final image beside the article's Go service, in one run.
pub const COMPARE: &str = "cargo run --release --example workshop -- instructor compare";
