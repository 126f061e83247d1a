//! Passwords: what is strong enough, and bcrypt hashing kept off the
//! request threads.
//!
//! Hashing is deliberately slow, so it runs on tokio's blocking pool behind
//! a semaphore: a login flood queues for hashing permits instead of
//! stalling the async workers that serve every other request, and cannot
//! spawn an unbounded number of hashing threads.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// bcrypt reads at most 72 bytes; longer passwords would be silently cut.
pub const MAX_BYTES: usize = 72;
pub const MIN_BYTES: usize = 10;
const MIN_DISTINCT_CHARS: usize = 5;

/// Passwords of at least ten characters that top breach lists.
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "0987654321",
    "1111111111",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "a123456789",
    "abcd123456",
    "abc1234567",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "asdfghjkl1",
    "asdfghjkl;",
    "zxcvbnm123",
    "iloveyou12",
    "iloveyou123",
    "password12",
    "password123",
    "password1234",
    "passw0rd12",
    "p@ssw0rd12",
    "p@ssword123",
    "letmein123",
    "welcome123",
    "welcome1234",
    "administrator",
    "admin12345",
    "admin123456",
    "football12",
    "baseball12",
    "basketball",
    "sunshine12",
    "princess12",
    "starwars12",
    "trustno1234",
    "superman12",
    "michael123",
    "charlie123",
    "1234qwerasdf",
    "qazwsxedcrfv",
    "q1w2e3r4t5",
    "q1w2e3r4t5y6",
    "zaq12wsxcde3",
    "changeme123",
    "default123",
    "computer12",
    "internet12",
    "whatever12",
    "dragon1234",
    "monkey1234",
    "shadow1234",
    "master1234",
    "liverpool1",
    "chelsea123",
    "123123123a",
    "1234554321",
    "9876543210",
    "aaaaaaaaaa",
    "qweasdzxc1",
];

/// Words that, padded with digits or symbols, make up most guessed passwords.
const COMMON_WORDS: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "qwerty",
    "qwertyuiop",
    "letmein",
    "welcome",
    "admin",
    "administrator",
    "iloveyou",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "starwars",
    "superman",
    "trustno1",
    "master",
    "shadow",
    "michael",
    "charlie",
    "changeme",
    "default",
    "secret",
    "login",
    "abc",
    "abcdef",
    "azerty",
    "hello",
    "test",
    "user",
    "guest",
    "root",
];

/// Runs that keyboards and alphabets make easy.
const SEQUENCES: &[&str] = &[
    "abcdefghijklmnopqrstuvwxyz",
    "zyxwvutsrqponmlkjihgfedcba",
    "01234567890",
    "09876543210",
    "qwertyuiopasdfghjklzxcvbnm",
    "mnbvcxzlkjhgfdsapoiuytrewq",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "azertyuiopqsdfghjklmwxcvbn",
];

/// Checks `password` for the account `email`. The error says everything
/// that is missing. Not covered: breach-corpus lookups (Have I Been Pwned)
/// and entropy estimation (zxcvbn); the built-in list is small.
pub fn check_strength(password: &str, email: &str) -> Result<(), String> {
    let mut missing = Vec::new();
    let len = password.len();
    if len < MIN_BYTES {
        missing.push(format!("at least {MIN_BYTES} bytes (it has {len})"));
    }
    if len > MAX_BYTES {
        missing.push(format!("at most {MAX_BYTES} bytes, bcrypt's limit (it has {len})"));
    }
    let lower = password.to_lowercase();
    let mut distinct: Vec<char> = lower.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT_CHARS {
        missing.push(format!("at least {MIN_DISTINCT_CHARS} different characters"));
    }
    if is_common(&lower) {
        missing.push("to not be a common password or a common word padded with digits or symbols".into());
    } else if len >= 4 && SEQUENCES.iter().any(|s| s.contains(lower.as_str())) {
        missing.push("to not be a keyboard or alphabet sequence".into());
    }
    let local = email.split('@').next().unwrap_or("");
    if local.chars().count() >= 3 && lower.contains(local) {
        missing.push("to not contain your email address".into());
    }
    if missing.is_empty() { Ok(()) } else { Err(format!("the password is too weak; it needs {}", missing.join(", "))) }
}

