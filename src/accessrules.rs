//! s6's access rules: which client may connect, and with what environment
//! and program, looked up in a directory tree or in a cdb compiled from it.
//!
//! A rule lives under a key such as `ip4/192.168.0.0_16`,
//! `ip6/2001:db8::_32` or `reversedns/example.com`. In a rules directory
//! the key is a path: `rulesdir/ip4/192.168.0.0_16/` holding a file `allow`
//! or `deny`, and with `allow`, optionally an envdir `env/` (one file per
//! variable: the first line is the value, trailing blanks trimmed; an empty
//! file unsets the variable) and a file `exec` (a command line that
//! replaces prog).
//!
//! In a cdb (s6-accessrules-cdb-from-fs) the key is the same string and the
//! data is, as upstream lays it out:
//!
//! - deny: the single byte `D`;
//! - allow: `A`, a 16-bit big-endian length `envlen`, `envlen` bytes of
//!   environment edits, a 16-bit big-endian length `execlen`, `execlen`
//!   bytes of exec; `envlen` and `execlen` are at most 4096. The edits
//!   are `NAME=value\0` (set) or `NAME\0` (unset), one after another.
//!
//! A client address is checked from the most specific prefix to the least:
//! `ip4/a.b.c.d_32` down to `ip4/0.0.0.0_0`, or `ip6/<addr>_128` down to
//! `ip6/::_0` (addresses written in lowercase with the longest run of two or
//! more zero groups shortened to `::`, the first if several are as long, and
//! no dotted-quad tail, as skalibs writes them). An IPv4-mapped IPv6 address
//! is checked as the IPv4 address it carries. A host name is checked from the
//! whole name down to its last label, then `reversedns/@`.

use crate::cdb;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Longest env or exec part of a rule, as upstream.
pub const MAX_PART: usize = 4096;
/// Longest value read from one envdir file, as skalibs' envdir.
const MAX_VAR: usize = 4095;

/// One change to the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEdit {
    pub name: Vec<u8>,
    /// `None` unsets the variable.
    pub value: Option<Vec<u8>>,
}

/// What an `allow` rule carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allow {
    pub env: Vec<EnvEdit>,
    /// The `exec` file's bytes, if it is there and not empty.
    pub exec: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    Allow(Allow),
    Deny,
}

/// Why a lookup failed: the rule set cannot be read or is damaged.
#[derive(Debug)]
pub struct Error {
    pub what: String,
    pub reason: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.reason)
    }
}

fn err(what: impl Into<String>, reason: impl fmt::Display) -> Error {
    Error {
        what: what.into(),
        reason: reason.to_string(),
    }
}

/// Normalises an IPv4-mapped IPv6 address to the IPv4 address it carries.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// An IPv6 address as skalibs' ip6_fmt writes it.
pub fn fmt_ip6(ip: &Ipv6Addr) -> String {
    let g = ip.segments();
    // The longest run of at least two zero groups, the first of equal ones.
    let (mut best, mut best_len) = (8, 0);
    let mut i = 0;
    while i < 8 {
        if g[i] == 0 {
            let start = i;
            while i < 8 && g[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best = 8;
    }
    let mut s = String::new();
    let mut i = 0;
    while i < 8 {
        if i == best {
            s.push_str(if i == 0 { "::" } else { ":" });
            i += best_len;
            continue;
        }
        s.push_str(&format!("{:x}", g[i]));
        if i < 7 {
            s.push(':');
        }
        i += 1;
    }
    s
}

/// The keys to try for a client address, most specific first.
pub fn ip_keys(ip: IpAddr) -> Vec<String> {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let a = u32::from(v4);
            (0..=32u32)
                .rev()
                .map(|len| {
                    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                    format!("ip4/{}_{len}", Ipv4Addr::from(a & mask))
                })
                .collect()
        }
        IpAddr::V6(v6) => {
            let a = u128::from(v6);
            (0..=128u32)
                .rev()
                .map(|len| {
                    let mask = if len == 0 {
                        0
                    } else {
                        u128::MAX << (128 - len)
                    };
                    format!("ip6/{}_{len}", fmt_ip6(&Ipv6Addr::from(a & mask)))
                })
                .collect()
        }
    }
}

