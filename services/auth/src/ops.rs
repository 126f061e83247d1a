//! Operator commands of the auth binary: they work on `auth_db` directly
//! (the same `DATABASE_URL` as the server), never through the API, so the
//! first admin needs no admin and no rule such as "this email is an admin"
//! (emails are not verified).

use std::{io::Write, os::unix::fs::OpenOptionsExt, path::Path};

use anyhow::Context;

use crate::{
    Config,
    config::KeySource,
    email,
    keys::{SigningKey, generate_pem},
    password::{self, Hasher},
    store::{self, Actor, RoleChange, Store},
};

async fn store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::new(platform::db::connect(&config.common.database, &store::MIGRATOR).await?))
}

/// `auth admin create --email E`: creates the account (password from
/// `password`) unless it exists, and grants it the admin role.
pub async fn create_admin(config: &Config, raw_email: &str, password: Option<&str>) -> anyhow::Result<String> {
    let email = email::normalize(raw_email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
    let store = store(config).await?;
    let hash = match (store.user_by_email(&email).await?, password) {
        (Some(_), _) => None,
        (None, Some(p)) => {
            password::check_strength(p, &email).map_err(|m| anyhow::anyhow!("AUTH_ADMIN_PASSWORD: {m}"))?;
            Some(Hasher::new(config.passwords.bcrypt_cost, 1).await?.hash(p).await?)
        }
        (None, None) => anyhow::bail!("there is no account {email}; set AUTH_ADMIN_PASSWORD to create it"),
    };
    match store.ensure_admin(&email, hash.as_deref()).await? {
        Some(RoleChange::Done(user)) => Ok(format!("{} ({}) is an admin", user.email, user.id)),
        other => anyhow::bail!("could not make {email} an admin: {other:?}"),
    }
}

/// `auth admin grant|revoke --email E`.
pub async fn set_admin(config: &Config, raw_email: &str, grant: bool) -> anyhow::Result<String> {
    let email = email::normalize(raw_email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
    let store = store(config).await?;
    let user = store.user_by_email(&email).await?.with_context(|| format!("there is no account {email}"))?;
    match store.change_role(Actor::Operator, &user.id, authn::ADMIN, grant).await? {
        RoleChange::Done(user) => Ok(format!("{} ({}) roles: {:?}", user.email, user.id, user.roles)),
        RoleChange::LastAdmin => anyhow::bail!("{email} is the only admin; grant the role to someone else first"),
        RoleChange::NoSuchUser => anyhow::bail!("there is no account {email}"),
    }
}

/// `auth rotate-key [--out PATH]`: writes a new signing key (to `out`, else
/// over `AUTH_SIGNING_KEY_FILE`) and announces its public half, so every
/// verifier can know it before its first token. auth signs with it from its
/// next start; the previous key stays published until its tokens expire.
pub async fn rotate_key(config: &Config, out: Option<&Path>) -> anyhow::Result<String> {
    let target = match (out, &config.tokens.key) {
        (Some(path), _) => path.to_path_buf(),
        (None, KeySource::File(path)) => path.clone(),
        (None, _) => anyhow::bail!("rotate-key writes the new key to AUTH_SIGNING_KEY_FILE or to --out PATH; set one"),
    };
    let pem = generate_pem()?;
    let key = SigningKey::from_pem(pem.as_bytes())?;
    store(config).await?.announce_signing_key(&key.public()).await?;
    // Written beside the target and renamed over it: readers see the old key or the new, never half.
    let tmp = target.with_extension("pem.new");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &target).with_context(|| format!("replacing {}", target.display()))?;
    Ok(format!(
        "wrote a new signing key (kid {}) to {}; restart auth to sign with it. Tokens signed with the previous \
         key stay valid until they expire ({} s after the restart at most)",
        key.kid(),
        target.display(),
        (config.tokens.access_ttl + config.tokens.expected.leeway).as_secs()
    ))
}
