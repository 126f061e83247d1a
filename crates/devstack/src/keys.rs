//! Local secrets, made once in the data directory and kept: auth's signing
//! key (an Ed25519 private key in PKCS#8 PEM), so tokens issued before a
//! restart still verify after it, and each service's client secret, with
//! the list of their hashes auth is configured with.

use std::{io::Write, os::unix::fs::OpenOptionsExt, path::Path};

use anyhow::Context;

/// Writes a new key to `path` unless one is there. Returns whether it made one.
pub fn ensure(path: &Path) -> anyhow::Result<bool> {
    if path.is_file() {
        return Ok(false);
    }
    // The generator auth itself uses: the key is exactly the form auth reads.
    let pem = authn::keys::generate_pem().map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    write_new(path, pem.as_bytes())?;
    Ok(true)
}

/// Makes each service's client secret unless it exists; `AUTH_CLIENTS` for
/// them: `<service>:<hex SHA-256 of its secret>`, comma-separated.
pub fn ensure_clients(data_dir: &Path, services: &[&str]) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let mut entries = Vec::new();
    for service in services {
        let path = crate::services::client_secret_file(data_dir, service);
        if !path.is_file() {
            std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
            write_new(&path, random_text::<32>()?.as_bytes())?;
        }
        let secret = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let hash: String = Sha256::digest(secret.trim().as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        entries.push(format!("{service}:{hash}"));
    }
    Ok(entries.join(","))
}

/// `N` random bytes from the kernel, base64url without padding.
pub fn random_text<const N: usize>() -> anyhow::Result<String> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))?;
    Ok(base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes))
}

/// Creates `path` (which must not exist) readable by its owner only.
pub fn write_new(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents).with_context(|| format!("writing {}", path.display()))
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

        // An Ed25519 private key in PKCS#8 PEM, which is what auth loads.
        jsonwebtoken::EncodingKey::from_ed_pem(first.as_bytes()).unwrap();
    }

    #[test]
    fn client_secrets_are_made_once_and_listed_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let clients = ensure_clients(dir.path(), &["greeter", "gateway"]).unwrap();
        assert_eq!(clients, ensure_clients(dir.path(), &["greeter", "gateway"]).unwrap(), "kept");
        let secret = std::fs::read_to_string(dir.path().join("clients/greeter.secret")).unwrap();
        assert_eq!(secret.len(), 43);
        // AUTH_CLIENTS' form: <id>:<lowercase hex SHA-256 of the secret>, comma-separated.
        use sha2::Digest;
        let hex: String = sha2::Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let entries: Vec<&str> = clients.split(',').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], format!("greeter:{hex}"));
        assert!(entries[1].starts_with("gateway:") && entries[1].len() == "gateway:".len() + 64);
        assert!(!clients.contains(&secret), "auth is given hashes, never secrets");
    }
}