fn is_common(lower: &str) -> bool {
    if COMMON.contains(&lower) {
        return true;
    }
    // "Password123!", "!!welcome2024": a common word with non-letters around it.
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    COMMON_WORDS.contains(&core) || (core.len() >= 3 && core.chars().all(|c| c == core.chars().next().unwrap_or(c)))
}

/// Hashes and verifies passwords at a fixed cost, a bounded number at a time.
#[derive(Clone)]
pub struct Hasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// Verified against when an email is unknown, so the answer takes as
    /// long as for a known one.
    dummy: Arc<str>,
}

impl Hasher {
    pub async fn new(cost: u32, concurrency: usize) -> anyhow::Result<Self> {
        let mut hasher = Self { cost, permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy: Arc::from("") };
        let random = crate::tokens::new_refresh_token()?;
        hasher.dummy = hasher.hash(&random).await?.into();
        Ok(hasher)
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let (password, cost) = (password.to_owned(), self.cost);
        self.blocking(move || bcrypt::hash(password, cost)).await?.map_err(Into::into)
    }

    /// Whether `password` matches `hash`; with no hash (unknown user) the
    /// dummy is checked and the answer is always no.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> anyhow::Result<bool> {
        let known = hash.is_some();
        let (password, hash) = (password.to_owned(), hash.unwrap_or(&self.dummy).to_owned());
        let matched = self.blocking(move || bcrypt::verify(password, &hash)).await??;
        Ok(known && matched)
    }

    /// Whether `hash` was made at another cost and should be redone.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        hash.get(4..6).and_then(|c| c.parse::<u32>().ok()) != Some(self.cost)
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let _permit = self.permits.acquire().await?;
        Ok(tokio::task::spawn_blocking(f).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weak(p: &str) -> String {
        check_strength(p, "ada.lovelace@example.com").unwrap_err()
    }

    #[test]
    fn accepts_long_unusual_passwords() {
        for p in ["correct horse battery staple", "Tr0ub4dor&3xyz", "zoë-李-🦀-κωδικός", &"ab1!cd".repeat(12)]
        {
            assert!(check_strength(p, "ada@example.com").is_ok(), "{p}");
        }
    }

    #[test]
    fn says_what_is_missing() {
        assert!(weak("short").contains("at least 10 bytes (it has 5)"));
        assert!(weak(&"abcd".repeat(19)).contains("at most 72 bytes"));
        assert!(weak("aaaaaaaaaaaa").contains("5 different characters"));
        for p in ["password123", "Password123!", "!!Welcome2024", "qwertyuiop", "1234567890", "administrator"] {
            assert!(weak(p).contains("common"), "{p}: {}", weak(p));
        }
        assert!(weak("abcdefghijkl").contains("sequence"));
        assert!(weak("my-ada.lovelace-pw").contains("email"));
        let both = weak("pass");
        assert!(both.contains("10 bytes") && both.contains("different"), "{both}");
    }

    #[test]
    fn the_limit_is_in_bytes() {
        // 24 three-byte characters: 72 bytes, accepted; one more is refused.
        let ok: String = "李子桃梅杏柿栗梨".repeat(3);
        assert_eq!(ok.len(), 72);
        assert!(check_strength(&ok, "x@example.com").is_ok());
        assert!(check_strength(&format!("{ok}a"), "x@example.com").is_err());
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let h = Hasher::new(4, 2).await.unwrap();
        let hash = h.hash("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        assert!(h.verify("correct horse battery", Some(&hash)).await.unwrap());
        assert!(!h.verify("wrong horse battery", Some(&hash)).await.unwrap());
        assert!(!h.verify("anything", None).await.unwrap());
        assert!(!h.needs_rehash(&hash));
        assert!(Hasher::new(5, 1).await.unwrap().needs_rehash(&hash));
    }
}
