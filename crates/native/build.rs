//! Rebuilds the embedded migrations when a file is added to `migrations/`
//! (`include_str!` alone only notices changes to files already embedded).

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
