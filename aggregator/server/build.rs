//! Rebuilds the binary when the dashboard's build output changes: rust-embed reads
//! `web/dist` with `include_bytes!`, which tells cargo about the files it read but not about
//! files added to or removed from the folder (each `npm run build` renames the hashed ones).

fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
}
