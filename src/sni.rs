//! Picking the server's certificate from the client's SNI, the same way on
//! every backend.
//!
//! `-k 0`: always KEYFILE/CERTFILE. `-k 1`: a `KEYFILE:name` pair matching
//! the requested name, else KEYFILE/CERTFILE. `-k 2` and up: a matching pair
//! or nothing (the handshake fails).

/// Does `pattern` (a host name, or `*.` followed by one) match `name`?
/// A wildcard stands for exactly one leftmost label and never for a label
/// directly under a top-level domain (`*.com` matches nothing).
pub fn matches(pattern: &str, name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if let Some(parent) = pattern.strip_prefix("*.") {
        if !parent.contains('.') {
            return false;
        }
        match name.split_once('.') {
            Some((label, rest)) => {
                !label.is_empty() && !label.contains('*') && rest.eq_ignore_ascii_case(parent)
            }
            None => false,
        }
    } else {
        pattern.eq_ignore_ascii_case(name)
    }
}

/// Index into `names` of the pair to use for `requested`, exact names
/// before wildcards; `None` means the default identity (or, when the
/// caller has none, failure).
pub fn select<'a>(
    requested: Option<&str>,
    names: impl Iterator<Item = &'a str> + Clone,
) -> Option<usize> {
    let requested = requested?;
    let exact = names
        .clone()
        .position(|p| !p.starts_with("*.") && matches(p, requested));
    exact.or_else(|| {
        names
            .clone()
            .position(|p| p.starts_with("*.") && matches(p, requested))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_case_insensitive() {
        assert!(matches("www.example.com", "WWW.Example.com"));
        assert!(matches("www.example.com", "www.example.com."));
        assert!(!matches("www.example.com", "example.com"));
    }

    #[test]
    fn one_level_wildcard() {
        assert!(matches("*.example.com", "a.example.com"));
        assert!(!matches("*.example.com", "a.b.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("*.example.com", ".example.com"));
        assert!(!matches("*.com", "example.com"));
    }

    #[test]
    fn exact_names_win_over_wildcards() {
        let names = ["*.example.com", "b.example.com", "other.org"];
        assert_eq!(
            select(Some("b.example.com"), names.iter().copied()),
            Some(1)
        );
        assert_eq!(
            select(Some("c.example.com"), names.iter().copied()),
            Some(0)
        );
        assert_eq!(select(Some("nothing.net"), names.iter().copied()), None);
        assert_eq!(select(None, names.iter().copied()), None);
    }
}
