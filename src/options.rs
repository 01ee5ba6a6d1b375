//! Upstream's option grammar, table-driven.
//!
//! Short flags group (`-SJ`), a short option's value may be glued (`-K5000`)
//! or be the next argument, long options take `--name=value` or
//! `--name value`, and parsing stops at `--` or at the first argument that
//! is not an option, so `prog...` is handed on untouched. Options come back
//! in command-line order, so when a program folds them into its settings
//! the last of two contradicting flags wins, as upstream.

use crate::fatal::{Fatal, Result};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// One option: `names` is a space-separated list whose one-letter entries
/// are short names and longer entries long names; the first entry is the
/// key the option is reported under.
#[derive(Clone, Copy, Debug)]
pub struct Opt {
    pub names: &'static str,
    pub takes_value: bool,
}

impl Opt {
    pub const fn flag(names: &'static str) -> Opt {
        Opt {
            names,
            takes_value: false,
        }
    }
    pub const fn value(names: &'static str) -> Opt {
        Opt {
            names,
            takes_value: true,
        }
    }
    pub fn key(&self) -> &'static str {
        self.names.split(' ').next().unwrap_or("")
    }
    fn has_short(&self, c: u8) -> bool {
        self.names
            .split(' ')
            .any(|n| n.len() == 1 && n.as_bytes()[0] == c)
    }
    fn has_long(&self, name: &[u8]) -> bool {
        self.names
            .split(' ')
            .any(|n| n.len() > 1 && n.as_bytes() == name)
    }
}

/// One option found on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub key: &'static str,
    pub value: Option<OsString>,
}

impl Found {
    /// The value as UTF-8 text.
    pub fn text(&self, usage: &str) -> Result<String> {
        let v = self.value.as_deref().unwrap_or_default();
        v.to_str()
            .map(str::to_string)
            .ok_or_else(|| Fatal::usage_because(usage, format!("invalid value for -{}", self.key)))
    }

    /// The value as an unsigned decimal number.
    pub fn number<T: std::str::FromStr>(&self, usage: &str) -> Result<T> {
        let t = self.text(usage)?;
        let bad = || Fatal::usage_because(usage, format!("invalid number for -{}: {t}", self.key));
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    }
}

/// The options found, and the arguments after them.
#[derive(Debug)]
pub struct Parsed {
    pub found: Vec<Found>,
    pub rest: Vec<OsString>,
}

/// Parses `args` (without argv\[0\]) against `table`. `usage` is the line
/// shown when the command line is wrong.
pub fn parse(args: &[OsString], table: &[Opt], usage: &str) -> Result<Parsed> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_bytes();
        if arg == b"--" {
            i += 1;
            break;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            break;
        }
        i += 1;
        if let Some(long) = arg.strip_prefix(b"--") {
            let (name, glued) = match long.iter().position(|&b| b == b'=') {
                Some(eq) => (&long[..eq], Some(&long[eq + 1..])),
                None => (long, None),
            };
            let shown = String::from_utf8_lossy(name);
            let opt = table
                .iter()
                .find(|o| o.has_long(name))
                .ok_or_else(|| Fatal::usage_because(usage, format!("unknown option --{shown}")))?;
            let value = match (opt.takes_value, glued) {
                (false, None) => None,
                (false, Some(_)) => {
                    return Err(Fatal::usage_because(
                        usage,
                        format!("option --{shown} takes no value"),
                    ));
                }
                (true, Some(v)) => Some(OsStr::from_bytes(v).to_os_string()),
                (true, None) => {
                    let v = args.get(i).ok_or_else(|| {
                        Fatal::usage_because(usage, format!("option --{shown} needs a value"))
                    })?;
                    i += 1;
                    Some(v.clone())
                }
            };
            found.push(Found {
                key: opt.key(),
                value,
            });
            continue;
        }
        let mut j = 1;
        while j < arg.len() {
            let c = arg[j];
            j += 1;
            let opt = table.iter().find(|o| o.has_short(c)).ok_or_else(|| {
                Fatal::usage_because(
                    usage,
                    format!("unknown option -{}", String::from_utf8_lossy(&[c])),
                )
            })?;
            if !opt.takes_value {
                found.push(Found {
                    key: opt.key(),
                    value: None,
                });
                continue;
            }
            let value = if j < arg.len() {
                let v = OsStr::from_bytes(&arg[j..]).to_os_string();
                j = arg.len();
                v
            } else {
                let v = args.get(i).ok_or_else(|| {
                    Fatal::usage_because(usage, format!("option -{} needs a value", c as char))
                })?;
                i += 1;
                v.clone()
            };
            found.push(Found {
                key: opt.key(),
                value: Some(value),
            });
        }
    }
    Ok(Parsed {
        found,
        rest: args[i..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Opt] = &[
        Opt::flag("S close-notify"),
        Opt::flag("s no-close-notify"),
        Opt::flag("J enforce-close-notify"),
        Opt::value("K handshake-timeout"),
        Opt::value("k servername"),
        Opt::flag("no-verify-cert"),
    ];

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn keys(p: &Parsed) -> Vec<(&str, Option<String>)> {
        p.found
            .iter()
            .map(|f| {
                (
                    f.key,
                    f.value.as_ref().map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn grouped_flags_and_glued_value() {
        let p = parse(&args(&["-SJK5000", "prog", "-S"]), TABLE, "u").unwrap();
        assert_eq!(
            keys(&p),
            vec![("S", None), ("J", None), ("K", Some("5000".into()))]
        );
        assert_eq!(p.rest, args(&["prog", "-S"]));
    }

    #[test]
    fn value_as_next_argument_and_long_forms() {
        let p = parse(
            &args(&[
                "-k",
                "example.org",
                "--handshake-timeout=7",
                "--servername",
                "a",
                "--",
                "-x",
            ]),
            TABLE,
            "u",
        )
        .unwrap();
        assert_eq!(
            keys(&p),
            vec![
                ("k", Some("example.org".into())),
                ("K", Some("7".into())),
                ("k", Some("a".into()))
            ]
        );
        assert_eq!(p.rest, args(&["-x"]));
    }

    #[test]
    fn order_is_kept_so_last_wins() {
        let p = parse(&args(&["-S", "--no-close-notify", "x"]), TABLE, "u").unwrap();
        assert_eq!(keys(&p), vec![("S", None), ("s", None)]);
    }

    #[test]
    fn lone_dash_is_an_argument() {
        let p = parse(&args(&["-S", "-", "y"]), TABLE, "u").unwrap();
        assert_eq!(p.rest, args(&["-", "y"]));
    }

    #[test]
    fn errors_are_usage_errors() {
        for bad in [
            &["-X"][..],
            &["-K"],
            &["--nope"],
            &["--close-notify=1"],
            &["--servername"],
        ] {
            let e = parse(&args(bad), TABLE, "u").unwrap_err();
            assert_eq!(e.code, 100, "{bad:?}");
            assert!(e.usage.is_some());
            assert!(!e.msg.is_empty());
        }
    }

    #[test]
    fn numbers_are_checked() {
        let p = parse(&args(&["-K", "12x"]), TABLE, "u").unwrap();
        assert_eq!(p.found[0].number::<u32>("u").unwrap_err().code, 100);
        let p = parse(&args(&["-K99999999999"]), TABLE, "u").unwrap();
        assert!(p.found[0].number::<u32>("u").is_err());
        let p = parse(&args(&["-K", "250"]), TABLE, "u").unwrap();
        assert_eq!(p.found[0].number::<u32>("u").unwrap(), 250);
    }
}
