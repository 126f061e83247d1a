//! `cargo run -p xtask -- access-table`: rewrites the README's Access table
//! from the services' declarations.

fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("access-table") => {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
            let readme = std::fs::read_to_string(path)?;
            std::fs::write(path, xtask::with_table(&readme, &xtask::access_table()?)?)?;
            println!("README.md: access table rewritten");
            Ok(())
        }
        _ => anyhow::bail!("usage: cargo run -p xtask -- access-table"),
    }
}
