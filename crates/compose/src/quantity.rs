//! Kubernetes quantities (services.toml's `resources`) as Compose limits.

/// CPU: `"500m"` -> `0.5`, `"2"` -> `2`.
pub(crate) fn cpus(value: &str) -> Result<f64, String> {
    let parsed = match value.strip_suffix('m') {
        Some(milli) => milli.parse::<u32>().ok().map(|m| f64::from(m) / 1000.0),
        None => value.parse::<f64>().ok(),
    };
    match parsed {
        Some(cpus) if cpus > 0.0 && cpus.is_finite() => Ok(cpus),
        _ => Err("expected a CPU count such as \"500m\" or \"1\"".to_owned()),
    }
}

/// Memory in bytes: `"128Mi"` -> 134217728. Binary and decimal suffixes,
/// which Compose's byte values cannot all express, so bytes it is.
pub(crate) fn bytes(value: &str) -> Result<u64, String> {
    const UNITS: &[(&str, u64)] = &[
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    let (number, unit) =
        UNITS.iter().find_map(|(suffix, unit)| value.strip_suffix(suffix).map(|n| (n, *unit))).unwrap_or((value, 1));
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| "expected a whole amount such as \"128Mi\" or \"1Gi\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_memory_quantities() {
        assert_eq!(cpus("500m"), Ok(0.5));
        assert_eq!(cpus("1"), Ok(1.0));
        assert_eq!(cpus("1.5"), Ok(1.5));
        for bad in ["", "0", "-1", "abc", "5x", "0m"] {
            assert!(cpus(bad).is_err(), "{bad}");
        }
        assert_eq!(bytes("128Mi"), Ok(128 << 20));
        assert_eq!(bytes("1Gi"), Ok(1 << 30));
        assert_eq!(bytes("500M"), Ok(500_000_000));
        assert_eq!(bytes("1024"), Ok(1024));
        for bad in ["", "0Mi", "1.5Gi", "12Xi", "Mi"] {
            assert!(bytes(bad).is_err(), "{bad}");
        }
    }
}
