//! What `s6-tlsc-io` and `s6-tlsd-io` share: reading keys, certificates
//! and trust anchors from the environment, dropping privileges, running the
//! loop, and writing the notification block when the handshake is done.

use crate::backend::{
    Backend, ClientAuth, ClientSettings, Identity, ServerSettings, TlsBackend, TlsSession,
};
use crate::fatal::{self, Fatal, Result, code};
use crate::io_loop::{self, FdPorts};
use crate::tls_options::TlsOptions;
use crate::{creds, notify_block, sys};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn trust_anchors() -> Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    creds::load_trust_anchors(env_path("CADIR").as_deref(), env_path("CAFILE").as_deref())
}

/// The identity named by `KEYFILE<suffix>` and `CERTFILE<suffix>`.
fn identity(suffix: &str) -> Result<Identity> {
    let key = env_path(&format!("KEYFILE{suffix}"))
        .ok_or_else(|| Fatal::new(code::USAGE, format!("KEYFILE{suffix} not set")))?;
    let cert = env_path(&format!("CERTFILE{suffix}"))
        .ok_or_else(|| Fatal::new(code::USAGE, format!("CERTFILE{suffix} not set")))?;
    let chain = creds::load_chain(&cert)?;
    let key = creds::load_key(&key)?;
    Ok(Identity { chain, key })
}

/// Every `KEYFILE:name`/`CERTFILE:name` pair, in a stable order.
fn sni_identities() -> Result<Vec<(String, Identity)>> {
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| {
            k.to_str()
                .and_then(|k| k.strip_prefix("KEYFILE:"))
                .map(str::to_string)
        })
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| identity(&format!(":{n}")).map(|id| (n, id)))
        .collect()
}

fn id_from_env(name: &str) -> Result<Option<u32>> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Fatal::new(code::USAGE, format!("invalid {name}: {v}"))),
    }
}

/// As root, becomes TLS_UID/TLS_GID (supplementary groups reduced to
/// TLS_GID, or none), so no network byte is handled with privileges.
fn drop_privileges() -> Result<()> {
    if !sys::is_root() {
        return Ok(());
    }
    let uid = id_from_env("TLS_UID")?;
    let gid = id_from_env("TLS_GID")?;
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    let groups: Vec<u32> = gid.into_iter().collect();
    sys::drop_privileges(uid, gid, Some(&groups)).map_err(|e| Fatal::sys("drop privileges", e))
}

/// Configures the client side from the environment (CADIR/CAFILE, and
/// KEYFILE/CERTFILE with -y).
pub fn client_session(o: &TlsOptions) -> Result<<Backend as TlsBackend>::Session> {
    // A missing CADIR/CAFILE is a usage error even with --no-verify-cert,
    // as upstream: the engine refuses to run unconfigured.
    let roots = trust_anchors()?;
    let identity = match o.client_cert {
        ClientAuth::None => None,
        _ => Some(identity("")?),
    };
    if o.server_name.is_none() && o.verbosity >= 1 {
        fatal::warn(
            "no server name given: no SNI is sent and the certificate's name is not checked",
        );
    }
    Backend::client(ClientSettings {
        roots,
        server_name: o.server_name.clone(),
        verify: o.verify,
        identity,
    })
}

/// Configures the server side from the environment (KEYFILE/CERTFILE,
/// KEYFILE:name/CERTFILE:name with -k, CADIR/CAFILE with -Y/-y).
pub fn server_session(o: &TlsOptions) -> Result<<Backend as TlsBackend>::Session> {
    let default_identity = if o.sni_level >= 2 {
        None
    } else {
        Some(identity("")?)
    };
    let sni_identities = if o.sni_level >= 1 {
        sni_identities()?
    } else {
        Vec::new()
    };
    if default_identity.is_none() && sni_identities.is_empty() {
        return Err(Fatal::new(
            code::USAGE,
            "no KEYFILE:name and CERTFILE:name pair set",
        ));
    }
    let roots = match o.client_cert {
        ClientAuth::None => Vec::new(),
        _ => trust_anchors()?,
    };
    Backend::server(ServerSettings {
        default_identity,
        sni_identities,
        sni_level: o.sni_level,
        client_auth: o.client_cert,
        roots,
    })
}

fn write_block(fd: RawFd, block: &[u8]) -> std::io::Result<()> {
    let mut rest = block;
    while !rest.is_empty() {
        match rustix::io::write(sys::fd(fd), rest) {
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                let mut p = [rustix::event::PollFd::from_borrowed_fd(
                    sys::fd(fd),
                    rustix::event::PollFlags::OUT,
                )];
                rustix::event::poll(&mut p, None)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Runs an engine over `ports` until the end; `notif` receives the
/// notification block. Returns the exit code.
pub fn run(
    mut session: impl TlsSession,
    mut ports: FdPorts,
    o: &TlsOptions,
    notif: Option<RawFd>,
) -> Result<i32> {
    drop_privileges()?;
    let settings = io_loop::Settings {
        send_close_notify: o.close_notify,
        enforce_close_notify: o.enforce_close_notify,
        handshake_timeout: (o.handshake_timeout_ms > 0)
            .then(|| Duration::from_millis(u64::from(o.handshake_timeout_ms))),
    };
    let verbosity = o.verbosity;
    let net = ports.net_in();
    let mut on_handshake = |info: &crate::backend::HandshakeInfo| -> Result<()> {
        // The peer's last handshake flight is in, and our ACK for it is
        // delayed (40 ms on Linux) unless we answer with data. A client
        // that sends its request right behind its Finished has Nagle hold
        // the request until that ACK: acknowledge now. Only a socket can;
        // on a pipe this fails, and there is nothing to do.
        let _ = rustix::net::sockopt::set_tcp_quickack(sys::fd(net), true);
        if verbosity >= 2 {
            fatal::info(format!("handshake done: {} {}", info.protocol, info.cipher));
        }
        if let Some(fd) = notif {
            let block = notify_block::encode(info, <Backend as TlsBackend>::sha256);
            // The reader may be gone (a UCSPI-TLS app that did not ask for
            // the block); the connection itself is still good.
            if let Err(e) = write_block(fd, &block)
                && verbosity >= 2
            {
                fatal::warn(format!("unable to write the notification block: {e}"));
            }
            sys::close(fd);
        }
        Ok(())
    };
    io_loop::run(&mut session, &mut ports, &settings, &mut on_handshake)?;
    Ok(code::OK)
}

/// Parses an fd number argument.
pub fn fd_arg(s: &std::ffi::OsStr, usage: &str) -> Result<RawFd> {
    s.to_str()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| Fatal::usage_because(usage, format!("invalid fd: {}", s.to_string_lossy())))
}
