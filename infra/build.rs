//! Rebuild when a migration is added or edited: `embed_migrations!` reads the folder at
//! compile time, and cargo would not otherwise notice a new file there.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
