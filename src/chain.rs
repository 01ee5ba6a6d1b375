//! Building the command lines the wrappers rewrite themselves into
//! (`s6-tlsclient`, `s6-tlsserver`, `s6-tcpserver`): pure functions from
//! options to a new argv, so that tests can read them. Sibling programs
//! are named through a lookup function ([`crate::spawn::sibling`] for
//! real, the bare name in tests), which may give an argv prefix of more
//! than one word (the multicall binary run as `s6-networking <name>`).

use crate::fatal::{Fatal, Result};
use crate::options::Found;
use std::ffi::OsString;

/// How to name a sibling program: an argv prefix.
pub type Sibling<'a> = &'a dyn Fn(&str) -> Vec<OsString>;

/// An argv under construction.
#[derive(Debug, Default)]
pub struct Argv(pub Vec<OsString>);

impl Argv {
    /// Appends sibling program `name`.
    pub fn prog(&mut self, sib: Sibling, name: &str) -> &mut Self {
        self.0.extend(sib(name));
        self
    }
    pub fn arg(&mut self, a: impl Into<OsString>) -> &mut Self {
        self.0.push(a.into());
        self
    }
    /// Appends `flag value` when there is a value.
    pub fn opt(&mut self, flag: &str, v: Option<impl ToString>) -> &mut Self {
        if let Some(v) = v {
            self.0.push(flag.into());
            self.0.push(v.to_string().into());
        }
        self
    }
    pub fn flag_if(&mut self, on: bool, flag: &str) -> &mut Self {
        if on {
            self.0.push(flag.into());
        }
        self
    }
    pub fn extend(&mut self, rest: &[OsString]) -> &mut Self {
        self.0.extend(rest.iter().cloned());
        self
    }
}

/// A list of group ids as upstream writes it: numbers separated by commas
/// (an empty list is valid: no supplementary groups).
pub fn parse_gidlist(s: &str) -> Option<Vec<u32>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(',')
        .map(|g| {
            if !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()) {
                g.parse().ok()
            } else {
                None
            }
        })
        .collect()
}

/// The privilege options `-u -g -G -U`, destined for `s6-applyuidgid`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UidGid {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub gids: Option<String>,
    /// `-U`: take UID, GID and GIDLIST from the environment.
    pub from_env: bool,
}

impl UidGid {
    /// Folds in one of `u g G U`; false for any other option.
    pub fn fold(&mut self, f: &Found, usage: &str) -> Result<bool> {
        match f.key {
            "u" => self.uid = Some(f.number(usage)?),
            "g" => self.gid = Some(f.number(usage)?),
            "G" => {
                let t = f.text(usage)?;
                if parse_gidlist(&t).is_none() {
                    return Err(Fatal::usage_because(
                        usage,
                        format!("invalid group list for -G: {t}"),
                    ));
                }
                self.gids = Some(t);
            }
            "U" => {
                *self = UidGid {
                    from_env: true,
                    ..UidGid::default()
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub fn wanted(&self) -> bool {
        self.from_env || self.uid.is_some() || self.gid.is_some() || self.gids.is_some()
    }

    /// `s6-applyuidgid [ -G list ] [ -g gid ] [ -u uid ] [ -Uz ] --`, or
    /// nothing when no privilege change was asked for.
    pub fn push(&self, a: &mut Argv, sib: Sibling) {
        if !self.wanted() {
            return;
        }
        a.prog(sib, "s6-applyuidgid")
            .opt("-G", self.gids.as_ref())
            .opt("-g", self.gid)
            .opt("-u", self.uid)
            .flag_if(self.from_env, "-Uz")
            .arg("--");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gid_lists() {
        assert_eq!(parse_gidlist(""), Some(vec![]));
        assert_eq!(parse_gidlist("1,20,300"), Some(vec![1, 20, 300]));
        for bad in ["1,,2", ",1", "1,", "a", "1;2", "99999999999"] {
            assert_eq!(parse_gidlist(bad), None, "{bad:?}");
        }
    }
}
