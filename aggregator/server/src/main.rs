//! The `hitkeep` binary.

fn main() -> anyhow::Result<()> {
    hitkeep_server::main()
}
