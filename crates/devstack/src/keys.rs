//! auth's development signing key: an Ed25519 private key in PKCS#8 PEM,
//! generated into the data directory on first run and kept, so tokens
//! issued before a restart still verify after it.

use std::{io::Write, os::unix::fs::OpenOptionsExt, path::Path};

use anyhow::Context;

/// Writes a new key to `path` unless one is there. Returns whether it made one.
pub fn ensure(path: &Path) -> anyhow::Result<bool> {
    if path.is_file() {
        return Ok(false);
    }
    // auth's own generator: the key is exactly the form auth reads.
    let pem = auth::keys::generate_pem()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(pem.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_pkcs8_ed25519_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        assert!(ensure(&path).unwrap());
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(!ensure(&path).unwrap(), "an existing key is kept");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
        let mode = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);

        // auth loads it as its signing key.
        auth::keys::SigningKey::from_pem(first.as_bytes()).unwrap();
    }
}
