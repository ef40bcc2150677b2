//! Helpers shared by the bench files in `benches/`; see `benches/README.md`.

/// Whether this run measures (`cargo bench`) rather than checks (`--test`, or `cargo test
/// --benches`, which passes no `--bench`) or lists: the same rule criterion applies. The
/// benches print their own summaries only when measuring.
pub fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|arg| arg == flag);
    let profiling = args.iter().any(|arg| arg.starts_with("--profile-time"));
    has("--bench") && !has("--test") && !has("--list") && !profiling
}