/// The keys to try for a host name: the name, each shorter suffix after a
/// dot, then `reversedns/@`. A trailing dot is ignored. A suffix holding a
/// `/`, or that is `.` or `..`, is skipped (the resolver may pass on
/// whatever a PTR record holds): as a path under a rules directory it
/// would name another rule or a file outside, and no rules directory, nor
/// a cdb compiled from one, can hold it as a key.
pub fn reversedns_keys(name: &str) -> Vec<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut keys = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        if !rest.contains('/') && rest != "." && rest != ".." {
            keys.push(format!("reversedns/{rest}"));
        }
        rest = match rest.find('.') {
            Some(dot) => &rest[dot + 1..],
            None => "",
        };
    }
    keys.push("reversedns/@".to_string());
    keys
}

/// Encodes edits as upstream's `NAME=value\0` / `NAME\0` list.
pub fn encode_env(env: &[EnvEdit]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in env {
        out.extend_from_slice(&e.name);
        if let Some(v) = &e.value {
            out.push(b'=');
            out.extend_from_slice(v);
        }
        out.push(0);
    }
    out
}

pub fn decode_env(bytes: &[u8]) -> Result<Vec<EnvEdit>, &'static str> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let body = bytes
        .strip_suffix(&[0])
        .ok_or("environment not terminated by a null byte")?;
    Ok(body
        .split(|&b| b == 0)
        .map(|item| match item.iter().position(|&b| b == b'=') {
            Some(eq) => EnvEdit {
                name: item[..eq].to_vec(),
                value: Some(item[eq + 1..].to_vec()),
            },
            None => EnvEdit {
                name: item.to_vec(),
                value: None,
            },
        })
        .collect())
}

/// A rule as cdb data.
pub fn encode_rule(rule: &Rule) -> Result<Vec<u8>, &'static str> {
    match rule {
        Rule::Deny => Ok(vec![b'D']),
        Rule::Allow(a) => {
            let env = encode_env(&a.env);
            let exec = a.exec.as_deref().unwrap_or_default();
            if env.len() > MAX_PART {
                return Err("environment too big (over 4096 bytes)");
            }
            if exec.len() > MAX_PART {
                return Err("exec too big (over 4096 bytes)");
            }
            let mut v = vec![b'A'];
            v.extend_from_slice(&(env.len() as u16).to_be_bytes());
            v.extend_from_slice(&env);
            v.extend_from_slice(&(exec.len() as u16).to_be_bytes());
            v.extend_from_slice(exec);
            Ok(v)
        }
    }
}

/// Reads cdb data as a rule. `Ok(None)`: a record that is neither allow
/// nor deny, which upstream treats as no rule.
pub fn decode_rule(data: &[u8]) -> Result<Option<Rule>, &'static str> {
    match data.first() {
        None => Err("empty rule"),
        Some(b'D') => Ok(Some(Rule::Deny)),
        Some(b'A') => {
            if data.len() < 5 {
                return Err("allow rule too short");
            }
            let envlen = usize::from(u16::from_be_bytes([data[1], data[2]]));
            if envlen > MAX_PART || 5 + envlen > data.len() {
                return Err("bad environment length in allow rule");
            }
            let env = &data[3..3 + envlen];
            let execlen = usize::from(u16::from_be_bytes([data[3 + envlen], data[4 + envlen]]));
            if execlen > MAX_PART || 5 + envlen + execlen != data.len() {
                return Err("bad exec length in allow rule");
            }
            let exec = &data[5 + envlen..];
            Ok(Some(Rule::Allow(Allow {
                env: decode_env(env)?,
                exec: (!exec.is_empty()).then(|| exec.to_vec()),
            })))
        }
        Some(_) => Ok(None),
    }
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
    )
}

/// Does `p` exist? Missing or forbidden: no; any other failure (a file
/// where a directory should be, say) is an error.
fn exists(p: &Path) -> Result<bool, Error> {
    match std::fs::metadata(p) {
        Ok(_) => Ok(true),
        Err(e) if is_missing(&e) => Ok(false),
        Err(e) => Err(err(format!("access {}", p.display()), e)),
    }
}

/// Reads an envdir as skalibs' envdir does: entries starting with a dot or
/// holding `=` are skipped; a file's first line, trailing spaces, tabs and
/// CRs removed, null bytes read as newlines, is the value; an empty file
/// unsets the variable. Entries come back sorted by name. `Ok(None)`: there
/// is no such directory.
pub fn read_envdir(dir: &Path) -> Result<Option<Vec<EnvEdit>>, Error> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(format!("open envdir {}", dir.display()), e)),
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| err(format!("read envdir {}", dir.display()), e))?;
        let name = entry.file_name().into_vec();
        if name.first() == Some(&b'.') || name.contains(&b'=') {
            continue;
        }
        names.push(name);
    }
    names.sort();
    let mut edits = Vec::new();
    for name in names {
        let path = dir.join(std::ffi::OsStr::from_bytes(&name));
        let bytes =
            read_prefix(&path, MAX_VAR).map_err(|e| err(format!("read {}", path.display()), e))?;
        let value = if bytes.is_empty() {
            None
        } else {
            let mut line = match bytes.iter().position(|&b| b == b'\n') {
                Some(nl) => bytes[..nl].to_vec(),
                None => bytes,
            };
            while matches!(line.last(), Some(b' ' | b'\t' | b'\r')) {
                line.pop();
            }
            for b in line.iter_mut() {
                if *b == 0 {
                    *b = b'\n';
                }
            }
            Some(line)
        };
        edits.push(EnvEdit { name, value });
    }
    Ok(Some(edits))
}

/// At most `max` bytes from the start of a file.
fn read_prefix(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut v = Vec::new();
    std::fs::File::open(path)?
        .take(max as u64)
        .read_to_end(&mut v)?;
    Ok(v)
}

/// Reads the rule under `dir` (a key's directory). `Ok(None)`: neither
/// `allow` nor `deny` is there.
pub fn read_rule_dir(dir: &Path) -> Result<Option<Rule>, Error> {
    if !exists(&dir.join("allow"))? {
        return Ok(exists(&dir.join("deny"))?.then_some(Rule::Deny));
    }
    let env = read_envdir(&dir.join("env"))?.unwrap_or_default();
    let exec_path = dir.join("exec");
    let exec = match read_prefix(&exec_path, MAX_PART) {
        Ok(b) => (!b.is_empty()).then_some(b),
        Err(e) if is_missing(&e) => None,
        Err(e) => return Err(err(format!("read {}", exec_path.display()), e)),
    };
    Ok(Some(Rule::Allow(Allow { env, exec })))
}

/// Where the rules are.
pub enum Rules {
    Dir(PathBuf),
    Cdb(cdb::Reader<Vec<u8>>),
}

impl Rules {
    /// Opens a cdb rules file, reading it whole.
    pub fn open_cdb(path: &Path) -> Result<Rules, Error> {
        let bytes = std::fs::read(path)
            .map_err(|e| err(format!("read rules file {}", path.display()), e))?;
        let r = cdb::Reader::new(bytes)
            .map_err(|e| err(format!("use rules file {}", path.display()), e))?;
        Ok(Rules::Cdb(r))
    }

    /// The rule stored under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Rule>, Error> {
        match self {
            Rules::Dir(d) => read_rule_dir(&d.join(key)),
            Rules::Cdb(c) => match c.get(key.as_bytes()) {
                Ok(None) => Ok(None),
                Ok(Some(data)) => decode_rule(data).map_err(|e| err(format!("key {key}"), e)),
                Err(e) => Err(err(format!("key {key}"), e)),
            },
        }
    }

    /// The first rule found for any of `keys`, tried in order.
    pub fn first(&self, keys: &[String]) -> Result<Option<(String, Rule)>, Error> {
        for k in keys {
            if let Some(r) = self.get(k)? {
                return Ok(Some((k.clone(), r)));
            }
        }
        Ok(None)
    }
}

/// Every rule of a rules directory, as (key, rule), the way
/// s6-accessrules-cdb-from-fs reads it: each entry of `dir` not starting
/// with a dot is a directory of keys; each of its entries not starting with
/// a dot is a key. A key with neither `allow` nor `deny` is reported in the
/// second list and left out.
#[allow(clippy::type_complexity)]
pub fn read_tree(dir: &Path) -> Result<(Vec<(String, Rule)>, Vec<String>), Error> {
    let mut rules = Vec::new();
    let mut skipped = Vec::new();
    for class in sorted_entries(dir)? {
        let class_dir = dir.join(&class);
        for key in sorted_entries(&class_dir)? {
            let name = format!("{class}/{key}");
            match read_rule_dir(&class_dir.join(&key))? {
                Some(rule) => rules.push((name, rule)),
                None => skipped.push(name),
            }
        }
    }
    Ok((rules, skipped))
}

fn sorted_entries(dir: &Path) -> Result<Vec<String>, Error> {
    let rd = std::fs::read_dir(dir).map_err(|e| err(format!("opendir {}", dir.display()), e))?;
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| err(format!("readdir {}", dir.display()), e))?;
        let name = entry.file_name();
        let name = name.into_string().map_err(|n| {
            err(
                format!("readdir {}", dir.display()),
                format!("name {n:?} is not UTF-8"),
            )
        })?;
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Applies `edits` in order to a list of `NAME=value` pairs (later edits win).
pub fn env_edits_to_os(edits: &[EnvEdit]) -> Vec<(OsString, Option<OsString>)> {
    edits
        .iter()
        .map(|e| {
            (
                OsString::from_vec(e.name.clone()),
                e.value.clone().map(OsString::from_vec),
            )
        })
        .collect()
}

/// A name for a temporary file or directory beside `target`, unique
/// enough with the pid, the time and `attempt`:
/// `target:<tag>:<suffix>`, as upstream names its temporary files.
pub fn temp_beside(target: &Path, tag: &str, attempt: u32) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut name = target.as_os_str().to_os_string();
    name.push(format!(":{tag}:{}{nanos:x}{attempt}", std::process::id()));
    PathBuf::from(name)
}

/// Is `key` safe to use as a path under a rules directory: relative, no
/// empty, `.` or `..` component?
pub fn key_is_safe(key: &[u8]) -> bool {
    !key.is_empty()
        && key
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// Writes `rule` as a key directory under `dir` (which exists): `allow` or
/// `deny`, `env/` and `exec`, the way s6-accessrules-fs-from-cdb does.
pub fn write_rule_dir(dir: &Path, rule: Option<&Rule>) -> io::Result<()> {
    match rule {
        None => Ok(()),
        Some(Rule::Deny) => std::fs::write(dir.join("deny"), b""),
        Some(Rule::Allow(a)) => {
            std::fs::write(dir.join("allow"), b"")?;
            if !a.env.is_empty() {
                let envdir = dir.join("env");
                std::fs::create_dir_all(&envdir)?;
                for e in &a.env {
                    if e.name.is_empty() || e.name.contains(&b'/') || e.name[0] == b'.' {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "invalid variable name in the environment",
                        ));
                    }
                    let mut content = Vec::new();
                    if let Some(v) = &e.value {
                        content.extend_from_slice(v);
                        content.push(b'\n');
                    }
                    std::fs::write(envdir.join(std::ffi::OsStr::from_bytes(&e.name)), content)?;
                }
            }
            if let Some(x) = &a.exec {
                std::fs::write(dir.join("exec"), x)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip4_keys_go_from_32_to_0() {
        let k = ip_keys("192.168.1.77".parse().unwrap());
        assert_eq!(k.len(), 33);
        assert_eq!(k[0], "ip4/192.168.1.77_32");
        assert_eq!(k[1], "ip4/192.168.1.76_31");
        assert_eq!(k[8], "ip4/192.168.1.0_24");
        assert_eq!(k[16], "ip4/192.168.0.0_16");
        assert_eq!(k[31], "ip4/128.0.0.0_1");
        assert_eq!(k[32], "ip4/0.0.0.0_0");
    }

    #[test]
    fn mapped_addresses_are_checked_as_ipv4() {
        let k = ip_keys("::ffff:127.0.0.1".parse().unwrap());
        assert_eq!(k[0], "ip4/127.0.0.1_32");
        assert_eq!(k.len(), 33);
    }

    #[test]
    fn ip6_keys_use_skalibs_text() {
        let k = ip_keys("::1".parse().unwrap());
        assert_eq!(k.len(), 129);
        assert_eq!(k[0], "ip6/::1_128");
        assert_eq!(k[1], "ip6/::_127");
        assert_eq!(k[128], "ip6/::_0");
        let k = ip_keys("2001:db8:0:0:1:0:0:1".parse().unwrap());
        assert_eq!(k[0], "ip6/2001:db8::1:0:0:1_128");
        assert_eq!(k[64], "ip6/2001:db8::_64");
        assert_eq!(k[96], "ip6/2001:db8::_32");
        assert_eq!(k[112], "ip6/2001::_16");
    }

    #[test]
    fn ip6_text_edge_cases() {
        let f = |s: &str| fmt_ip6(&s.parse().unwrap());
        assert_eq!(f("::"), "::");
        assert_eq!(f("1::"), "1::");
        assert_eq!(f("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
        assert_eq!(f("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(f("1:0:0:2:3:0:0:4"), "1::2:3:0:0:4");
        assert_eq!(f("fe80::abcd"), "fe80::abcd");
        assert_eq!(f("::ffff:0:0"), "::ffff:0:0");
        assert_eq!(f("::1.2.3.4"), "::102:304");
        assert_eq!(f("ABCD::"), "abcd::");
    }

    #[test]
    fn reversedns_keys_shorten_to_at() {
        assert_eq!(
            reversedns_keys("foo.bar.com."),
            vec![
                "reversedns/foo.bar.com",
                "reversedns/bar.com",
                "reversedns/com",
                "reversedns/@"
            ]
        );
        assert_eq!(
            reversedns_keys("localhost"),
            vec!["reversedns/localhost", "reversedns/@"]
        );
    }

    /// Found by the access_rules fuzz target: a host name holding a `/`
    /// made keys that, as paths, left their place in the rules directory
    /// (`reversedns/../ip4/10.0.0.1_32` is another client's rule).
    #[test]
    fn reversedns_keys_never_escape_the_rules_directory() {
        let crash = String::from_utf8_lossy(&[61, 61, 255, 47]).into_owned();
        assert_eq!(reversedns_keys(&crash), vec!["reversedns/@"]);
        assert_eq!(
            reversedns_keys("../ip4/10.0.0.1_32"),
            vec![
                "reversedns/0.0.1_32",
                "reversedns/0.1_32",
                "reversedns/1_32",
                "reversedns/@"
            ]
        );
        assert_eq!(
            reversedns_keys("evil/x.example.com"),
            vec!["reversedns/example.com", "reversedns/com", "reversedns/@"]
        );
        for name in ["..", ".", "...", "a/", "/etc", "a//b.c", "x/../../etc"] {
            for k in reversedns_keys(name) {
                assert!(key_is_safe(k.as_bytes()), "{k:?} from {name:?}");
                assert_eq!(k.matches('/').count(), 1, "{k:?} from {name:?}");
            }
        }
    }

    #[test]
    fn rule_encoding_is_upstreams() {
        assert_eq!(encode_rule(&Rule::Deny).unwrap(), b"D");
        let a = Rule::Allow(Allow {
            env: vec![
                EnvEdit {
                    name: b"FOO".to_vec(),
                    value: Some(b"bar".to_vec()),
                },
                EnvEdit {
                    name: b"GONE".to_vec(),
                    value: None,
                },
            ],
            exec: Some(b"echo hi\n".to_vec()),
        });
        let bytes = encode_rule(&a).unwrap();
        assert_eq!(bytes, b"A\x00\x0dFOO=bar\x00GONE\x00\x00\x08echo hi\n");
        assert_eq!(decode_rule(&bytes).unwrap(), Some(a));
        assert_eq!(
            decode_rule(b"A\0\0\0\0").unwrap(),
            Some(Rule::Allow(Allow::default()))
        );
        assert_eq!(decode_rule(b"Dxyz").unwrap(), Some(Rule::Deny));
        assert_eq!(decode_rule(b"X").unwrap(), None);
    }

    #[test]
    fn envdir_reads_like_skalibs() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("A"), b"first \t\r\nsecond\n").unwrap();
        std::fs::write(d.join("B"), b"").unwrap();
        std::fs::write(d.join("C"), b"x\0y").unwrap();
        std::fs::write(d.join(".hidden"), b"no").unwrap();
        std::fs::write(d.join("D=E"), b"no").unwrap();
        std::fs::write(d.join("L"), vec![b'l'; 5000]).unwrap();
        let got = read_envdir(d).unwrap().unwrap();
        let names: Vec<_> = got.iter().map(|e| e.name.clone()).collect();
        assert_eq!(
            names,
            vec![b"A".to_vec(), b"B".to_vec(), b"C".to_vec(), b"L".to_vec()]
        );
        assert_eq!(got[0].value.as_deref(), Some(&b"first"[..]));
        assert_eq!(got[1].value, None);
        assert_eq!(got[2].value.as_deref(), Some(&b"x\ny"[..]));
        assert_eq!(got[3].value.as_ref().map(Vec::len), Some(4095));
        assert!(read_envdir(&d.join("missing")).unwrap().is_none());
        assert!(
            read_envdir(&d.join("A")).is_err(),
            "a file is not an envdir"
        );
    }

    #[test]
    fn keys_that_would_escape_are_unsafe() {
        for bad in [
            &b""[..],
            b"/etc",
            b"../x",
            b"ip4/..",
            b"a//b",
            b"./a",
            b"a/",
        ] {
            assert!(!key_is_safe(bad), "{bad:?}");
        }
        assert!(key_is_safe(b"ip6/::1_128"));
        assert!(key_is_safe(b"reversedns/@"));
    }

    #[test]
    fn bad_rule_data_is_an_error() {
        for bad in [
            &b""[..],
            b"A",
            b"A\0\0\0",
            b"A\0\x05ab\0\0",
            b"A\0\0\0\x05ab",
            b"A\0\0\0\0extra",
            b"A\x10\x01",
            b"A\0\x01a\0\0",
        ] {
            assert!(decode_rule(bad).is_err(), "{bad:?}");
        }
    }
}
